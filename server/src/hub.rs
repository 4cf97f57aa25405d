//! The hub: the read model. It subscribes to the [`crate::platform::bus`] and keeps the latest state of
//! every host (the local host is one host among many), from which pages and APIs read: they
//! never wait for a collector. A watch channel carries the local host's overview to the live
//! stream.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use app::containers::{Container, ContainerSummary, Containers, Health, WatchdogSettings};
use app::overview::score::{self, ScoreInputs, ScoreMemory};
use app::overview::verdict;
use app::vitals::metric_def::MetricId;
use app::vitals::{CollectorState, CollectorStatus, Overview, Vitals};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::platform::bus::{local_host, Bus, Event, HostId, Subscription, LOCAL_HOST};
use app::shared::clock::now_ms;

/// Why the service-health dimension is unknown when Docker is not monitored.
const NO_CONTAINERS: &str = "Docker monitoring is off (docker.enabled = false)";
/// Why the maintenance dimension is unknown until cleanup runs are recorded.
const NO_CLEANUPS: &str = "no cleanup runs recorded yet";
/// The status line that reports events lost by slow subscribers.
pub const BUS_STATUS: &str = "event bus";
/// How long a drop keeps the bus status degraded.
const DROP_MEMORY_MS: i64 = 10 * 60 * 1000;
/// The Docker collector's name (its status decides why containers are missing).
const DOCKER: &str = crate::docker::collector::NAME;

/// What the hub knows about one host.
#[derive(Default)]
struct HostState {
    vitals: Option<Arc<Vitals>>,
    collectors: BTreeMap<String, CollectorStatus>,
    /// The containers as last collected: `None` while Docker is off or not yet collected. Kept
    /// when Docker becomes unreachable, so the panel shows the last known list as of when.
    containers: Option<Arc<Vec<Container>>>,
    containers_ms: Option<i64>,
    /// The last Docker round succeeded: only then do the containers feed the score and actions.
    containers_live: bool,
    /// Holds score dimensions whose source was lost, so the score cannot rise from it.
    score_memory: ScoreMemory,
    /// The latest maintenance state: cleanup runs (hygiene) and jobs that missed or failed.
    maintenance: Option<Arc<app::maintenance::Maintenance>>,
    /// The latest models round: GPUs decide what LLM readiness scores.
    models: Option<Arc<app::models::Models>>,
}

impl HostState {
    /// Applies one event about this host.
    fn apply(&mut self, event: &Event) {
        match event {
            Event::Vitals { vitals, status, .. } => {
                if vitals.is_some() {
                    self.vitals = vitals.clone();
                }
                self.collectors.insert(status.name.clone(), status.clone());
            }
            Event::Containers {
                items,
                at_ms,
                status,
                ..
            } => {
                self.containers_live = items.is_some();
                if items.is_some() {
                    self.containers_ms = Some(*at_ms);
                    self.containers = items.clone();
                }
                self.collectors.insert(status.name.clone(), status.clone());
            }
            Event::Status { status, .. } => {
                self.collectors.insert(status.name.clone(), status.clone());
            }
            Event::Maintenance { state, .. } => self.maintenance = Some(state.clone()),
            Event::Models { state, .. } => {
                self.collectors
                    .insert(state.status.name.clone(), state.status.clone());
                self.models = Some(state.clone());
            }
            Event::ContainerEvents { .. } | Event::Action { .. } | Event::DiskUsage { .. } => {}
        }
    }

    /// The containers of the last successful round, while that round is the latest.
    fn live_containers(&self) -> Option<&Arc<Vec<Container>>> {
        self.containers.as_ref().filter(|_| self.containers_live)
    }
}

/// Shared, always-readable state.
pub struct Hub {
    hosts: Mutex<BTreeMap<HostId, HostState>>,
    tx: watch::Sender<Arc<Overview>>,
    disk_mount: String,
    interval_secs: u64,
    /// Set when Docker is monitored: the watchdog's settings as the page shows them.
    docker: Option<WatchdogSettings>,
    /// The bus whose subscribers' drops the overview reports (absent in unit tests).
    bus: Option<Arc<Bus>>,
    /// When the hub started: the bus status's "last success" (it is stable between rounds, so
    /// the live stream does not resend it every round).
    started_ms: i64,
}

