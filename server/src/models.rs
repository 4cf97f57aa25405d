//! The models collector: checks every configured model backend in parallel (each call under
//! the backend's timeout, one circuit breaker per backend), reads the GPUs and host memory,
//! and keeps the latest [`Models`] for pages and APIs, which never wait for a backend. A
//! backend that hangs costs its own check the timeout and nothing else; once its breaker is
//! open it is not called until one probe per cool-off.

pub mod breaker;
pub mod check;
pub mod control;
pub mod gguf;
pub mod gpu;
pub mod nvml;
pub mod parse;
pub mod process;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::models::{BackendState, GpuReport, HostMemory, ModelBackend, Models};
use app::shared::clock::now_ms;
use app::vitals::CollectorStatus;
use tokio_util::sync::CancellationToken;

use crate::config::{HostPaths, ModelBackendConfig, ModelsConfig};
use crate::platform::bus::{local_host, Bus, Event};
use crate::platform::periodic;
use breaker::{Breaker, Permit};
use check::{Checked, Client};

pub use app::models::NAME;

/// Loads kept in `model_loads` (the learned error reads the last 50 per backend).
const LOADS_KEPT: i64 = 1000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The latest state, shared by the collector (writer) and the HTTP layer (readers).
pub struct ModelsService {
    config: ModelsConfig,
    paths: HostPaths,
    snapshot: Mutex<Arc<Models>>,
    http: reqwest::Client,
    /// Ollama models' architectures from `/api/show`, by (backend, model).
    architectures: Mutex<std::collections::HashMap<(String, String), app::models::Architecture>>,
    /// Where loads (estimate and measured memory) are kept; none in unit tests.
    pool: Option<sqlx::SqlitePool>,
    /// Wakes a round at once (after a load or unload).
    wake: Arc<tokio::sync::Notify>,
    /// What past estimates missed by, per backend.
    errors: Mutex<std::collections::HashMap<String, app::models::EstimateError>>,
    /// Loads in progress and recently finished, with their events.
    loads: crate::platform::jobs::Jobs<app::models::LoadEvent>,
    /// The load running on each backend (one at a time per backend).
    loading: Mutex<std::collections::HashMap<String, u64>>,
    /// Where loads and unloads are recorded; none in unit tests.
    audit: Option<crate::store::audit::AuditLog>,
}

