//! Agent mode (`steward agent`): collects this host like `serve` does and pushes a heartbeat to
//! the hub every interval. Nothing listens on the agent unless `agent.metrics_listen` asks for
//! its own `/metrics`. Each heartbeat goes to the disk buffer first ([`super::buffer`]); a
//! sender sends the buffer oldest first and deletes a heartbeat only when the hub answered that
//! it committed it. While the hub is down or slow the collector goes on and the sender retries with backoff (1 s doubling to 60 s). With `docker.enabled`
//! each heartbeat also carries the host's container counts (total, running, unhealthy).
//!
//! Fleet actions come back in the hub's answers; [`super::runner`] runs those the config's
//! `agent.allow_actions` names (each once) and its reports ride in the next heartbeats, along
//! with the names of the host's unhealthy containers.
//!
//! With `agent.metrics_listen` the agent also serves its own `/metrics` ([`super::agent_metrics`]).
//! With `[remote_write]` it also sends each round's samples (as the hub would store them) to
//! Prometheus-compatible storage itself, under `remote_write.host`.
//!
//! On SIGTERM the agent drains: it collects one last heartbeat with the status `draining` (the
//! hub then knows the host stops on purpose and does not raise `heartbeat_stale` for it), gives
//! the sender `agent.drain_secs` to deliver what is buffered, and leaves the rest on disk for the
//! next start.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::fleet::action::ActionOrder;
use app::fleet::{AgentStatus, ContainerCounts};
use app::models::GpuReport;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::agent_metrics::{self, AgentMetrics};
use super::buffer::{Buffer, BufferError};
use super::heartbeat::{self, ActionNews, BufferReport};
use super::runner::{self, Reports, RunnerConfig};
use crate::config::Config;
use crate::docker::{parse_counts, parse_list, parse_unhealthy, resolve_host, DockerClient};
use crate::models::gpu::GpuReader;
use crate::remote_write::RemoteWriter;
use crate::vitals::collector::VitalsCollector;
use app::shared::clock::now_ms;