impl Hub {
    pub fn new(disk_mount: String, interval_secs: u64) -> Self {
        let mut hosts = BTreeMap::new();
        let mut local = HostState::default();
        let first = build_overview(&mut local, &disk_mount, interval_secs, false, now_ms());
        hosts.insert(local_host(), local);
        Self {
            hosts: Mutex::new(hosts),
            tx: watch::channel(Arc::new(first)).0,
            disk_mount,
            interval_secs,
            docker: None,
            bus: None,
            started_ms: now_ms(),
        }
    }

    /// Reports the drops of `bus`'s subscribers in the overview's status list.
    pub fn with_bus(mut self, bus: Arc<Bus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Marks Docker as monitored: its collector's status starts as "starting".
    pub fn with_docker(mut self, watchdog: WatchdogSettings) -> Self {
        self.docker = Some(watchdog);
        self.apply(&Event::Status {
            host: local_host(),
            status: CollectorStatus::starting(DOCKER),
        });
        self
    }

    /// Applies events from the bus until cancelled (or the bus is gone).
    pub async fn run(self: Arc<Self>, mut sub: Subscription, cancel: CancellationToken) {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                event = sub.rx.recv() => match event {
                    Some(event) => self.apply(&event),
                    None => break,
                },
            }
        }
    }

    /// Applies one event to its host; the local overview is rebuilt when it concerns it.
    pub fn apply(&self, event: &Event) {
        let host = match event {
            Event::Vitals { host, .. }
            | Event::Containers { host, .. }
            | Event::Status { host, .. }
            | Event::ContainerEvents { host, .. }
            | Event::Maintenance { host, .. }
            | Event::Models { host, .. }
            | Event::DiskUsage { host, .. }
            | Event::Action { host, .. } => host,
        };
        if matches!(
            event,
            Event::ContainerEvents { .. } | Event::Action { .. } | Event::DiskUsage { .. }
        ) {
            return;
        }
        let overview = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            let state = hosts.entry(host.clone()).or_default();
            state.apply(event);
            if &**host != LOCAL_HOST {
                return;
            }
            let mut overview = build_overview(
                state,
                &self.disk_mount,
                self.interval_secs,
                self.docker.is_some(),
                now_ms(),
            );
            if let Some(bus) = &self.bus {
                overview
                    .collectors
                    .push(bus_status(bus, self.started_ms, now_ms()));
            }
            overview
        };
        self.tx.send_replace(Arc::new(overview));
    }

    /// Stores a Docker round for the local host directly, as the bus would: for tests and
    /// benchmarks that replay recorded state (e.g. a 500-container snapshot).
    pub fn publish_containers(&self, items: Option<Vec<Container>>, status: CollectorStatus) {
        self.apply(&Event::Containers {
            host: local_host(),
            items: items.map(Arc::new),
            at_ms: now_ms(),
            status,
        });
    }

    /// The local host's container panel data, as collected last.
    pub fn containers(&self) -> Containers {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let local = hosts.get(LOCAL_HOST);
        let status = local
            .and_then(|h| h.collectors.get(DOCKER))
            .cloned()
            .unwrap_or_else(|| {
                let mut s = CollectorStatus::starting(DOCKER);
                s.state = CollectorState::Error;
                s.message = Some(NO_CONTAINERS.into());
                s
            });
        Containers {
            status,
            items: local
                .and_then(|h| h.containers.as_ref())
                .map(|c| c.as_ref().clone()),
            collected_ms: local.and_then(|h| h.containers_ms),
            watchdog: self.docker.clone().unwrap_or_default(),
            partial: None,
        }
    }

    /// The local host's containers from the latest round, without copying them: `None` while
    /// Docker is unreachable (actions must not plan on a list that may be stale).
    pub fn container_list(&self) -> Option<Arc<Vec<Container>>> {
        self.hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(LOCAL_HOST)
            .and_then(|h| h.live_containers().cloned())
    }

    /// The hosts the hub knows, in name order.
    pub fn hosts(&self) -> Vec<HostId> {
        self.hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// The latest vitals of a host.
    pub fn vitals(&self, host: &str) -> Option<Arc<Vitals>> {
        self.hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(host)
            .and_then(|h| h.vitals.clone())
    }

    /// The latest overview of the local host.
    pub fn overview(&self) -> Arc<Overview> {
        self.tx.borrow().clone()
    }

    /// Receives every new overview of the local host.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Overview>> {
        self.tx.subscribe()
    }
}