impl ModelsService {
    pub fn new(config: ModelsConfig, paths: HostPaths) -> Self {
        // Every configured backend shows from the start, as starting.
        let mut first = Models::starting();
        first.backends = config.backends.iter().map(blank).collect();
        Self {
            config,
            paths,
            snapshot: Mutex::new(Arc::new(first)),
            architectures: Mutex::default(),
            wake: Arc::new(tokio::sync::Notify::new()),
            pool: None,
            errors: Mutex::default(),
            loads: Default::default(),
            loading: Mutex::default(),
            audit: None,
            http: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Keeps loads in this database and learns the estimate's error from the ones kept;
    /// records loads and unloads in the audit log.
    pub fn with_store(
        mut self,
        pool: sqlx::SqlitePool,
        audit: crate::store::audit::AuditLog,
    ) -> Self {
        self.pool = Some(pool);
        self.audit = Some(audit);
        self
    }

    /// The learned error per backend from the last 50 loads each (at start).
    async fn load_errors(&self) {
        let Some(pool) = &self.pool else { return };
        let rows: Result<Vec<(String, i64, i64)>, _> = sqlx::query_as(
            "SELECT backend, estimated_bytes, measured_bytes FROM model_loads
             WHERE id IN (SELECT id FROM model_loads m WHERE m.backend = model_loads.backend ORDER BY ts_ms DESC LIMIT 50)
             ORDER BY ts_ms",
        )
        .fetch_all(pool)
        .await;
        match rows {
            Ok(rows) => {
                let mut errors = lock(&self.errors);
                for (backend, estimated, measured) in rows {
                    let next = app::models::estimate::learn(
                        errors.get(&backend),
                        estimated.max(0) as u64,
                        measured.max(0) as u64,
                    );
                    errors.insert(backend, next);
                }
            }
            Err(e) => tracing::warn!("models: could not read past loads: {e}"),
        }
    }

    /// Records a load's estimate and measured memory.
    pub(crate) async fn record_load(
        &self,
        row: (&str, &str, Option<u64>, u64, u64, &str),
    ) -> Result<(), sqlx::Error> {
        let Some(pool) = &self.pool else {
            return Ok(());
        };
        let (backend, model, context, estimated, measured, actor) = row;
        sqlx::query(
            "INSERT INTO model_loads (ts_ms, backend, model, context, estimated_bytes, measured_bytes, actor) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(now_ms())
        .bind(backend)
        .bind(model)
        .bind(context.map(|c| c as i64))
        .bind(estimated as i64)
        .bind(measured as i64)
        .bind(actor)
        .execute(pool)
        .await?;
        // Bounded like every other table: the newest loads are what the error is learned from.
        sqlx::query(
            "DELETE FROM model_loads WHERE id NOT IN (SELECT id FROM model_loads ORDER BY id DESC LIMIT ?)",
        )
        .bind(LOADS_KEPT)
        .execute(pool)
        .await
        .map(|_| ())
    }

    /// The latest state (never waits for a backend).
    pub fn snapshot(&self) -> Arc<Models> {
        lock(&self.snapshot).clone()
    }

    /// Asks for a round now (a load or unload changed what the backend holds).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    pub fn config(&self) -> &ModelsConfig {
        &self.config
    }

    /// A client for one configured backend (its token read from its file each time, so a
    /// rotated token is picked up).
    pub fn client(&self, b: &ModelBackendConfig) -> Result<Client, String> {
        let token = match &b.token_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| format!("token file {}: {e}", f.display()))?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        Ok(Client {
            http: self.http.clone(),
            base: b.url.clone(),
            token,
            timeout: Duration::from_secs(b.timeout_secs),
        })
    }

    /// Checks on the configured interval until `shutdown`, publishing each round.
    pub async fn run(self: Arc<Self>, bus: Arc<Bus>, shutdown: CancellationToken) {
        let slowest = self
            .config
            .backends
            .iter()
            .map(|b| b.timeout_secs)
            .max()
            .unwrap_or(1);
        // A check is at most two calls in a row (the first, then the rest at once).
        let round_timeout = Duration::from_secs(2 * slowest + 5);
        self.load_errors().await;
        let interval = Duration::from_secs(self.config.interval_secs);
        let collector = ModelsCollector::new(self.clone());
        let service = self.clone();
        periodic::run_woken(
            collector,
            interval,
            round_timeout,
            Some(self.wake.clone()),
            shutdown,
            move |models, status| {
                let next = match models {
                    Some(mut m) => {
                        m.status = status;
                        m
                    }
                    None => {
                        let mut m = (*service.snapshot()).clone();
                        m.status = status;
                        m
                    }
                };
                let mut next = next;
                for b in &mut next.backends {
                    b.estimate_error = service.estimate_error(&b.name);
                }
                let next = Arc::new(next);
                *lock(&service.snapshot) = next.clone();
                bus.publish(Event::Models {
                    host: local_host(),
                    state: next,
                });
            },
        )
        .await
    }
}

/// What the collector keeps per backend between rounds.
struct Slot {
    config: ModelBackendConfig,
    breaker: Breaker,
    last: ModelBackend,
    /// The generated-tokens counter and when it was read, for tokens/s.
    tokens: Option<(f64, Instant)>,
    /// The backend's process on this host (found by its port), re-found when it goes.
    pid: Option<u32>,
    /// The served model file's architecture, read once per path.
    arch_path: Option<String>,
    /// A llama.cpp router's instances on this host: port → pid.
    instances: std::collections::HashMap<u16, u32>,
}

/// The round: all backends at once, then GPUs and memory.
pub struct ModelsCollector {
    service: Arc<ModelsService>,
    slots: Vec<Slot>,
    gpus: gpu::GpuReader,
}

impl ModelsCollector {
    pub fn new(service: Arc<ModelsService>) -> Self {
        let c = &service.config;
        let slots = c
            .backends
            .iter()
            .map(|b| Slot {
                breaker: Breaker::new(c.breaker_failures, c.breaker_cool_off_secs as i64 * 1000),
                last: blank(b),
                config: b.clone(),
                tokens: None,
                pid: None,
                arch_path: None,
                instances: Default::default(),
            })
            .collect();
        Self {
            service,
            slots,
            gpus: gpu::GpuReader::default(),
        }
    }
}

impl ModelsCollector {
    /// Checks every backend once (all at once, each behind its breaker) and returns what the
    /// checks left: a fleet agent's round, which reads the GPUs on its own.
    pub async fn check_backends(&mut self) -> Vec<ModelBackend> {
        let service = self.service.clone();
        futures::future::join_all(self.slots.iter_mut().map(|s| s.round(&service))).await;
        self.slots.iter().map(|s| s.last.clone()).collect()
    }
}

/// A backend before its first check.
fn blank(b: &ModelBackendConfig) -> ModelBackend {
    ModelBackend {
        name: b.name.clone(),
        kind: b.kind,
        url: b.url.clone(),
        state: BackendState::Starting,
        breaker: Breaker::new(1, 0).view(),
        version: None,
        check_ms: None,
        checked_ms: None,
        last_ok_ms: None,
        last_error: None,
        last_error_ms: None,
        problems: Vec::new(),
        requests_running: None,
        requests_waiting: None,
        slots_busy: None,
        slots_total: None,
        slot_context: None,
        kv_cache_pct: None,
        tokens_per_s: None,
        ttft_p50_s: None,
        ttft_p95_s: None,
        models: Vec::new(),
        loaded: Vec::new(),
        architecture: None,
        process_rss_bytes: None,
        control: check::control(b.kind),
        estimate_error: None,
    }
}

/// The port of a loopback URL (the only kind whose process can be on this host for sure).
fn loopback_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
        .then(|| port.parse().ok())
        .flatten()
}