/// The agent API's heartbeat route (under the guard's agent prefix).
pub const HEARTBEAT_PATH: &str = "/api/v1/agent/heartbeat";
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("agent.hub (or --hub) must be an http:// or https:// URL (got {0:?})")]
    Hub(String),
    #[error("cannot read the agent token from {path}: {source}")]
    Token {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the agent token file {0} is empty")]
    EmptyToken(PathBuf),
    #[error(transparent)]
    Buffer(#[from] BufferError),
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("the hub refused the heartbeat ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("cannot reach the hub: {0}")]
    Unreachable(String),
    #[error("{failed} of {total} hubs failed the check:\n{lines}")]
    SomeHubs {
        failed: usize,
        total: usize,
        lines: String,
    },
    #[error("collection failed: {0}")]
    Collect(String),
    #[error("remote write: {0}")]
    RemoteWrite(#[from] crate::remote_write::RemoteWriteError),
    #[error("cannot serve /metrics on {addr} (agent.metrics_listen): {source}")]
    Metrics {
        addr: String,
        source: std::io::Error,
    },
}

/// What the hub answered to one delivery.
#[derive(Debug, PartialEq)]
pub enum Delivery {
    /// Committed (HTTP 200), with the fields it dropped or clamped and the actions to run.
    Acked {
        rejected: Vec<String>,
        clamped: Vec<String>,
        orders: Vec<ActionOrder>,
    },
    /// Refused for good (400, 413): resending would not help.
    Refused { status: u16, message: String },
    /// Not now (401/403 until the token is fixed, 429, 5xx, timeouts, refused connections).
    Retry(String),
}

struct Sender {
    client: reqwest::Client,
    /// Every hub replica's heartbeat URL; deliveries go to `current` until it fails.
    urls: Vec<String>,
    current: AtomicUsize,
    token: String,
}

/// The heartbeat URLs of `hub`: one base URL, or several (hub replicas) separated by commas.
fn heartbeat_urls(hub: &str) -> Result<Vec<String>, AgentError> {
    hub.split(',')
        .map(|h| {
            let h = h.trim().trim_end_matches('/');
            if h.starts_with("http://") || h.starts_with("https://") {
                Ok(format!("{h}{HEARTBEAT_PATH}"))
            } else {
                Err(AgentError::Hub(hub.to_string()))
            }
        })
        .collect()
}

impl Sender {
    fn new(config: &Config) -> Result<Self, AgentError> {
        let urls = heartbeat_urls(&config.agent.hub)?;
        let path = &config.agent.token_file;
        let token = std::fs::read_to_string(path)
            .map_err(|source| AgentError::Token {
                path: path.clone(),
                source,
            })?
            .trim()
            .to_string();
        if token.is_empty() {
            return Err(AgentError::EmptyToken(path.clone()));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.agent.timeout_secs))
            .user_agent(concat!("steward-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AgentError::Client(e.without_url().to_string()))?;
        Ok(Self {
            client,
            urls,
            current: AtomicUsize::new(0),
            token,
        })
    }

    /// Where the next delivery goes.
    fn url(&self) -> &str {
        &self.urls[self.current.load(Ordering::Relaxed) % self.urls.len()]
    }

    /// The hub in use cannot take heartbeats now: the next delivery goes to the next replica
    /// (the buffer keeps what was not acked, so nothing is lost in the move).
    fn fail_over(&self, why: &str) {
        if self.urls.len() > 1 {
            let from = self.url().to_string();
            self.current.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "agent: {from} failed ({why}); next delivery to {}",
                self.url()
            );
        }
    }

    /// Sends one heartbeat body (gzip-compressed) and reads the answer.
    async fn send(&self, body: &[u8]) -> Delivery {
        let gz = match gzip(body) {
            Ok(gz) => gz,
            Err(e) => return Delivery::Retry(format!("cannot compress: {e}")),
        };
        let r = self
            .client
            .post(self.url())
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gz)
            .send()
            .await;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                let why = e.without_url().to_string();
                self.fail_over(&why);
                return Delivery::Retry(why);
            }
        };
        let status = r.status().as_u16();
        if status >= 500 {
            self.fail_over(&format!("HTTP {status}"));
        }
        let text = r.text().await.unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let message = json["error"].as_str().unwrap_or(&text).to_string();
        let list = |k: &str| -> Vec<String> {
            json[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        match status {
            200 => Delivery::Acked {
                rejected: list("rejected"),
                clamped: list("clamped"),
                orders: orders(&json),
            },
            400 | 413 | 415 | 422 => Delivery::Refused { status, message },
            _ => Delivery::Retry(format!("HTTP {status}: {message}")),
        }
    }
}

/// The actions in an answer; one this agent cannot read is skipped and said (a newer hub's).
fn orders(answer: &serde_json::Value) -> Vec<ActionOrder> {
    let Some(list) = answer["actions"].as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|v| match serde_json::from_value(v.clone()) {
            Ok(o) => Some(o),
            Err(e) => {
                tracing::warn!("agent: the hub sent an action this agent cannot read ({e}): {v}");
                None
            }
        })
        .collect()
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(body)?;
    enc.finish()
}

/// Docker as the agent sees it: one container list a round, counted (`docker::parse_counts`).
/// The client is kept across rounds and dropped after a failure, so the next round reconnects.
struct Containers {
    host: String,
    timeout: Duration,
    client: Option<DockerClient>,
    last_error: Option<String>,
}

impl Containers {
    /// `None` when `docker.enabled` is off: the heartbeat then carries no container counts.
    /// A hung engine may delay a heartbeat by at most one interval, never more.
    fn new(config: &Config) -> Option<Self> {
        let secs = config
            .docker
            .call_timeout_secs
            .min(config.agent.interval_secs);
        config.docker.enabled.then(|| Self {
            host: resolve_host(&config.docker.host),
            timeout: Duration::from_secs(secs),
            client: None,
            last_error: None,
        })
    }

    /// This round's containers, or the reason Docker could not be read (logged once per
    /// reason).
    async fn read(&mut self) -> Result<Listed, String> {
        let listed = async {
            let client = match &self.client {
                Some(c) => c.clone(),
                None => {
                    let c = DockerClient::connect(&self.host, self.timeout).await?;
                    self.client = Some(c.clone());
                    c
                }
            };
            client.list().await
        }
        .await;
        match listed {
            Ok(list) => {
                if self.last_error.take().is_some() {
                    tracing::info!("agent: Docker answers again; container counts resume");
                }
                Ok(Listed {
                    counts: parse_counts(&list),
                    unhealthy: parse_unhealthy(&list),
                    containers: parse_list(&list),
                })
            }
            Err(e) => {
                self.client = None;
                let message = e.to_string();
                if self.last_error.as_deref() != Some(message.as_str()) {
                    tracing::warn!("agent: no container counts in heartbeats: {message}");
                    self.last_error = Some(message.clone());
                }
                Err(message)
            }
        }
    }
}

/// One container list, read three ways: counted, the unhealthy names, the host page's rows.
struct Listed {
    counts: ContainerCounts,
    unhealthy: Vec<String>,
    containers: Vec<app::fleet::HostContainer>,
}

/// What a round read from Docker: the counts, unhealthy names and rows, or why there are none
/// (the heartbeat then says so: "Docker not readable" is not "no Docker").
#[derive(Default)]
struct DockerRead {
    counts: Option<ContainerCounts>,
    unhealthy: Vec<String>,
    containers: Vec<app::fleet::HostContainer>,
    error: Option<String>,
}

impl DockerRead {
    /// `None`: `docker.enabled` is off.
    fn of(read: Option<&Result<Listed, String>>) -> Self {
        match read {
            None => Self::default(),
            Some(Ok(l)) => Self {
                counts: Some(l.counts),
                unhealthy: l.unhealthy.clone(),
                containers: l.containers.clone(),
                error: None,
            },
            Some(Err(e)) => Self {
                error: Some(e.clone()),
                ..Self::default()
            },
        }
    }
}

/// What a heartbeat says of actions: those the config allows and the reports (its unhealthy
/// names are added from the round's [`DockerRead`]).
fn news(config: &Config, reports: Vec<app::fleet::action::ActionReport>) -> ActionNews {
    ActionNews {
        unhealthy: Vec::new(),
        allowed: config.agent.allow_actions.clone(),
        reports,
    }
}

/// What the agent reads on its host each round: the vitals, the GPUs and the model servers of
/// `[[models.backends]]` (the same readers and checks `serve` uses).
#[derive(Clone)]
struct HostReaders {
    vitals: Arc<Mutex<VitalsCollector>>,
    gpus: GpuReader,
    models: Option<Arc<tokio::sync::Mutex<crate::models::ModelsCollector>>>,
}

impl HostReaders {
    fn new(config: &Config) -> Self {
        let models = (!config.models.backends.is_empty()).then(|| {
            let service =
                crate::models::ModelsService::new(config.models.clone(), config.paths.clone());
            Arc::new(tokio::sync::Mutex::new(
                crate::models::ModelsCollector::new(Arc::new(service)),
            ))
        });
        Self {
            vitals: Arc::new(Mutex::new(VitalsCollector::new(config))),
            gpus: GpuReader::default(),
            models,
        }
    }

    /// Checks the model servers (each call bounded by its backend's `timeout_secs`, a failing
    /// one skipped while its breaker is open).
    async fn check_models(&self) -> Vec<app::fleet::HostBackend> {
        match &self.models {
            Some(m) => m
                .lock()
                .await
                .check_backends()
                .await
                .iter()
                .map(app::fleet::HostBackend::of)
                .collect(),
            None => Vec::new(),
        }
    }
}

/// One collected round as the agent sends it.
struct Round {
    collected_ms: i64,
    body: Vec<u8>,
    heartbeat: heartbeat::Heartbeat,
    vitals: app::vitals::Vitals,
    gpus: GpuReport,
}

/// Collects one round on a blocking thread and words it as a heartbeat body.
async fn collect(
    readers: &HostReaders,
    seq: u64,
    status: AgentStatus,
    docker: DockerRead,
    report: BufferReport,
    mut news: ActionNews,
    config: &Config,
) -> Result<Round, AgentError> {
    let r = readers.clone();
    let (gpus_on, paths) = (config.models.gpus, config.paths.clone());
    let blocking = tokio::task::spawn_blocking(move || {
        let vitals = r
            .vitals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .collect_once()
            .map_err(|e| e.to_string());
        (vitals, r.gpus.read(gpus_on, &paths))
    });
    // The model servers are asked while the host is read.
    let (read, models) = tokio::join!(blocking, readers.check_models());
    let (collected, gpus) = read.map_err(|e| AgentError::Collect(e.to_string()))?;
    let collected = collected.map_err(AgentError::Collect)?;
    news.unhealthy = docker.unhealthy;
    let mut hb = heartbeat::from_vitals(
        &collected.vitals,
        seq,
        status,
        &config.score.disk_mount,
        docker.counts,
        report,
        news,
    )
    .with_gpus(&gpus);
    hb.containers_error = docker.error;
    hb.container_list = docker.containers;
    hb.models = models;
    let body = serde_json::to_vec(&hb).map_err(|e| AgentError::Collect(e.to_string()))?;
    Ok(Round {
        collected_ms: hb.collected_ms,
        body,
        heartbeat: hb,
        vitals: collected.vitals,
        gpus,
    })
}

/// `--check`'s line about the model servers.
fn models_line(models: &[app::fleet::HostBackend]) -> String {
    if models.is_empty() {
        return "Model servers: none configured ([[models.backends]])".into();
    }
    let each: Vec<String> = models
        .iter()
        .map(|m| {
            let mut s = format!("{} {}", m.name, m.state.as_str());
            if let Some(e) = &m.error {
                s.push_str(&format!(" ({e})"));
            } else if !m.loaded.is_empty() {
                s.push_str(&format!(" ({} loaded)", m.loaded.join(", ")));
            }
            s
        })
        .collect();
    format!("Model servers: {}", each.join(", "))
}

/// `--check`'s line about the GPUs.
fn gpu_line(report: &GpuReport) -> String {
    match report {
        GpuReport::Ok { gpus } => format!(
            "GPUs: {}",
            gpus.iter()
                .map(|g| format!("{} {}", g.index, g.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        GpuReport::Error { message, .. } => {
            format!("GPUs: not readable, heartbeats say so: {message}")
        }
        GpuReport::None { detail } => detail.clone(),
        GpuReport::Starting => "GPUs: not read".into(),
    }
}

/// `steward agent --check`: one heartbeat, sent at once (not buffered); says what the hub said.
pub async fn check(config: &Config) -> Result<String, AgentError> {
    let sender = Sender::new(config)?;
    let readers = HostReaders::new(config);
    let docker = match Containers::new(config) {
        Some(mut c) => Some(c.read().await),
        None => None,
    };
    let round = collect(
        &readers,
        0,
        AgentStatus::Ready,
        DockerRead::of(docker.as_ref()),
        BufferReport::default(),
        news(config, Vec::new()),
        config,
    )
    .await?;
    let gpus = gpu_line(&round.gpus);
    let models = models_line(&round.heartbeat.models);
    let docker = match docker {
        None => "Docker: off (docker.enabled = false)".to_string(),
        Some(Ok(Listed {
            counts: n,
            unhealthy: names,
            ..
        })) => format!(
            "Docker: {} containers, {} running, {} unhealthy{}",
            n.total,
            n.running,
            n.unhealthy,
            if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", names.join(", "))
            }
        ),
        Some(Err(e)) => format!("Docker: not readable, heartbeats carry no container counts: {e}"),
    };
    let allowed = match config.agent.allow_actions.as_slice() {
        [] => "Fleet actions: none allowed (agent.allow_actions)".to_string(),
        kinds => format!(
            "Fleet actions allowed: {}",
            kinds.iter().map(|k| k.key()).collect::<Vec<_>>().join(", ")
        ),
    };
    // The check's heartbeat has seq 0 and is not buffered: orders in its answer are left for
    // the running agent, which gets them again. Every replica listed is checked: the agent
    // fails over only to hubs that take its token.
    let total = sender.urls.len();
    let mut lines = Vec::with_capacity(total);
    let mut failures = Vec::new();
    for i in 0..total {
        sender.current.store(i, Ordering::Relaxed);
        let url = sender.url().to_string();
        match sender.send(&round.body).await {
            Delivery::Acked {
                rejected, clamped, ..
            } => lines.push(format!(
                "ok: {url} took the heartbeat ({} fields dropped, {} clamped)",
                rejected.len(),
                clamped.len()
            )),
            Delivery::Refused { status, message } => {
                lines.push(format!(
                    "failed: {url} refused the heartbeat ({status}): {message}"
                ));
                failures.push(AgentError::Refused { status, message });
            }
            Delivery::Retry(m) => {
                lines.push(format!("failed: cannot reach {url}: {m}"));
                failures.push(AgentError::Unreachable(m));
            }
        }
    }
    match failures.len() {
        0 => Ok(format!(
            "{}\n{docker}\n{gpus}\n{models}\n{allowed}",
            lines.join("\n")
        )),
        1 if total == 1 => Err(failures.remove(0)),
        failed => Err(AgentError::SomeHubs {
            failed,
            total,
            lines: lines.join("\n"),
        }),
    }
}

/// Runs the agent until cancelled.
pub async fn run(config: Config, cancel: CancellationToken) -> Result<(), AgentError> {
    let sender = Sender::new(&config)?;
    let dir = config
        .agent
        .buffer_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("agent-buffer"));
    let buffer = Arc::new(Mutex::new(Buffer::open(
        &dir,
        config.agent.buffer_max_bytes,
        config.agent.buffer_max_age_secs as i64 * 1000,
    )?));
    tracing::info!(
        "agent: sending to {} every {} s; buffer {} ({} waiting)",
        sender.urls.join(", "),
        config.agent.interval_secs,
        dir.display(),
        lock(&buffer).queued()
    );
    let metrics = Arc::new(AgentMetrics::default());
    let metrics_stop = CancellationToken::new();
    if let Some(addr) = &config.agent.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| AgentError::Metrics {
                addr: addr.clone(),
                source,
            })?;
        tracing::info!("agent: /metrics on http://{addr}/metrics");
        tokio::spawn(agent_metrics::serve(
            listener,
            metrics.clone(),
            buffer.clone(),
            metrics_stop.clone(),
        ));
    }
    let (remote, remote_task) = match config.remote_write.url.as_str() {
        "" => (None, None),
        url => {
            let writer = RemoteWriter::new(&config.remote_write)?;
            let _ = metrics.remote_write.set(writer.clone());
            let host = remote_host(&config);
            tracing::info!("agent: remote write to {url} as host {host:?}");
            // Nothing shows an agent's collector lines; the writer logs its changes.
            let task = tokio::spawn(writer.clone().run(
                Arc::new(crate::platform::bus::Bus::new()),
                metrics_stop.clone(),
            ));
            (Some(OwnSamples { writer, host }), Some(task))
        }
    };
    let wake = Arc::new(Notify::new());
    let drain = CancellationToken::new();
    let stop = CancellationToken::new();
    let reports = Reports::default();
    let (orders_tx, orders_rx) = mpsc::channel(64);
    let runner_task = tokio::spawn(runner::run(
        RunnerConfig {
            allowed: config.agent.allow_actions.clone(),
            docker_enabled: config.docker.enabled,
            docker_host: resolve_host(&config.docker.host),
            call_timeout: Duration::from_secs(config.docker.call_timeout_secs),
            stop_timeout: Duration::from_secs(config.docker.stop_timeout_secs),
            seen_file: dir.join("actions-seen"),
        },
        reports.clone(),
        orders_rx,
    ));
    let mut send_task = tokio::spawn(send_loop(
        sender,
        buffer.clone(),
        wake.clone(),
        orders_tx,
        metrics.clone(),
        drain.clone(),
        stop.clone(),
    ));
    let readers = HostReaders::new(&config);
    let mut containers = Containers::new(&config);
    let outputs = Outputs {
        buffer: &buffer,
        reports: &reports,
        metrics: &metrics,
        remote: remote.as_ref(),
    };
    let mut tick = tokio::time::interval(config.agent.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        collect_and_buffer(
            &readers,
            &mut containers,
            &outputs,
            AgentStatus::Ready,
            &config,
        )
        .await;
        wake.notify_one();
    }

    // Draining: the last heartbeat says so, then the sender empties the buffer or runs out of
    // time; whatever is left stays on disk and goes first at the next start.
    collect_and_buffer(
        &readers,
        &mut containers,
        &outputs,
        AgentStatus::Draining,
        &config,
    )
    .await;
    drain.cancel();
    wake.notify_one();
    let limit = Duration::from_secs(config.agent.drain_secs);
    if tokio::time::timeout(limit, &mut send_task).await.is_err() {
        stop.cancel();
        let _ = send_task.await;
    }
    // An action still running stops here; the hub marks it expired when no report comes.
    runner_task.abort();
    metrics_stop.cancel();
    // The writer sends what it still holds (a few seconds at most) before the agent exits.
    if let Some(task) = remote_task {
        let _ = task.await;
    }
    let left = lock(&buffer).queued();
    if left == 0 {
        tracing::info!("agent: drained, every heartbeat delivered");
    } else {
        tracing::warn!(
            "agent: stopping with {left} heartbeats undelivered after {} s; they stay in the buffer for the next start",
            config.agent.drain_secs
        );
    }
    Ok(())
}