/// The bus's own status line: degraded while a subscriber lost events in the last ten minutes.
fn bus_status(bus: &Bus, started_ms: i64, now: i64) -> CollectorStatus {
    let mut status = CollectorStatus::starting(BUS_STATUS);
    status.state = CollectorState::Ok;
    status.last_success_ms = Some(started_ms);
    let stats = bus.stats();
    let recent: Vec<String> = stats
        .iter()
        .filter(|s| s.last_drop_ms().is_some_and(|t| now - t < DROP_MEMORY_MS))
        .map(|s| {
            format!(
                "{} lost {} events ({} samples) since start: it could not keep up",
                s.name,
                s.dropped(),
                s.dropped_samples()
            )
        })
        .collect();
    status.errors_total = stats.iter().map(|s| s.dropped()).sum();
    if !recent.is_empty() {
        status.state = CollectorState::Degraded;
        status.message = Some(recent.join("; "));
    }
    status
}

/// The service-health input: the number of unhealthy containers, or why it is unknown.
fn unhealthy_containers(host: &HostState, docker: bool) -> Result<u32, String> {
    if !docker {
        return Err(NO_CONTAINERS.into());
    }
    match host.live_containers() {
        Some(c) => Ok(c.iter().filter(|c| c.health == Health::Unhealthy).count() as u32),
        None => Err(host
            .collectors
            .get(DOCKER)
            .and_then(|s| s.message.clone())
            .map(|m| format!("Docker: {m}"))
            .unwrap_or_else(|| "Docker not collected yet".into())),
    }
}

/// The score inputs from the latest vitals; each absent source carries its reason.
pub fn score_inputs(vitals: Option<&Vitals>, disk_mount: &str) -> ScoreInputs {
    let value = |name: &str, label: Option<&str>| match vitals {
        Some(v) => v.value(name, label),
        None => Err("no vitals collected yet".to_string()),
    };
    ScoreInputs {
        steal_pct: value(MetricId::CpuStealPct.name(), None),
        mem_available_bytes: value(MetricId::MemAvailableBytes.name(), None),
        disk_used_pct: value(MetricId::DiskUsedPct.name(), Some(disk_mount)),
        unhealthy_containers: Err(NO_CONTAINERS.into()),
        last_cleanup: Err(NO_CLEANUPS.into()),
        disk_mount: disk_mount.to_string(),
        vram_free_bytes: None,
    }
}

/// Free VRAM when a GPU serves the models: a model backend is configured and some GPU reports
/// its memory.
fn vram_free(m: Option<&app::models::Models>) -> Option<f64> {
    let m = m?;
    let free: Vec<u64> = m
        .gpus
        .gpus()
        .iter()
        .filter_map(|g| g.vram_free_bytes())
        .collect();
    (!m.backends.is_empty() && !free.is_empty()).then(|| free.iter().sum::<u64>() as f64)
}

/// The maintenance-hygiene input: the last cleanup that did something (ok or partial), its
/// age and what it freed (seed §3.1), or why it is unknown.
fn last_cleanup(
    m: Option<&app::maintenance::Maintenance>,
    now: i64,
) -> Result<score::CleanupInfo, String> {
    let m = m.ok_or("maintenance not collected yet")?;
    let run = m.last_successful_cleanup().ok_or(NO_CLEANUPS)?;
    Ok(score::CleanupInfo {
        age_secs: ((now - run.ended_ms.unwrap_or(run.started_ms)).max(0) as f64) / 1000.0,
        freed_bytes: run.freed_bytes,
    })
}