impl Slot {
    /// One check (or a skip while the breaker is open), folded into `last`.
    async fn round(&mut self, service: &ModelsService) {
        let now = now_ms();
        let permit = self.breaker.permit(now);
        if permit == Permit::Skip {
            self.last.breaker = self.breaker.view();
            self.last.state = BackendState::Down;
            return;
        }
        let started = Instant::now();
        let result = match service.client(&self.config) {
            Ok(c) => check::check(self.config.kind, &c).await,
            Err(e) => Err(e),
        };
        let now = now_ms();
        let b = &mut self.last;
        b.check_ms = Some(started.elapsed().as_millis() as u64);
        b.checked_ms = Some(now);
        match result {
            Ok(c) => {
                self.breaker.success();
                b.last_ok_ms = Some(now);
                b.state = if c.problems.is_empty() {
                    BackendState::Ok
                } else {
                    BackendState::Degraded
                };
                let tokens = c.tokens_total.map(|t| (t, Instant::now()));
                b.tokens_per_s = match (self.tokens, tokens) {
                    (Some((t0, i0)), Some((t1, i1))) if t1 >= t0 => {
                        let secs = i1.duration_since(i0).as_secs_f64();
                        (secs > 0.0).then(|| (t1 - t0) / secs)
                    }
                    _ => None,
                };
                self.tokens = tokens;
                let path = c.model_path.clone();
                let router = c.router.clone();
                apply(b, c);
                self.local_process(service, path.as_deref());
                if let Some(models) = router {
                    self.router_instances(service, &models);
                }
            }
            Err(e) => {
                self.breaker.failure(now);
                b.state = BackendState::Down;
                b.last_error = Some(e);
                b.last_error_ms = Some(now);
                b.problems.clear();
                b.requests_running = None;
                b.requests_waiting = None;
                b.slots_busy = None;
                b.tokens_per_s = None;
                self.tokens = None;
            }
        }
        self.last.breaker = self.breaker.view();
    }