/// Collects one round with `status` and puts it in the buffer; failures are logged (the next
/// round tries again).
async fn collect_and_buffer(
    readers: &HostReaders,
    containers: &mut Option<Containers>,
    outputs: &Outputs<'_>,
    status: AgentStatus,
    config: &Config,
) {
    let Outputs {
        buffer,
        reports,
        metrics,
        remote,
    } = *outputs;
    let (seq, report) = {
        let b = lock(buffer);
        (
            b.next_seq(),
            BufferReport {
                queued: b.queued(),
                dropped_total: b.dropped_total(),
            },
        )
    };
    let read = match containers {
        Some(c) => Some(c.read().await),
        None => None,
    };
    let docker = DockerRead::of(read.as_ref());
    let counts = docker.counts;
    let sent = reports.snapshot();
    let news = news(config, sent.clone());
    match collect(readers, seq, status, docker, report, news, config).await {
        Ok(round) => {
            metrics.collected(
                &round.vitals,
                &config.score.disk_mount,
                counts,
                round.heartbeat.containers_error.as_deref(),
                round.gpus.gpus(),
                config.agent.interval_secs,
            );
            match lock(buffer).push(round.collected_ms, &round.body, now_ms()) {
                Ok(_) => reports.buffered(&sent),
                Err(e) => tracing::error!("agent: heartbeat not buffered: {e}"),
            }
            if let Some(own) = remote {
                own.writer.push(crate::remote_write::Entry {
                    host: own.host.clone(),
                    group: None,
                    samples: own_samples(round.heartbeat, config),
                });
            }
        }
        Err(e) => tracing::error!("agent: {e}"),
    }
}

