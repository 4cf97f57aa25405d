//! The hub: the latest collected state, from which pages and APIs read (they never wait for a
//! collector), and a watch channel that feeds the live stream.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use app::containers::{Container, ContainerSummary, Containers, Health, WatchdogSettings};
use app::model::{CollectorState, CollectorStatus, Overview, Vitals};
use app::score::{self, ScoreInputs};
use tokio::sync::{mpsc, watch};

use crate::history::task::{samples_from_containers, samples_from_vitals};
use crate::history::Sample;
use app::clock::now_ms;

/// Why the service-health dimension is unknown when Docker is not monitored.
const NO_CONTAINERS: &str = "Docker monitoring is off (docker.enabled = false)";
/// Why the maintenance dimension is unknown until cleanup runs are recorded.
const NO_CLEANUPS: &str = "no cleanup runs recorded yet";

struct Inner {
    vitals: Option<Vitals>,
    collectors: BTreeMap<String, CollectorStatus>,
    /// `None` while Docker is off, not yet collected, or unreachable (the status says which).
    containers: Option<Arc<Vec<Container>>>,
    containers_ms: Option<i64>,
}

/// Shared, always-readable state.
pub struct Hub {
    inner: Mutex<Inner>,
    tx: watch::Sender<Arc<Overview>>,
    disk_mount: String,
    interval_secs: u64,
    /// Where new samples go to be written to history (absent in benchmarks that replay state).
    history: Option<mpsc::Sender<Vec<Sample>>>,
    /// Samples dropped because the history queue was full or closed, since start.
    history_dropped: std::sync::atomic::AtomicU64,
    /// Set when Docker is monitored: the watchdog's settings as the page shows them.
    docker: Option<WatchdogSettings>,
}

impl Hub {
    pub fn new(
        disk_mount: String,
        interval_secs: u64,
        history: Option<mpsc::Sender<Vec<Sample>>>,
    ) -> Self {
        let inner = Inner {
            vitals: None,
            collectors: BTreeMap::new(),
            containers: None,
            containers_ms: None,
        };
        let first = build_overview(&inner, &disk_mount, interval_secs, false);
        Self {
            inner: Mutex::new(inner),
            tx: watch::channel(Arc::new(first)).0,
            disk_mount,
            interval_secs,
            history,
            history_dropped: std::sync::atomic::AtomicU64::new(0),
            docker: None,
        }
    }

    /// Marks Docker as monitored: its collector's status starts as "starting".
    pub fn with_docker(mut self, watchdog: WatchdogSettings) -> Self {
        self.docker = Some(watchdog);
        self.update(|inner| {
            inner.collectors.insert(
                crate::collectors::docker::NAME.into(),
                CollectorStatus::starting(crate::collectors::docker::NAME),
            );
        });
        self
    }

    /// Stores a Docker round: the containers (`None` when the round failed) and the status.
    pub fn publish_containers(&self, items: Option<Vec<Container>>, status: CollectorStatus) {
        if let Some(items) = &items {
            self.record(samples_from_containers(items, now_ms()));
        }
        self.update(|inner| {
            inner.containers_ms = items.as_ref().map(|_| now_ms()).or(inner.containers_ms);
            inner.containers = items.map(Arc::new);
            inner.collectors.insert(status.name.clone(), status);
        });
    }

    /// The container panel's data, as collected last.
    pub fn containers(&self) -> Containers {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let status = inner
            .collectors
            .get(crate::collectors::docker::NAME)
            .cloned()
            .unwrap_or_else(|| {
                let mut s = CollectorStatus::starting(crate::collectors::docker::NAME);
                s.state = CollectorState::Error;
                s.message = Some(NO_CONTAINERS.into());
                s
            });
        Containers {
            status,
            items: inner.containers.as_ref().map(|c| c.as_ref().clone()),
            collected_ms: inner.containers_ms,
            watchdog: self.docker.clone().unwrap_or_default(),
            partial: None,
        }
    }

