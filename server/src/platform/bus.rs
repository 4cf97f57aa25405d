//! The event bus: collectors publish typed events once; the hub's read model, the history writer,
//! the container-event writer (and later alerts, remote write and fleet ingest) each subscribe.
//!
//! Publishing never waits. Every subscriber has its own bounded queue; when one is full (that
//! subscriber is slow or stuck) the event is dropped *for that subscriber only* and counted in
//! its [`SubscriberStats`], which its status line and `/metrics` show. A slow history disk can
//! never delay a collector or starve the live page.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use app::containers::Container;
use app::vitals::{CollectorStatus, Vitals};
use tokio::sync::mpsc;

use app::shared::clock::now_ms;

/// Which host an event is about. The machine Steward runs on is [`LOCAL_HOST`]; fleet agents
/// will bring their own names.
pub type HostId = Arc<str>;

/// Queue sizes: the hub applies an event in microseconds; the history writer may sit behind a
/// slow disk for a while (a minute of rounds of a few hosts fits).
pub const HUB_QUEUE: usize = 1024;
pub const HISTORY_QUEUE: usize = 1024;

/// The local host's id in the read model and in history.
pub const LOCAL_HOST: &str = "local";

/// The local host's id as a [`HostId`].
pub fn local_host() -> HostId {
    Arc::from(LOCAL_HOST)
}

/// A container health transition or watchdog decision, kept in Steward's own record.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerEventRecord {
    pub id: String,
    pub name: String,
    pub kind: app::containers::ContainerEventKind,
    pub detail: Option<String>,
}

/// The outcome of a control action (a restart, a bulk restart step).
#[derive(Clone, Debug, PartialEq)]
pub struct ActionOutcome {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub ok: bool,
    pub detail: Option<String>,
}

/// What collectors and actions tell the rest of Steward.
#[derive(Clone, Debug)]
pub enum Event {
    /// A vitals round: the snapshot when the round produced one, the collector's status always.
    Vitals {
        host: HostId,
        vitals: Option<Arc<Vitals>>,
        status: CollectorStatus,
    },
    /// A Docker round: the containers (`None` when the round failed) and the status.
    Containers {
        host: HostId,
        items: Option<Arc<Vec<Container>>>,
        at_ms: i64,
        status: CollectorStatus,
    },
    /// A status report of a task that produces no data (the history writer, an integration).
    Status {
        host: HostId,
        status: CollectorStatus,
    },
    /// Container events of one Docker round, to be written in one batch.
    ContainerEvents {
        host: HostId,
        events: Arc<Vec<ContainerEventRecord>>,
    },
    /// Maintenance refreshed: jobs judged, cleanup runs (the hub scores hygiene from it).
    Maintenance {
        host: HostId,
        state: Arc<app::maintenance::Maintenance>,
    },
    /// A sample of what takes the disk (for history: one series per item).
    DiskUsage {
        host: HostId,
        at_ms: i64,
        items: Arc<Vec<app::maintenance::Culprit>>,
    },
    /// A models round: every backend, the GPUs and host memory as the models collector saw them.
    Models {
        host: HostId,
        state: Arc<app::models::Models>,
    },
    /// A control action finished.
    Action {
        host: HostId,
        outcome: ActionOutcome,
    },
}

impl Event {
    /// How many history samples the event carries (metrics with a finite value; the unhealthy
    /// count and each container's finite write rate), so a drop can be counted in samples too.
    /// The history writer's test keeps this equal to what it stores.
    pub fn weight(&self) -> u64 {
        match self {
            Event::Vitals {
                vitals: Some(v), ..
            } => v
                .metrics
                .iter()
                .filter(|m| m.value.is_some_and(f64::is_finite))
                .count() as u64,
            Event::Containers {
                items: Some(items), ..
            } => {
                1 + items
                    .iter()
                    .filter(|c| c.block_write_rate.is_some_and(f64::is_finite))
                    .count() as u64
            }
            Event::DiskUsage { items, .. } => items.len() as u64,
            Event::Models { state, .. } => {
                (4 * state.backends.len() + 4 * state.gpus.gpus().len()) as u64
            }
            _ => 0,
        }
    }
}

/// One subscriber's counters: what it was sent and what it lost to a full queue.
#[derive(Debug)]
pub struct SubscriberStats {
    pub name: &'static str,
    delivered: AtomicU64,
    dropped: AtomicU64,
    dropped_weight: AtomicU64,
    last_drop_ms: AtomicI64,
}

impl SubscriberStats {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            dropped_weight: AtomicU64::new(0),
            last_drop_ms: AtomicI64::new(0),
        }
    }

    /// Events queued for this subscriber since start.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Events this subscriber lost because its queue was full, since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// History samples inside the dropped events.
    pub fn dropped_samples(&self) -> u64 {
        self.dropped_weight.load(Ordering::Relaxed)
    }

    /// When the last drop happened (ms since the epoch), if ever.
    pub fn last_drop_ms(&self) -> Option<i64> {
        Some(self.last_drop_ms.load(Ordering::Relaxed)).filter(|&t| t > 0)
    }

    /// Counts losses the subscriber had itself, after receiving (its own buffer overflowed).
    pub fn count_own_drops(&self, samples: u64) {
        if samples > 0 {
            self.dropped_weight.fetch_add(samples, Ordering::Relaxed);
            self.last_drop_ms.store(now_ms(), Ordering::Relaxed);
        }
    }
}

