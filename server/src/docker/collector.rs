//! The Docker collector: every round lists all containers, inspects them and reads one stats
//! sample each (in parallel, bounded, each call with a timeout), keeps Steward's own record of
//! health transitions, runs the watchdog and publishes the result to the hub. Pages read the hub;
//! none waits for Docker.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use app::containers::{Container, ContainerEventKind, Health};
use futures::StreamExt;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::config::DockerConfig;
use crate::docker::convert::{self, Rules, Sample};
use crate::docker::stats::StatsStreams;
use crate::docker::watchdog::{Decision, Watchdog};
use crate::docker::{DockerClient, DockerError};
use crate::platform::bus::{local_host, Bus, ContainerEventRecord, Event};
use crate::platform::periodic;
use crate::store::audit::{Action, AuditLog, Entry, Outcome};
use app::shared::clock::now_ms;

/// The collector's name in status reports.
pub const NAME: &str = "docker";

/// A lazily connected Docker client shared by the collector and the control actions; it
/// reconnects after a failure, so Docker may start after Steward.
pub struct DockerHandle {
    host: String,
    timeout: Duration,
    client: Mutex<Option<DockerClient>>,
}

impl DockerHandle {
    pub fn new(host: String, timeout: Duration) -> Self {
        Self {
            host,
            timeout,
            client: Mutex::new(None),
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The connected client, connecting first if needed. The lock is not held while
    /// connecting: with a hung engine each connect waits out its timeout, and callers (the
    /// collector's round, an action, the disk sampler) must not queue behind each other's
    /// attempts. Two callers may connect at once; the last one's client is kept.
    pub async fn get(&self) -> Result<DockerClient, DockerError> {
        if let Some(c) = self.client.lock().await.as_ref() {
            return Ok(c.clone());
        }
        let c = DockerClient::connect(&self.host, self.timeout).await?;
        *self.client.lock().await = Some(c.clone());
        Ok(c)
    }

    /// Drops the client after a connection-level failure, so the next call reconnects.
    pub async fn reset(&self) {
        *self.client.lock().await = None;
    }
}

/// One round's result: the containers and what went wrong with some of them.
pub struct Collected {
    pub containers: Vec<Container>,
    pub problems: Vec<String>,
}

/// The collector's state across rounds.
pub struct DockerCollector {
    handle: Arc<DockerHandle>,
    config: DockerConfig,
    rules: Rules,
    prev: HashMap<String, Sample>,
    images: HashMap<String, Option<i64>>,
    /// Steward's own record: the health each container had last round and since when.
    health: HashMap<String, (Health, i64)>,
    watchdog: Watchdog,
    audit: AuditLog,
    /// Where the round's container events are announced besides the audit database.
    bus: Option<Arc<Bus>>,
    /// One stats stream per running container.
    streams: StatsStreams,
}

impl DockerCollector {
    pub fn new(
        handle: Arc<DockerHandle>,
        config: DockerConfig,
        watchdog: Watchdog,
        audit: AuditLog,
    ) -> Self {
        Self {
            handle,
            rules: Rules {
                block_write_limit_per_day: config.block_write_limit_per_day,
                image_max_age_days: config.image_max_age_days,
            },
            config,
            prev: HashMap::new(),
            images: HashMap::new(),
            health: HashMap::new(),
            watchdog,
            audit,
            bus: None,
            streams: StatsStreams::default(),
        }
    }

    /// Announces container events on `bus` (the alert engine's tap) besides writing them.
    pub fn with_bus(mut self, bus: Arc<Bus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// The age of each running container's latest streamed stats sample (for the benchmark).
    pub fn stats_ages_ms(&self) -> Vec<i64> {
        self.streams.ages_ms(now_ms())
    }

    /// Writes container events in one transaction, then announces them.
    async fn record_events(&self, events: Vec<ContainerEventRecord>) {
        if events.is_empty() {
            return;
        }
        self.audit.container_events_batch(&events).await;
        if let Some(bus) = &self.bus {
            bus.publish(Event::ContainerEvents {
                host: local_host(),
                events: Arc::new(events),
            });
        }
    }

    /// One round of I/O: list, inspect and stats in parallel, image ages, health transitions.
    pub async fn collect_once(&mut self) -> Result<Collected, DockerError> {
        let client = self.handle.get().await?;
        let list = match client.list().await {
            Ok(l) => l,
            Err(e) => {
                self.handle.reset().await;
                return Err(e);
            }
        };
        let ids: Vec<(String, bool)> = list
            .iter()
            .filter_map(|s| {
                let running = s.state.map(|st| st.to_string()) == Some("running".into());
                s.id.clone().map(|id| (id, running))
            })
            .collect();
        // Inspections are quick and bounded by `concurrency`. A stats call waits for the
        // engine's next sampling tick (about a second on Docker 20.10, even one-shot), and the
        // engine samples all subscribed containers in that one tick, so stats run wide
        // (`stats_concurrency`) beside the inspections: a round costs about one tick.
        let inspections = futures::stream::iter(ids.clone())
            .map(|(id, _)| {
                let client = client.clone();
                async move {
                    let inspect = client.inspect(&id).await;
                    (id, inspect)
                }
            })
            .buffer_unordered(self.config.concurrency)
            .collect::<Vec<_>>();
        // Stats come from each running container's long-lived stream; only a container without
        // a fresh sample (just started) waits for a one-shot call this round.
        let running: Vec<&str> = ids
            .iter()
            .filter(|(_, running)| *running)
            .map(|(id, _)| id.as_str())
            .collect();
        self.streams.sync(&client, &running);
        let now = now_ms();
        let mut streamed = HashMap::new();
        let mut missing = Vec::new();
        for id in running {
            match self.streams.latest(id, now) {
                Some(s) => {
                    streamed.insert(id.to_string(), Ok(s));
                }
                None => missing.push(id.to_string()),
            }
        }
        let stats = futures::stream::iter(missing)
            .map(|id| {
                let client = client.clone();
                async move {
                    let stats = client.stats(&id).await;
                    (id, stats)
                }
            })
            .buffer_unordered(self.config.stats_concurrency)
            .collect::<HashMap<_, _>>();
        let (inspections, one_shot) = futures::join!(inspections, stats);
        let mut stats = streamed;
        stats.extend(one_shot);
        let fetched: Vec<_> = inspections
            .into_iter()
            .map(|(id, inspect)| {
                let s = stats.remove(&id);
                (id, inspect, s)
            })
            .collect();

        let mut problems = Vec::new();
        // Image build times change only with the image, so each image is inspected once.
        let new_images: HashSet<String> = fetched
            .iter()
            .filter_map(|(_, i, _)| i.as_ref().ok()?.image.clone())
            .filter(|img| !self.images.contains_key(img))
            .collect();
        let ages: Vec<_> = futures::stream::iter(new_images)
            .map(|img| {
                let client = client.clone();
                async move {
                    let created = client.image_created_ms(&img).await;
                    (img, created)
                }
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        for (img, created) in ages {
            match created {
                Ok(c) => {
                    self.images.insert(img, c);
                }
                Err(e) => problems.push(format!("image age: {e}")),
            }
        }

        let now = now_ms();
        let mut containers = Vec::with_capacity(fetched.len());
        let mut next_prev = HashMap::new();
        let mut events = Vec::new();
        for (id, inspect, stats) in fetched {
            let inspect = match inspect {
                Ok(i) => i,
                // Removed between the list and the inspection: not a problem.
                Err(DockerError::NotFound(_)) => continue,
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            };
            let stats = match &stats {
                Some(Ok(s)) => Ok(s),
                Some(Err(e)) => {
                    problems.push(e.to_string());
                    Err(e.to_string())
                }
                None => Err("not running".to_string()),
            };
            let image_created = inspect
                .image
                .as_ref()
                .and_then(|i| self.images.get(i).copied().flatten());
            let (mut c, sample) = convert::container(
                &inspect,
                stats,
                image_created,
                self.prev.get(&id),
                &self.rules,
                now,
            );
            if let Some(s) = sample {
                next_prev.insert(id.clone(), s);
            }
            events.extend(self.track_health(&mut c, now));
            containers.push(c);
        }
        self.record_events(events).await;
        self.prev = next_prev;
        let live: HashSet<&str> = containers.iter().map(|c| c.id.as_str()).collect();
        self.health.retain(|id, _| live.contains(id.as_str()));
        self.watchdog.retain(&live);
        Ok(Collected {
            containers,
            problems,
        })
    }

    /// Notes health transitions (Steward's own history beside Docker's five-entry log) and
    /// sets "unhealthy since" from it when Steward saw the transition itself; returns the event
    /// to record, written with the round's others.
    fn track_health(&mut self, c: &mut Container, now: i64) -> Option<ContainerEventRecord> {
        match self.health.get(&c.id).copied() {
            Some((before, since)) if before == c.health => {
                if c.health == Health::Unhealthy {
                    c.unhealthy_since_ms =
                        Some(c.unhealthy_since_ms.map_or(since, |s| s.min(since)));
                }
                None
            }
            Some((before, _)) => {
                self.health.insert(c.id.clone(), (c.health, now));
                if c.health == Health::Unhealthy {
                    c.unhealthy_since_ms = Some(now);
                }
                Some(ContainerEventRecord {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    kind: ContainerEventKind::Health,
                    detail: Some(format!("{} → {}", before.as_str(), c.health.as_str())),
                })
            }
            None => {
                // First sight: Docker's log is the best estimate of when it turned unhealthy.
                let since = c.unhealthy_since_ms.unwrap_or(now);
                self.health.insert(c.id.clone(), (c.health, since));
                None
            }
        }
    }

    /// Runs the watchdog over a round's containers: restarts, records every decision that
    /// changed (the container events in one batch, then the audit entries), and fills each
    /// container's watchdog view.
    pub async fn watch(&mut self, containers: &mut [Container]) {
        let now = now_ms();
        let dry_run = self.watchdog.config().dry_run;
        let stop_timeout = Duration::from_secs(self.config.stop_timeout_secs);
        let mut events = Vec::new();
        let mut entries = Vec::new();
        for c in containers.iter_mut() {
            let Some(decision) = self.watchdog.decide(c, now) else {
                self.watchdog.annotate(c);
                continue;
            };
            let mut text = decision.describe(dry_run);
            let (outcome, alert) = match &decision {
                Decision::Restart { .. } if dry_run => (Some(Outcome::DryRun), false),
                Decision::Restart { .. } => {
                    let result = match self.handle.get().await {
                        Ok(client) => client.restart(&c.id, stop_timeout).await,
                        Err(e) => Err(e),
                    };
                    match result {
                        Ok(()) => (Some(Outcome::Ok), false),
                        Err(e) => {
                            text = format!("restart failed: {e}");
                            (Some(Outcome::Failed), true)
                        }
                    }
                }
                Decision::GiveUp { .. } => (Some(Outcome::GaveUp), true),
                Decision::Skip(_) => (Some(Outcome::Skipped), false),
                Decision::Wait(_) => (None, false),
            };
            let changed = self.watchdog.note(&c.id, &text, now);
            // Restarts are always recorded; other decisions when they change.
            if changed || matches!(decision, Decision::Restart { .. }) {
                if let Some(outcome) = outcome {
                    let action = match decision {
                        Decision::GiveUp { .. } => Action::WatchdogGiveUp,
                        Decision::Skip(_) => Action::WatchdogSkip,
                        _ => Action::WatchdogRestart,
                    };
                    entries.push((action, outcome, c.name.clone(), text.clone()));
                }
                if alert {
                    tracing::error!(container = %c.name, "watchdog: {text}");
                } else {
                    tracing::info!(container = %c.name, "watchdog: {text}");
                }
                events.push(ContainerEventRecord {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    kind: ContainerEventKind::Watchdog,
                    detail: Some(text),
                });
            }
            self.watchdog.annotate(c);
        }
        self.record_events(events).await;
        for (action, outcome, name, text) in &entries {
            self.audit
                .record(Entry {
                    actor: "watchdog",
                    action: *action,
                    target: name,
                    outcome: *outcome,
                    detail: Some(text),
                })
                .await;
        }
    }
}

impl periodic::Collector for DockerCollector {
    type Data = Vec<Container>;

    fn name(&self) -> &'static str {
        NAME
    }

    async fn collect(&mut self) -> Result<periodic::Collected<Vec<Container>>, String> {
        let c = self.collect_once().await.map_err(|e| e.to_string())?;
        Ok(periodic::Collected {
            data: c.containers,
            problems: c.problems,
        })
    }

    /// The watchdog runs outside the round's timeout: a restart lasts as long as the container
    /// takes to stop.
    async fn after(&mut self, containers: &mut Vec<Container>) {
        self.watch(containers).await;
        // After the watchdog, so its restarts of this round are counted.
        for c in containers.iter_mut() {
            c.steward_restarts = self.audit.restarts_of(&c.name);
        }
    }
}

/// The collection loop: a round every `interval` and whenever the engine reports a change (cut
/// off at 3 × the call timeout), status published every round.
pub async fn run(
    collector: DockerCollector,
    interval: Duration,
    bus: Arc<Bus>,
    cancel: CancellationToken,
) {
    let round_timeout = Duration::from_secs(collector.config.call_timeout_secs * 3);
    let host = local_host();
    // The engine's events wake a round at once; the interval remains the safety net.
    let wake = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(crate::docker::events::run(
        collector.handle.clone(),
        wake.clone(),
        collector.audit.clone(),
        bus.clone(),
        cancel.clone(),
    ));
    periodic::run_woken(
        collector,
        interval,
        round_timeout,
        Some(wake),
        cancel,
        move |items, status| {
            bus.publish(Event::Containers {
                host: host.clone(),
                items: items.map(Arc::new),
                at_ms: now_ms(),
                status,
            })
        },
    )
    .await
}