/// Where a collected round goes: the buffer (and the reports it carries), the agent's own
/// `/metrics`, and its remote write when configured.
#[derive(Clone, Copy)]
struct Outputs<'a> {
    buffer: &'a Arc<Mutex<Buffer>>,
    reports: &'a Reports,
    metrics: &'a AgentMetrics,
    remote: Option<&'a OwnSamples>,
}

/// The agent's own remote write: the writer and the `host` label.
struct OwnSamples {
    writer: Arc<RemoteWriter>,
    host: Arc<str>,
}

/// `remote_write.host`, else the machine's host name (from the configured procfs).
fn remote_host(config: &Config) -> Arc<str> {
    let name = match config.remote_write.host.trim() {
        "" => crate::platform::host_name(&config.paths.procfs).unwrap_or_default(),
        h => h.to_string(),
    };
    Arc::from(if name.is_empty() {
        "unknown"
    } else {
        name.as_str()
    })
}

/// The samples the hub would store from this heartbeat: the hub's own validation (the GPU
/// readings become their series, out-of-range values clamped or dropped), without its clock
/// window, so the agent's and the hub's remote copies are the same series.
fn own_samples(hb: heartbeat::Heartbeat, config: &Config) -> Vec<crate::store::history::Sample> {
    let unbounded = heartbeat::Limits {
        clock_skew_ms: i64::MAX,
        max_age_ms: i64::MAX,
    };
    match heartbeat::validate(hb, "", now_ms(), unbounded, &config.thresholds) {
        Ok(a) => a.samples(),
        Err(e) => {
            tracing::warn!("agent: samples not written: {e}");
            Vec::new()
        }
    }
}