    /// The backend's own process (loopback only) and the served GGUF's architecture.
    fn local_process(&mut self, service: &ModelsService, model_path: Option<&str>) {
        let procfs = &service.paths.procfs;
        if let Some(port) = loopback_port(&self.config.url) {
            let alive = self
                .pid
                .and_then(|p| process::rss_bytes(procfs, p).map(|r| (p, r)));
            let found = alive.or_else(|| {
                let pid = process::listener_pid(procfs, port)?;
                Some((pid, process::rss_bytes(procfs, pid)?))
            });
            self.pid = found.map(|(p, _)| p);
            self.last.process_rss_bytes = found.map(|(_, r)| r);
            if self.config.kind != app::models::BackendKind::Ollama
                && self.last.control != app::models::Control::LlamacppRouter
            {
                for m in &mut self.last.loaded {
                    m.size_bytes = self.last.process_rss_bytes;
                }
            }
        }
        if let Some(path) = model_path {
            if self.arch_path.as_deref() != Some(path) {
                self.arch_path = Some(path.to_string());
                self.last.architecture = read_architecture(&service.paths.rootfs, path)
                    .map_err(|e| tracing::info!(backend = %self.config.name, "model architecture unknown: {e}"))
                    .ok();
            }
        }
    }
}

impl Slot {
    /// A router's files (their sizes, for the pre-load check) and, on this host, each loaded
    /// instance's resident memory (found by the port in its arguments).
    fn router_instances(&mut self, service: &ModelsService, models: &[parse::RouterModel]) {
        let paths = &service.paths;
        for m in &mut self.last.models {
            m.size_bytes = m
                .path
                .as_deref()
                .and_then(|p| gguf_path(&paths.rootfs, p).ok())
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|md| md.len());
        }
        if loopback_port(&self.config.url).is_none() {
            return;
        }
        let ports: Vec<u16> = models.iter().filter_map(|m| m.port).collect();
        self.instances.retain(|port, _| ports.contains(port));
        for l in &mut self.last.loaded {
            let Some(port) = models.iter().find(|m| m.id == l.name).and_then(|m| m.port) else {
                continue;
            };
            let cached = self.instances.get(&port).copied();
            let rss = cached
                .and_then(|pid| process::rss_bytes(&paths.procfs, pid).map(|r| (pid, r)))
                .or_else(|| {
                    let pid = process::listener_pid(&paths.procfs, port)?;
                    Some((pid, process::rss_bytes(&paths.procfs, pid)?))
                });
            match rss {
                Some((pid, r)) => {
                    self.instances.insert(port, pid);
                    l.size_bytes = Some(r);
                }
                None => {
                    self.instances.remove(&port);
                }
            }
        }
    }
}

/// A model file path from a backend's answer, under the rootfs Steward reads: only an
/// absolute `.gguf` path without `..` is accepted (a backend's answer is input).
pub fn gguf_path(rootfs: &std::path::Path, path: &str) -> Result<PathBuf, String> {
    let p = std::path::Path::new(path);
    if !p.is_absolute()
        || p.extension().is_none_or(|e| e != "gguf")
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!("{path:?} is not an absolute .gguf path"));
    }
    Ok(rootfs.join(path.trim_start_matches('/')))
}

/// The architecture from a GGUF file on this host (`path` as the backend sees it, under the
/// rootfs Steward reads).
pub fn read_architecture(
    rootfs: &std::path::Path,
    path: &str,
) -> Result<app::models::Architecture, String> {
    let full = gguf_path(rootfs, path)?;
    let f = std::fs::File::open(&full).map_err(|e| format!("{}: {e}", full.display()))?;
    let meta = gguf::metadata(&mut std::io::BufReader::with_capacity(1 << 16, f))
        .map_err(|e| format!("{}: {e}", full.display()))?;
    parse::architecture(&meta).ok_or_else(|| format!("{}: no architecture keys", full.display()))
}

/// Copies a check's findings into the backend's view.
fn apply(b: &mut ModelBackend, c: Checked) {
    b.version = c.version.or(b.version.take());
    b.problems = c.problems;
    b.requests_running = c.requests_running;
    b.requests_waiting = c.requests_waiting;
    b.slots_busy = c.slots_busy;
    b.slots_total = c.slots_total;
    b.slot_context = c.slot_context;
    b.kv_cache_pct = c.kv_cache_pct;
    b.ttft_p50_s = c.ttft_p50_s;
    b.ttft_p95_s = c.ttft_p95_s;
    let now = now_ms();
    // Models on disk learn when they were last seen loaded.
    let mut models = c.models;
    for m in &mut models {
        let previous = b
            .models
            .iter()
            .find(|o| o.name == m.name)
            .and_then(|o| o.last_used_ms);
        m.last_used_ms = if c.loaded.iter().any(|l| l.name == m.name) {
            Some(now)
        } else {
            previous
        };
    }
    b.models = models;
    b.loaded = c.loaded;
    if let Some(control) = c.control {
        b.control = control;
    }
    if c.architecture.is_some() {
        b.architecture = c.architecture;
    }
}