    /// The containers as collected last, without copying them.
    pub fn container_list(&self) -> Option<Arc<Vec<Container>>> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .containers
            .clone()
    }

    /// The latest overview.
    pub fn overview(&self) -> Arc<Overview> {
        self.tx.borrow().clone()
    }

    /// Receives every new overview.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Overview>> {
        self.tx.subscribe()
    }

    /// Stores a collector's status (and new vitals, if the round produced them).
    pub fn publish_vitals(&self, vitals: Option<Vitals>, status: CollectorStatus) {
        if let Some(v) = &vitals {
            self.record(samples_from_vitals(v));
        }
        self.update(|inner| {
            if vitals.is_some() {
                inner.vitals = vitals;
            }
            inner.collectors.insert(status.name.clone(), status);
        });
    }

    /// Queues samples for the history writer.
    fn record(&self, samples: Vec<Sample>) {
        if let Some(history) = &self.history {
            // The history task may be behind; dropping a sample beats blocking the collector.
            // Drops are counted: the history writer reports them in its status, `/metrics`
            // exports the total.
            let n = samples.len() as u64;
            if history.try_send(samples).is_err() {
                self.count_history_dropped(n);
            }
        }
    }

    /// Counts samples the history writer had to drop itself (its buffer was full while writes
    /// failed), beside the ones the queue refused.
    pub fn count_history_dropped(&self, n: u64) {
        self.history_dropped
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Samples not stored since start: the history queue was full or closed, or the writer's
    /// buffer overflowed while writes failed.
    pub fn history_dropped(&self) -> u64 {
        self.history_dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stores a status report of a collector or integration.
    pub fn publish_status(&self, status: CollectorStatus) {
        self.update(|inner| {
            inner.collectors.insert(status.name.clone(), status);
        });
    }

    fn update(&self, f: impl FnOnce(&mut Inner)) {
        let overview = {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut inner);
            build_overview(
                &inner,
                &self.disk_mount,
                self.interval_secs,
                self.docker.is_some(),
            )
        };
        self.tx.send_replace(Arc::new(overview));
    }
}

/// The service-health input: the number of unhealthy containers, or why it is unknown.
fn unhealthy_containers(inner: &Inner, docker: bool) -> Result<u32, String> {
    if !docker {
        return Err(NO_CONTAINERS.into());
    }
    match &inner.containers {
        Some(c) => Ok(c.iter().filter(|c| c.health == Health::Unhealthy).count() as u32),
        None => Err(inner
            .collectors
            .get(crate::collectors::docker::NAME)
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
        steal_pct: value("cpu_steal_pct", None),
        mem_available_bytes: value("mem_available_bytes", None),
        disk_used_pct: value("disk_used_pct", Some(disk_mount)),
        unhealthy_containers: Err(NO_CONTAINERS.into()),
        last_cleanup: Err(NO_CLEANUPS.into()),
        disk_mount: disk_mount.to_string(),
    }
}

fn build_overview(inner: &Inner, disk_mount: &str, interval_secs: u64, docker: bool) -> Overview {
    let mut inputs = score_inputs(inner.vitals.as_ref(), disk_mount);
    inputs.unhealthy_containers = unhealthy_containers(inner, docker);
    Overview {
        score: score::compute(&inputs),
        vitals: inner.vitals.clone(),
        collectors: inner.collectors.values().cloned().collect(),
        interval_secs,
        containers: inner.containers.as_ref().map(|c| ContainerSummary::of(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_the_history_queue_refuses_are_counted() {
        let (tx, _rx) = mpsc::channel(1);
        let hub = Hub::new("/".into(), 5, Some(tx));
        let batch = |n: usize| {
            (0..n)
                .map(|i| Sample {
                    series: "load1".into(),
                    ts_ms: i as i64,
                    value: 1.0,
                })
                .collect::<Vec<_>>()
        };
        hub.record(batch(2));
        assert_eq!(hub.history_dropped(), 0, "the first batch fits");
        hub.record(batch(3));
        assert_eq!(
            hub.history_dropped(),
            3,
            "the queue is full: counted, not only logged"
        );
        hub.count_history_dropped(4);
        assert_eq!(hub.history_dropped(), 7);
    }
}