/// Sends the buffer oldest first. Once `drain` is cancelled it returns as soon as the buffer is
/// empty; `stop` ends it at once (an answer still on its way is not waited for: the heartbeat
/// stays buffered and is sent again at the next start, its samples landing on the same keys).
async fn send_loop(
    sender: Sender,
    buffer: Arc<Mutex<Buffer>>,
    wake: Arc<Notify>,
    orders: mpsc::Sender<ActionOrder>,
    metrics: Arc<AgentMetrics>,
    drain: CancellationToken,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_secs(1);
    let mut last_error: Option<String> = None;
    loop {
        let next = lock(&buffer).oldest();
        let (seq, body) = match next {
            Ok(Some(item)) => item,
            Ok(None) if drain.is_cancelled() => return,
            Ok(None) => {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = wake.notified() => continue,
                }
            }
            Err(e) => {
                tracing::error!("agent: {e}");
                if sleep_or_cancel(backoff, &stop).await {
                    return;
                }
                continue;
            }
        };
        let outcome = tokio::select! {
            _ = stop.cancelled() => return,
            d = sender.send(&body) => d,
        };
        match outcome {
            Delivery::Acked {
                rejected,
                clamped,
                orders: new,
            } => {
                for order in new {
                    // A full queue is fine: the hub sends the order again until it hears back.
                    if orders.try_send(order).is_err() {
                        tracing::warn!("agent: action queue full; the hub will send it again");
                    }
                }
                metrics.acked.fetch_add(1, Ordering::Relaxed);
                metrics.last_ack_ms.store(now_ms(), Ordering::Relaxed);
                if last_error.take().is_some() {
                    tracing::info!("agent: the hub takes heartbeats again");
                }
                for r in rejected.iter().chain(&clamped) {
                    tracing::warn!("agent: the hub adjusted {r}");
                }
                backoff = Duration::from_secs(1);
                if let Err(e) = lock(&buffer).remove(seq) {
                    tracing::error!("agent: {e}");
                }
            }
            Delivery::Refused { status, message } => {
                metrics.refused.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    "agent: heartbeat {seq} refused for good ({status}): {message}; dropped"
                );
                if let Err(e) = lock(&buffer).drop_refused(seq) {
                    tracing::error!("agent: {e}");
                }
            }
            Delivery::Retry(message) => {
                metrics.failed.fetch_add(1, Ordering::Relaxed);
                if last_error.as_deref() != Some(message.as_str()) {
                    tracing::warn!(
                        "agent: heartbeat {seq} not delivered ({message}); keeping it, retrying with backoff"
                    );
                    last_error = Some(message);
                }
                if sleep_or_cancel(backoff, &stop).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Sleeps; true when cancelled first.
async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

fn lock(b: &Arc<Mutex<Buffer>>) -> std::sync::MutexGuard<'_, Buffer> {
    b.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hub_or_several_replicas() {
        assert_eq!(
            heartbeat_urls("https://hub.example.org/").unwrap(),
            ["https://hub.example.org/api/v1/agent/heartbeat"]
        );
        assert_eq!(
            heartbeat_urls("http://10.0.0.1:8080, http://10.0.0.2:8080/").unwrap(),
            [
                "http://10.0.0.1:8080/api/v1/agent/heartbeat",
                "http://10.0.0.2:8080/api/v1/agent/heartbeat"
            ]
        );
        for bad in ["", "hub.example.org", "http://a,", "http://a,ftp://b"] {
            assert!(
                matches!(heartbeat_urls(bad), Err(AgentError::Hub(_))),
                "{bad:?}"
            );
        }
    }
}