/// The host's overview: the score (with lost dimensions held) and the verdict beside it.
fn build_overview(
    host: &mut HostState,
    disk_mount: &str,
    interval_secs: u64,
    docker: bool,
    now: i64,
) -> Overview {
    let vitals = host.vitals.as_deref();
    let mut inputs = score_inputs(vitals, disk_mount);
    inputs.unhealthy_containers = unhealthy_containers(host, docker);
    inputs.last_cleanup = last_cleanup(host.maintenance.as_deref(), now);
    inputs.vram_free_bytes = vram_free(host.models.as_deref());
    let collectors: Vec<CollectorStatus> = host.collectors.values().cloned().collect();
    let containers = host.live_containers().map(|c| ContainerSummary::of(c));
    let mut score = score::compute(&inputs);
    let job_problems: Vec<String> = host
        .maintenance
        .iter()
        .flat_map(|m| m.problems())
        .map(|j| format!("job {} {}: {}", j.name, j.status.as_str(), j.reason))
        .collect();
    score.verdict =
        verdict::judge(vitals, &collectors, containers.as_ref()).with_jobs(&job_problems);
    Overview {
        score: host.score_memory.hold(score, now),
        vitals: vitals.cloned(),
        collectors,
        interval_secs,
        containers,
        gpus: host
            .models
            .as_deref()
            .map(|m| m.gpus.gpus().iter().map(Into::into).collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(name: &str) -> CollectorStatus {
        let mut s = CollectorStatus::starting(name);
        s.state = CollectorState::Ok;
        s
    }

    #[test]
    fn hosts_are_kept_apart_and_only_the_local_one_feeds_the_overview() {
        let hub = Hub::new("/".into(), 5);
        hub.apply(&Event::Status {
            host: Arc::from("gpu-01"),
            status: status("vitals"),
        });
        assert_eq!(
            hub.hosts().iter().map(|h| &**h).collect::<Vec<_>>(),
            ["gpu-01", "local"]
        );
        assert!(
            hub.overview().collectors.is_empty(),
            "another host's status is not the local host's"
        );
        hub.apply(&Event::Status {
            host: local_host(),
            status: status("vitals"),
        });
        assert_eq!(hub.overview().collectors.len(), 1);
    }

    #[tokio::test]
    async fn the_overview_shows_a_subscriber_that_lost_events() {
        let bus = Arc::new(Bus::new());
        let hub = Arc::new(Hub::new("/".into(), 5).with_bus(bus.clone()));
        let _stuck = bus.subscribe("history", 1);
        let sub = bus.subscribe("hub", 64);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(hub.clone().run(sub, cancel.clone()));
        for _ in 0..3 {
            bus.publish(Event::Status {
                host: local_host(),
                status: status("vitals"),
            });
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let line = loop {
            let o = hub.overview();
            if let Some(s) = o.collectors.iter().find(|c| c.name == BUS_STATUS) {
                if s.state == CollectorState::Degraded {
                    break s.clone();
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "no bus status");
            tokio::task::yield_now().await;
        };
        assert!(
            line.message.as_deref().unwrap().contains("history lost"),
            "{line:?}"
        );
        cancel.cancel();
        task.await.unwrap();
    }

    #[test]
    fn docker_lost_keeps_the_last_containers_and_never_raises_the_score() {
        let hub = Hub::new("/".into(), 5).with_docker(WatchdogSettings::default());
        let sick = Container {
            health: Health::Unhealthy,
            ..Container::running("1", "web")
        };
        hub.publish_containers(Some(vec![sick]), status(DOCKER));
        let before = hub.overview();
        let service = &before.score.dimensions[3];
        assert_eq!(service.points, Some(15));
        assert_eq!(before.score.verdict.level, app::vitals::Level::Warn);

        let mut down = status(DOCKER);
        down.state = CollectorState::Error;
        down.message = Some("connection refused".into());
        hub.publish_containers(None, down);
        let panel = hub.containers();
        assert_eq!(panel.status.state, CollectorState::Error);
        assert_eq!(
            panel.items.map(|i| i.len()),
            Some(1),
            "the last known list stays"
        );
        assert!(panel.collected_ms.is_some(), "as of when");
        assert!(
            hub.container_list().is_none(),
            "actions never plan on a stale list"
        );
        let after = hub.overview();
        let service = &after.score.dimensions[3];
        assert_eq!(service.points, Some(15), "held, not dropped");
        assert!(service.as_of_ms.is_some());
        assert_eq!(after.score.value, before.score.value);
        assert!(after
            .score
            .verdict
            .causes
            .iter()
            .any(|c| c.text.contains("docker collector in error")));
    }
}