/// What a subscriber holds: its queue and its counters.
pub struct Subscription {
    pub rx: mpsc::Receiver<Arc<Event>>,
    pub stats: Arc<SubscriberStats>,
}

struct Subscriber {
    tx: mpsc::Sender<Arc<Event>>,
    stats: Arc<SubscriberStats>,
}

/// The bus. Cheap to share (`Arc<Bus>`); publishing takes a read lock only.
#[derive(Default)]
pub struct Bus {
    subscribers: RwLock<Vec<Subscriber>>,
}

impl Bus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a subscriber with a queue of `capacity` events. Subscribe before the publishers
    /// start: events published earlier are not replayed.
    pub fn subscribe(&self, name: &'static str, capacity: usize) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stats = Arc::new(SubscriberStats::new(name));
        self.subscribers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Subscriber {
                tx,
                stats: stats.clone(),
            });
        Subscription { rx, stats }
    }

    /// Hands the event to every subscriber without waiting; a full queue drops it for that
    /// subscriber and counts the drop. A subscriber that has gone away (shutdown) is skipped.
    pub fn publish(&self, event: Event) {
        let weight = event.weight();
        let event = Arc::new(event);
        let subscribers = self.subscribers.read().unwrap_or_else(|p| p.into_inner());
        for s in subscribers.iter() {
            match s.tx.try_send(event.clone()) {
                Ok(()) => {
                    s.stats.delivered.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    s.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    s.stats.dropped_weight.fetch_add(weight, Ordering::Relaxed);
                    s.stats.last_drop_ms.store(now_ms(), Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Every subscriber's counters, in subscription order.
    pub fn stats(&self) -> Vec<Arc<SubscriberStats>> {
        self.subscribers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|s| s.stats.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn status_event(n: u64) -> Event {
        let mut status = CollectorStatus::starting("test");
        status.rounds_total = n;
        Event::Status {
            host: local_host(),
            status,
        }
    }

    #[tokio::test]
    async fn a_slow_subscriber_drops_and_counts_without_blocking_the_publisher() {
        let bus = Bus::new();
        // Never reads: a stuck history disk.
        let slow = bus.subscribe("slow", 4);
        let mut fast = bus.subscribe("fast", 1024);
        let started = Instant::now();
        for n in 0..1000 {
            bus.publish(status_event(n));
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "publishing never waits on a full queue"
        );
        assert_eq!(slow.stats.delivered(), 4);
        assert_eq!(slow.stats.dropped(), 996, "each lost event is counted");
        assert!(slow.stats.last_drop_ms().is_some());
        assert_eq!(
            fast.stats.dropped(),
            0,
            "one slow subscriber costs others nothing"
        );
        let mut got = 0;
        while let Ok(e) = fast.rx.try_recv() {
            if let Event::Status { status, .. } = &*e {
                assert_eq!(status.rounds_total, got, "in order");
            }
            got += 1;
        }
        assert_eq!(got, 1000);
        let names: Vec<_> = bus.stats().iter().map(|s| s.name).collect();
        assert_eq!(names, ["slow", "fast"]);
    }

    #[tokio::test]
    async fn drops_are_counted_in_samples_too() {
        let bus = Bus::new();
        let sub = bus.subscribe("history", 1);
        let vitals = |n: usize| Event::Vitals {
            host: local_host(),
            vitals: Some(Arc::new(Vitals {
                host: "h".into(),
                cores: 1,
                collected_at_ms: 0,
                metrics: vec![crate::platform::bus::tests::metric(); n],
                top_rss: vec![],
                top_cpu: vec![],
            })),
            status: CollectorStatus::starting("vitals"),
        };
        bus.publish(vitals(3));
        bus.publish(vitals(5));
        assert_eq!(sub.stats.dropped(), 1);
        assert_eq!(sub.stats.dropped_samples(), 5);
        sub.stats.count_own_drops(2);
        assert_eq!(sub.stats.dropped_samples(), 7);
    }

    #[tokio::test]
    async fn a_subscriber_that_went_away_is_skipped() {
        let bus = Bus::new();
        drop(bus.subscribe("gone", 1));
        bus.publish(status_event(1));
        assert_eq!(bus.stats()[0].dropped(), 0, "shutdown is not a drop");
    }

    pub(super) fn metric() -> app::vitals::Metric {
        app::vitals::Metric {
            name: "load1".into(),
            label: None,
            value: Some(1.0),
            unit: app::vitals::Unit::Load,
            level: app::vitals::Level::Ok,
            warn: None,
            crit: None,
            note: None,
        }
    }
}