impl periodic::Collector for ModelsCollector {
    type Data = Models;

    fn name(&self) -> &'static str {
        NAME
    }

    async fn collect(&mut self) -> Result<periodic::Collected<Models>, String> {
        let service = self.service.clone();
        futures::future::join_all(self.slots.iter_mut().map(|s| s.round(&service))).await;
        let paths = service.paths.clone();
        let gpus_on = service.config.gpus;
        let reader = self.gpus.clone();
        let (gpus, memory) = tokio::task::spawn_blocking(move || {
            (reader.read(gpus_on, &paths), host_memory(&paths.procfs))
        })
        .await
        .map_err(|e| format!("GPU and memory read crashed: {e}"))?;
        let mut problems: Vec<String> = self
            .slots
            .iter()
            .filter(|s| s.last.state == BackendState::Down)
            .map(|s| {
                format!(
                    "{} down: {}",
                    s.config.name,
                    s.last.last_error.as_deref().unwrap_or("breaker open")
                )
            })
            .collect();
        if let GpuReport::Error { message, .. } = &gpus {
            problems.push(format!("GPU: {message}"));
        }
        let memory = memory.unwrap_or_else(|e| {
            problems.push(e);
            HostMemory::default()
        });
        Ok(periodic::Collected {
            data: Models {
                backends: self.slots.iter().map(|s| s.last.clone()).collect(),
                gpus,
                memory,
                at_risk: Vec::new(),
                status: CollectorStatus::starting(NAME),
                as_of_ms: Some(now_ms()),
            },
            problems,
        })
    }
}

/// Total, available and free swap from the configured procfs.
fn host_memory(procfs: &std::path::Path) -> Result<HostMemory, String> {
    let text = std::fs::read_to_string(procfs.join("meminfo"))
        .map_err(|e| format!("{}/meminfo: {e}", procfs.display()))?;
    let m = crate::vitals::procfs::parse_meminfo(&text).map_err(|e| e.to_string())?;
    Ok(HostMemory {
        total_bytes: Some(m.total),
        available_bytes: Some(m.available),
        swap_free_bytes: Some(m.swap_free),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_gguf_paths_are_opened() {
        let root = std::path::Path::new("/nonexistent-root");
        for bad in ["etc/shadow.gguf", "/etc/shadow", "/models/../../etc/x.gguf"] {
            let e = read_architecture(root, bad).unwrap_err();
            assert!(e.contains("not an absolute .gguf path"), "{bad}: {e}");
        }
        let e = read_architecture(root, "/models/m.gguf").unwrap_err();
        assert!(e.contains("/nonexistent-root/models/m.gguf"), "{e}");
    }

    #[test]
    fn a_check_that_learns_nothing_about_control_keeps_it() {
        let mut b = blank(&ModelBackendConfig {
            name: "router".into(),
            kind: app::models::BackendKind::Llamacpp,
            url: "http://127.0.0.1:8080".into(),
            token_file: None,
            timeout_secs: 5,
        });
        assert!(matches!(b.control, app::models::Control::ReadOnly { .. }));
        let learnt = Checked {
            control: Some(app::models::Control::LlamacppRouter),
            ..Default::default()
        };
        apply(&mut b, learnt);
        assert_eq!(b.control, app::models::Control::LlamacppRouter);
        // `/props` or `/models` failed this round: a router stays a router.
        apply(&mut b, Checked::default());
        assert_eq!(b.control, app::models::Control::LlamacppRouter);
    }

    #[test]
    fn loopback_ports_only() {
        assert_eq!(loopback_port("http://127.0.0.1:11434"), Some(11434));
        assert_eq!(loopback_port("http://localhost:8080/v1"), Some(8080));
        assert_eq!(loopback_port("http://[::1]:8000"), Some(8000));
        assert_eq!(loopback_port("http://gpu-box:8000"), None);
        assert_eq!(loopback_port("http://127.0.0.1"), None);
    }
}
