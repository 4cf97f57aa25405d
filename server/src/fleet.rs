//! The fleet on the hub: hosts that push heartbeats (`steward agent`), their tokens, and the
//! read model of their latest state.
//!
//! A heartbeat is validated in the request ([`heartbeat::validate`], pure), then queued for the
//! **group commit**: one task takes every heartbeat waiting (up to [`BATCH`]), writes their
//! samples into history and their hosts' rows in one go, and only then answers each request;
//! the agent deletes a heartbeat from its buffer only after that answer. A full queue answers
//! 503, so an agent backs off instead of the hub's memory growing. Pages and the fleet API read
//! the in-memory state, never the database.

pub mod actions;
pub mod agent;
pub mod agent_metrics;
pub mod buffer;
pub mod dashboard;
pub mod heartbeat;
pub mod latest;
pub mod replica_sync;
pub mod runner;
pub mod store;
pub mod sweep;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use app::fleet::action::{ActionKind, ActionOrder, FleetAction};
use app::fleet::spark::{SparkRing, SPARK_METRICS, SPARK_POINTS};
use app::fleet::{
    group_score, AgentStatus, Badge, BadgeCounts, ContainerCounts, FleetHost, FleetPage, GroupView,
    HealthCheck, HealthCounts, IngestStats, SweepStats, Workers,
};
use app::overview::score::{self, Score};
use app::vitals::thresholds::Thresholds;
use app::vitals::CollectorStatus;
use app::vitals::Vitals;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::config::FleetConfig;
use crate::platform::bus::HostId;
use crate::platform::periodic::StatusBook;
use crate::remote_write::{self, RemoteWriter};
use crate::store::audit::AuditLog;
use crate::store::history::HostHistory;
use crate::store::lease::Holder;
use app::shared::clock::now_ms;
use heartbeat::{Accepted, Limits};
use latest::Latest;
use store::{FleetError, FleetStore, HostRow, HostUpdate, LatestRow, TokenCheck};

/// Most heartbeats in one commit.
pub const BATCH: usize = 1024;
/// Rejection reasons kept per host.
const KEEP_REASONS: usize = 5;

/// Why a heartbeat was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the hub is busy: {0} heartbeats wait to be stored; retry later")]
    Busy(usize),
    #[error("the hub is shutting down")]
    Closed,
    #[error("could not store the heartbeat: {0}")]
    Store(String),
}

/// A validated heartbeat waiting for its commit.
struct Pending {
    host: String,
    digest: String,
    received_ms: i64,
    accepted: Accepted,
    /// The heartbeat's state for the other replicas ([`latest::encode`]), worded in the
    /// request (in parallel) rather than in the one commit task; `None` on a hub alone.
    shared_state: Option<String>,
    /// The answer: the actions for the agent to run, once the heartbeat is committed.
    done: oneshot::Sender<Result<Vec<ActionOrder>, String>>,
}

/// What the hub keeps in memory per host.
#[derive(Default)]
struct HostEntry {
    row: HostRow,
    status: Option<AgentStatus>,
    /// The newest heartbeat by collection time (a replayed old one does not replace it).
    vitals: Option<Arc<Vitals>>,
    score: Option<Score>,
    containers: Option<ContainerCounts>,
    last_rejections: VecDeque<String>,
    /// The sweep's last check of the host's address.
    health: Option<HealthCheck>,
    /// From the newest heartbeat: its unhealthy containers, the actions its agent allows.
    unhealthy: Vec<String>,
    allowed: Vec<ActionKind>,
    /// From the newest heartbeat: its GPUs, or why the agent could not read them.
    gpus: Vec<app::models::GpuSummary>,
    gpu_error: Option<String>,
    /// From the newest heartbeat: why its agent could not read Docker.
    containers_error: Option<String>,
    /// From the newest heartbeat: its containers, in the page's order.
    container_list: Vec<app::fleet::HostContainer>,
    /// From the newest heartbeat: its model servers.
    models: Vec<app::fleet::HostBackend>,
    /// The card's lines: per-minute means of the last half hour.
    sparks: SparkRing,
    /// The mount its score's disk dimension reads (from its newest heartbeat).
    disk_mount: Option<String>,
    /// Its recent fleet actions, newest first.
    actions: VecDeque<FleetAction>,
}

/// A host as its trends see it ([`Fleet::trend_view`]).
pub struct HostTrendView {
    pub disk_mount: String,
    pub silent_since_ms: Option<i64>,
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct FleetStats {
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub busy: AtomicU64,
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
}

pub struct Fleet {
    store: FleetStore,
    config: FleetConfig,
    thresholds: Thresholds,
    hosts: Mutex<BTreeMap<String, HostEntry>>,
    unknown_tokens: AtomicU64,
    /// When the unknown-token count was last stored.
    unknown_saved_ms: AtomicI64,
    queue: mpsc::Sender<Pending>,
    pub stats: FleetStats,
    sweep: Mutex<SweepStats>,
    /// Every group, also those without hosts.
    groups: Mutex<BTreeSet<String>>,
    /// Bumped on every change to the hosts' state (commits, checks, edits), for the fleet
    /// panel's event stream.
    version: watch::Sender<u64>,
    audit: AuditLog,
    /// Confirmations of fleet actions not yet used, by token.
    plans: Mutex<std::collections::HashMap<String, actions::StoredPlan>>,
    /// Where committed samples are also sent, when `[remote_write]` is configured.
    remote_write: Option<Arc<RemoteWriter>>,
    /// When [`Fleet::refresh`] last read the shared database (replicas only).
    synced_ms: AtomicI64,
    /// This process's name on the hosts' latest states it shares, when the registry is
    /// shared (PostgreSQL); `None` on a hub alone.
    writer: Option<String>,
}

impl Fleet {
    /// Loads the hosts and starts the group commit (stopped by `cancel`).
    pub async fn start(
        history: Arc<dyn HostHistory>,
        store: FleetStore,
        config: FleetConfig,
        thresholds: Thresholds,
        audit: AuditLog,
        remote_write: Option<Arc<RemoteWriter>>,
        cancel: CancellationToken,
    ) -> Result<(Arc<Self>, tokio::task::JoinHandle<()>), FleetError> {
        let hosts = store
            .hosts()
            .await?
            .into_iter()
            .map(|row| {
                (
                    row.host.clone(),
                    HostEntry {
                        status: row.agent_status.as_deref().and_then(parse_status),
                        row,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let mut hosts: BTreeMap<String, HostEntry> = hosts;
        for (host, check) in store.latest_health().await? {
            if let Some(h) = hosts.get_mut(&host) {
                h.health = Some(check);
            }
        }
        for a in store.recent_actions().await? {
            if let Some(h) = hosts.get_mut(&a.host) {
                h.actions.push_back(a);
            }
        }
        // A replica shows every host's last known state at once, not after its next heartbeat.
        let writer = store.is_shared().then(|| {
            format!(
                "{}-{}",
                std::process::id(),
                &crate::auth::password::random_token()[..12]
            )
        });
        if writer.is_some() {
            let rows = store.latest_since(0, "").await?;
            for problem in take_latest(&mut hosts, rows).problems() {
                tracing::warn!("fleet: {problem}");
            }
        }
        let groups = store.groups().await?.into_iter().collect();
        let sweep = SweepStats {
            enabled: config.sweep.enabled,
            interval_secs: config.sweep.interval_secs,
            concurrency: config.sweep.concurrency,
            timeout_ms: config.sweep.timeout_ms,
            ..Default::default()
        };
        let unknown = store.unknown_tokens().await?;
        let (tx, rx) = mpsc::channel(config.ingest_queue as usize);
        let fleet = Arc::new(Self {
            store,
            config,
            thresholds,
            hosts: Mutex::new(hosts),
            unknown_tokens: AtomicU64::new(unknown),
            unknown_saved_ms: AtomicI64::new(0),
            queue: tx,
            stats: FleetStats::default(),
            sweep: Mutex::new(sweep),
            groups: Mutex::new(groups),
            version: watch::Sender::new(0),
            audit,
            plans: Mutex::new(Default::default()),
            remote_write,
            synced_ms: AtomicI64::new(now_ms()),
            writer,
        });
        let task = tokio::spawn(fleet.clone().commit_loop(history, rx, cancel));
        Ok((fleet, task))
    }

    /// Draws the cards' lines from the stored per-minute means of the last half hour, so a
    /// restarted hub shows them at once, not only after half an hour of heartbeats. Reads
    /// [`BACKFILL_HOSTS`] hosts at a time, so memory stays bounded at any fleet size, beside
    /// ingest (heartbeats that come meanwhile keep their minutes). Returns the job's status: a
    /// failed read leaves the lines to the heartbeats and says so there, not only in the log.
    pub async fn backfill_sparks(&self, history: &dyn HostHistory) -> CollectorStatus {
        let mut book = StatusBook::new("fleet_spark_backfill");
        book.begin();
        let names = SPARK_METRICS.map(|(name, label)| app::vitals::series_key(name, label));
        let from = now_ms() - SPARK_POINTS as i64 * 60_000;
        let hosts: Vec<String> = self.lock().keys().cloned().collect();
        let mut drawn = 0;
        for chunk in hosts.chunks(BACKFILL_HOSTS) {
            let rows = match history.host_minutes(chunk, &names, from).await {
                Ok(rows) => rows,
                Err(e) => {
                    let message = format!(
                        "the cards' lines of {} hosts start empty: the stored minutes could not be read: {e}",
                        hosts.len() - drawn
                    );
                    tracing::warn!("fleet: {message}");
                    return book.failed(message);
                }
            };
            let rings = spark_rings(rows, &names);
            let mut entries = self.lock();
            for (host, ring) in rings {
                if let Some(h) = entries.get_mut(&host) {
                    h.sparks.backfill(ring);
                }
            }
            drawn += chunk.len();
        }
        if !hosts.is_empty() {
            self.changed();
        }
        let status = book.succeeded(&[]);
        tracing::info!(
            "fleet: the cards' lines of {drawn} hosts drawn from stored minutes in {} ms",
            status.last_duration_ms.unwrap_or_default()
        );
        status
    }

    pub fn store(&self) -> &FleetStore {
        &self.store
    }

    pub fn limits(&self) -> Limits {
        Limits {
            clock_skew_ms: self.config.clock_skew_secs as i64 * 1000,
            max_age_ms: self.config.max_age_secs as i64 * 1000,
        }
    }

    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    pub fn body_limit(&self) -> usize {
        self.config.heartbeat_body_limit as usize
    }

    /// Checks an agent's token, keeping the in-memory counters in step with the database's.
    pub async fn authenticate(&self, token: &str) -> Result<TokenCheck, FleetError> {
        let check = self.store.check(token).await?;
        match &check {
            TokenCheck::Unknown => {
                // Anyone can send these: counted in memory, stored at most every 10 s.
                let total = self.unknown_tokens.fetch_add(1, Ordering::Relaxed) + 1;
                let now = now_ms();
                let last = self.unknown_saved_ms.load(Ordering::Relaxed);
                if now - last >= 10_000
                    && self
                        .unknown_saved_ms
                        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    self.store.save_unknown_tokens(total).await?;
                }
            }
            TokenCheck::Refused { host, .. } => {
                if let Some(h) = self.lock().get_mut(host) {
                    h.row.refused_tokens += 1;
                }
            }
            TokenCheck::Valid { host, .. } => {
                // A host added by `steward host add` while the hub runs.
                if !self.lock().contains_key(host) {
                    if let Some(row) = self.store.host(host).await? {
                        self.lock().entry(host.clone()).or_insert(HostEntry {
                            row,
                            ..Default::default()
                        });
                    }
                }
            }
        }
        Ok(check)
    }

    /// Queues a validated heartbeat and waits for its commit; answers the actions for the
    /// agent to run.
    pub async fn ingest(
        &self,
        host: String,
        digest: String,
        accepted: Accepted,
    ) -> Result<Vec<ActionOrder>, IngestError> {
        let (done, wait) = oneshot::channel();
        let shared_state = self.writer.is_some().then(|| latest::encode(&accepted));
        let pending = Pending {
            host,
            digest,
            received_ms: now_ms(),
            accepted,
            shared_state,
            done,
        };
        match self.queue.try_send(pending) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.busy.fetch_add(1, Ordering::Relaxed);
                return Err(IngestError::Busy(self.config.ingest_queue as usize));
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(IngestError::Closed),
        }
        match wait.await {
            Ok(Ok(orders)) => Ok(orders),
            Ok(Err(e)) => Err(IngestError::Store(e)),
            Err(_) => Err(IngestError::Closed),
        }
    }

    /// Counts a heartbeat refused by validation on its host.
    pub fn refused(&self, host: &str, reason: &str) {
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        if let Some(h) = self.lock().get_mut(host) {
            remember(
                &mut h.last_rejections,
                format!("heartbeat refused: {reason}"),
            );
        }
    }

    async fn commit_loop(
        self: Arc<Self>,
        history: Arc<dyn HostHistory>,
        mut rx: mpsc::Receiver<Pending>,
        cancel: CancellationToken,
    ) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let n = tokio::select! {
                _ = cancel.cancelled() => 0,
                n = rx.recv_many(&mut batch, BATCH) => n,
            };
            if n == 0 {
                break;
            }
            self.commit(history.as_ref(), std::mem::take(&mut batch))
                .await;
        }
        // Answers what still waits, so no agent hangs until its timeout.
        rx.close();
        while let Some(p) = rx.recv().await {
            let _ = p.done.send(Err("the hub is shutting down".into()));
        }
    }

    async fn commit(&self, history: &dyn HostHistory, batch: Vec<Pending>) {
        let samples: Vec<(HostId, Vec<_>)> = batch
            .iter()
            .map(|p| (HostId::from(p.host.as_str()), p.accepted.samples()))
            .collect();
        let refs: Vec<(HostId, &[_])> = samples
            .iter()
            .map(|(h, s)| (h.clone(), s.as_slice()))
            .collect();
        let updates: Vec<HostUpdate> = batch
            .iter()
            .map(|p| HostUpdate {
                host: p.host.clone(),
                digest: p.digest.clone(),
                received_ms: p.received_ms,
                seq: p.accepted.seq,
                agent_version: p.accepted.agent_version.clone(),
                agent_status: status_str(p.accepted.status),
                rejected: p.accepted.rejected.len() as u64,
                clamped: p.accepted.clamped.len() as u64,
                agent_dropped: p.accepted.buffer.dropped_total,
            })
            .collect();
        let shared: Vec<LatestRow> = match &self.writer {
            Some(writer) => batch
                .iter()
                .filter_map(|p| {
                    Some(LatestRow {
                        host: p.host.clone(),
                        collected_ms: p.accepted.vitals.collected_at_ms,
                        writer: writer.clone(),
                        state: p.shared_state.clone()?,
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        let now = now_ms();
        let (changed, orders) = self.action_changes(&batch, now);
        let result = match history.write_hosts(&refs).await {
            Ok(()) => self
                .store
                .record(&updates, &changed, &shared)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match &result {
            Ok(()) => {
                self.stats.commits.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .accepted
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                let groups: Vec<Option<Arc<str>>> = {
                    let mut hosts = self.lock();
                    for p in &batch {
                        self.apply(&mut hosts, p);
                    }
                    actions::keep(&mut hosts, &changed);
                    match &self.remote_write {
                        Some(_) => samples
                            .iter()
                            .map(|(host, _)| {
                                hosts
                                    .get(host.as_ref())
                                    .and_then(|h| h.row.group.as_deref())
                                    .map(Arc::from)
                            })
                            .collect(),
                        None => Vec::new(),
                    }
                };
                // Queued after the hosts lock is released: ingest holds one lock at a time.
                if let Some(w) = &self.remote_write {
                    for ((host, samples), group) in samples.into_iter().zip(groups) {
                        w.push(remote_write::Entry {
                            host,
                            group,
                            samples,
                        });
                    }
                }
                self.audit_finished(&changed);
                self.changed();
            }
            Err(e) => {
                self.stats.commit_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!("fleet: {} heartbeats not stored: {e}", batch.len());
            }
        }
        for (p, orders) in batch.into_iter().zip(orders) {
            let _ = p.done.send(result.clone().map(|()| orders));
        }
    }

    /// Applies a committed heartbeat to its host's in-memory entry.
    fn apply(&self, hosts: &mut BTreeMap<String, HostEntry>, p: &Pending) {
        let h = hosts.entry(p.host.clone()).or_insert_with(|| HostEntry {
            row: HostRow {
                host: p.host.clone(),
                created_ms: p.received_ms,
                ..Default::default()
            },
            ..Default::default()
        });
        let a = &p.accepted;
        h.row.last_heartbeat_ms = Some(h.row.last_heartbeat_ms.unwrap_or(0).max(p.received_ms));
        h.row.heartbeats_total += 1;
        h.row.rejected_fields += a.rejected.len() as u64;
        h.row.clamped_fields += a.clamped.len() as u64;
        h.row.agent_dropped = a.buffer.dropped_total;
        h.row.agent_version = Some(a.agent_version.clone());
        for r in a.rejected.iter().chain(&a.clamped) {
            remember(&mut h.last_rejections, r.clone());
        }
        let spark_values =
            SPARK_METRICS.map(|(name, label)| a.vitals.metric(name, label).and_then(|m| m.value));
        h.sparks.push(a.vitals.collected_at_ms, spark_values);
        let newer = h
            .vitals
            .as_ref()
            .is_none_or(|v| v.collected_at_ms <= a.vitals.collected_at_ms);
        if newer {
            h.take(Latest::of(a));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, HostEntry>> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Says the hosts' state changed (watchers see the newest version only).
    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// The change counter, for the fleet panel's event stream.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Notes a host added or changed through the API or the CLI.
    pub async fn reload_host(&self, host: &str) -> Result<(), FleetError> {
        match self.store.host(host).await? {
            Some(row) => {
                let mut hosts = self.lock();
                let entry = hosts.entry(host.to_string()).or_default();
                // A check of another (or no) address says nothing about the new one.
                if entry.row.address != row.address {
                    entry.health = None;
                }
                entry.row = row;
            }
            None => {
                self.lock().remove(host);
            }
        }
        self.changed();
        Ok(())
    }

    /// A page of hosts matching the filter, with counts and groups over the whole fleet.
    pub fn page(&self, filter: &HostFilter, now: i64) -> FleetPage {
        self.page_of(filter, now, Shape::Full)
    }

    /// The same page with each host as its card needs it ([`FleetHost::for_card`]), copied
    /// from the state without the rest: the fleet panel's page.
    pub fn cards(&self, filter: &HostFilter, now: i64) -> FleetPage {
        self.page_of(filter, now, Shape::Card)
    }

    fn page_of(&self, filter: &HostFilter, now: i64, shape: Shape) -> FleetPage {
        let hosts = self.lock();
        let mut counts = BadgeCounts::default();
        let mut health = HealthCounts::default();
        let mut groups: BTreeMap<String, (BadgeCounts, Vec<Option<u32>>)> = self
            .lock_groups()
            .iter()
            .map(|g| (g.clone(), Default::default()))
            .collect();
        let mut matched = Vec::new();
        for (name, h) in hosts.iter() {
            let badge = Badge::of(h.row.last_heartbeat_ms, now);
            counts.add(badge);
            if h.row.address.is_some() {
                health.add(h.health.as_ref().map(|c| c.status));
            }
            if let Some(g) = h.row.group.as_ref().and_then(|g| groups.get_mut(g)) {
                g.0.add(badge);
                g.1.push(h.score.as_ref().and_then(|s| s.value));
            }
            if filter.badge.is_some_and(|b| b != badge)
                || filter
                    .health
                    .is_some_and(|want| h.health.as_ref().map(|c| c.status) != Some(want))
                || filter
                    .group
                    .as_ref()
                    .is_some_and(|g| h.row.group.as_ref() != Some(g))
                || (!filter.query.is_empty() && !name.contains(&filter.query))
            {
                continue;
            }
            matched.push((h, badge));
        }
        let total = matched.len() as u32;
        let page = matched
            .into_iter()
            .skip(filter.offset)
            .take(filter.limit)
            .map(|(h, badge)| view(h, badge, shape))
            .collect();
        FleetPage {
            counts,
            matched: total,
            hosts: page,
            unknown_tokens: self.unknown_tokens.load(Ordering::Relaxed),
            now_ms: now,
            health,
            groups: groups
                .into_iter()
                .map(|(name, (counts, scores))| {
                    let hosts = scores.len() as u32;
                    let (scored, worst_score, average_score) = group_score(scores);
                    GroupView {
                        name,
                        hosts,
                        scored,
                        worst_score,
                        average_score,
                        counts,
                    }
                })
                .collect(),
        }
    }

    /// Hosts with an address, the ones checked longest ago (or never) first.
    pub fn sweep_targets(&self) -> Vec<sweep::Target> {
        let hosts = self.lock();
        let mut targets: Vec<(Option<i64>, sweep::Target)> = hosts
            .values()
            .filter_map(|h| {
                let url = h.row.address.clone()?;
                Some((
                    h.health.as_ref().map(|c| c.at_ms),
                    sweep::Target {
                        host: h.row.host.clone(),
                        url,
                    },
                ))
            })
            .collect();
        targets.sort_by_key(|(at, _)| *at);
        targets.into_iter().map(|(_, t)| t).collect()
    }

    /// Notes the start of a sweep round.
    pub fn sweep_started(&self, started_ms: i64, targets: u32) {
        let mut s = self.lock_sweep();
        s.running = true;
        s.targets = targets;
        s.last_run_started_ms = Some(started_ms);
    }

    /// Applies a round's checks; returns the ones that changed their host's health (to store).
    pub fn apply_checks(&self, checks: Vec<(String, HealthCheck)>) -> Vec<(String, HealthCheck)> {
        let checked = !checks.is_empty();
        let mut hosts = self.lock();
        let mut changes = Vec::new();
        for (host, check) in checks {
            // A host deleted during the round is not brought back.
            let Some(h) = hosts.get_mut(&host) else {
                continue;
            };
            if h.health.as_ref().map(|c| c.status) != Some(check.status) {
                changes.push((host, check.clone()));
            }
            h.health = Some(check);
        }
        drop(hosts);
        // A round with no host to check changed nothing (it runs every interval regardless).
        if checked {
            self.changed();
        }
        changes
    }

    /// Records a finished round (`None`: it failed or timed out) and the sweep's status.
    pub fn sweep_finished(
        &self,
        round: Option<&sweep::Round>,
        status: &CollectorStatus,
        holder: Holder,
    ) {
        let mut s = self.lock_sweep();
        s.running = false;
        s.leader = match holder {
            Holder::Alone => None,
            Holder::This => Some(true),
            Holder::Other => Some(false),
        };
        if round.is_some_and(|r| r.standby) {
            // Another replica sweeps: its checks reach this one through the database.
            s.last_error = None;
            return;
        }
        s.rounds_total += 1;
        s.last_run_duration_ms = status.last_duration_ms;
        s.last_error = status.message.clone();
        if let Some(r) = round {
            s.checks_total += r.checked as u64;
            s.checks_succeeded += r.succeeded as u64;
            s.checks_failed += (r.checked - r.succeeded) as u64;
            s.last_run_checked = r.checked;
            s.last_run_skipped = r.skipped;
        }
        s.success_rate =
            (s.checks_total > 0).then(|| s.checks_succeeded as f64 / s.checks_total as f64);
    }

    /// The sweep's and the ingest's statistics.
    pub fn workers(&self) -> Workers {
        Workers {
            sweep: self.lock_sweep().clone(),
            ingest: IngestStats {
                accepted: self.stats.accepted.load(Ordering::Relaxed),
                refused: self.stats.refused.load(Ordering::Relaxed),
                busy: self.stats.busy.load(Ordering::Relaxed),
                commits: self.stats.commits.load(Ordering::Relaxed),
                commit_failures: self.stats.commit_failures.load(Ordering::Relaxed),
            },
        }
    }

    /// Hosts per health status, for `/metrics`.
    pub fn health_counts(&self) -> HealthCounts {
        let mut c = HealthCounts::default();
        for h in self.lock().values().filter(|h| h.row.address.is_some()) {
            c.add(h.health.as_ref().map(|c| c.status));
        }
        c
    }

    /// Re-reads the groups after a change (hosts' groups come with [`Self::reload_host`]).
    pub async fn reload_groups(&self) -> Result<(), FleetError> {
        let groups: BTreeSet<String> = self.store.groups().await?.into_iter().collect();
        let rows = self.store.hosts().await?;
        let mut hosts = self.lock();
        for row in rows {
            if let Some(h) = hosts.get_mut(&row.host) {
                h.row.group = row.group;
            }
        }
        *self.lock_groups() = groups;
        self.changed();
        Ok(())
    }

    /// Brings this replica's memory in step with the shared database: hosts added, changed or
    /// deleted through another replica, their newest heartbeats and counters (the database
    /// holds every replica's commits), the health the sweep's leader stored, and the groups.
    /// Actions another replica queued or heard about come in too, so any replica delivers
    /// them (an agent runs an action id once, whoever delivers it twice), and the latest state
    /// (vitals, score, containers, GPUs) of hosts whose newest heartbeat another replica
    /// took. Returns the states it could not read (the rest is applied).
    pub async fn refresh(&self) -> Result<Vec<String>, FleetError> {
        let started = now_ms();
        let rows = self.store.hosts().await?;
        let health = self.store.latest_health().await?;
        let groups: BTreeSet<String> = self.store.groups().await?.into_iter().collect();
        // The margin covers a commit whose time was taken before this read and that became
        // visible after it.
        let since = self.synced_ms.load(Ordering::Relaxed) - 10_000;
        let actions = self.store.actions_since(since).await?;
        let shared = match &self.writer {
            Some(me) => self.store.latest_since(since, me).await?,
            None => Vec::new(),
        };
        // Said to the fleet stream only when something changed, so idle pages do not refetch.
        let mut dirty = false;
        let taken;
        {
            let mut hosts = self.lock();
            let names: std::collections::HashSet<&str> =
                rows.iter().map(|r| r.host.as_str()).collect();
            let before = hosts.len();
            hosts.retain(|host, _| names.contains(host.as_str()));
            dirty |= hosts.len() != before;
            for row in rows {
                let h = hosts.entry(row.host.clone()).or_default();
                if h.row == row {
                    continue;
                }
                dirty = true;
                if h.row.last_heartbeat_ms > row.last_heartbeat_ms {
                    // Committed here after the read: only what heartbeats do not change.
                    h.row.address = row.address;
                    h.row.group = row.group;
                    h.row.refused_tokens = h.row.refused_tokens.max(row.refused_tokens);
                } else {
                    h.status = row.agent_status.as_deref().and_then(parse_status);
                    h.row = row;
                }
            }
            for (host, check) in health {
                if let Some(h) = hosts.get_mut(&host) {
                    if h.health.as_ref().is_none_or(|c| c.at_ms < check.at_ms) {
                        h.health = Some(check);
                        dirty = true;
                    }
                }
            }
            for a in actions {
                if let Some(h) = hosts.get_mut(&a.host) {
                    dirty |= actions::merge(&mut h.actions, a);
                }
            }
            taken = take_latest(&mut hosts, shared);
            dirty |= taken.applied > 0;
        }
        self.synced_ms.store(started, Ordering::Relaxed);
        {
            let mut known = self.lock_groups();
            if *known != groups {
                *known = groups;
                dirty = true;
            }
        }
        if dirty {
            self.changed();
        }
        Ok(taken.problems())
    }

    fn lock_sweep(&self) -> std::sync::MutexGuard<'_, SweepStats> {
        self.sweep.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_groups(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One host's view, if it exists.
    pub fn host(&self, host: &str, now: i64) -> Option<FleetHost> {
        let hosts = self.lock();
        let h = hosts.get(host)?;
        let mut v = view(h, Badge::of(h.row.last_heartbeat_ms, now), Shape::Full);
        v.unhealthy = h.unhealthy.clone();
        v.container_list = h.container_list.clone();
        v.models = h.models.clone();
        v.actions = h.actions.iter().map(|a| actions::shown(a, now)).collect();
        Some(v)
    }

    /// What a host's trends need: the mount its score reads, and since when it has been silent
    /// (stale or missing); `None` for a host the fleet does not have.
    pub fn trend_view(&self, host: &str, now: i64) -> Option<HostTrendView> {
        let hosts = self.lock();
        let h = hosts.get(host)?;
        let badge = Badge::of(h.row.last_heartbeat_ms, now);
        Some(HostTrendView {
            disk_mount: h.disk_mount.clone().unwrap_or_else(|| "/".into()),
            silent_since_ms: matches!(badge, Badge::Stale | Badge::Missing)
                .then_some(h.row.last_heartbeat_ms)
                .flatten(),
        })
    }

    /// Hosts per badge, for `/metrics` and alerts.
    pub fn badges(&self, now: i64) -> Vec<(String, Badge, Option<i64>)> {
        self.lock()
            .iter()
            .map(|(n, h)| {
                (
                    n.clone(),
                    Badge::of(h.row.last_heartbeat_ms, now),
                    h.row.last_heartbeat_ms,
                )
            })
            .collect()
    }

    /// Each host's last heartbeat time for the `heartbeat_stale` rule. A host whose last
    /// heartbeat said it was draining (its agent stopped on purpose: a reboot, a
    /// `systemctl stop`) is not judged until it sends again.
    pub fn heartbeat_watch(&self) -> Vec<(String, Option<i64>)> {
        self.lock()
            .iter()
            .map(|(n, h)| {
                (
                    n.clone(),
                    watched_heartbeat(h.status, h.row.last_heartbeat_ms),
                )
            })
            .collect()
    }

    /// The remote writer, when `[remote_write]` is configured (for `/metrics`).
    pub fn remote_write(&self) -> Option<&RemoteWriter> {
        self.remote_write.as_deref()
    }

    pub fn unknown_tokens(&self) -> u64 {
        self.unknown_tokens.load(Ordering::Relaxed)
    }
}

/// Which hosts a page shows.
pub type HostFilter = app::fleet::FleetFilter;

/// How much of a host a page carries.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Full,
    Card,
}

fn view(h: &HostEntry, badge: Badge, shape: Shape) -> FleetHost {
    let (vitals, score) = match shape {
        Shape::Full => (h.vitals.as_deref().cloned(), h.score.clone()),
        Shape::Card => (
            h.vitals.as_deref().map(app::fleet::card_vitals),
            h.score.as_ref().map(app::fleet::card_score),
        ),
    };
    FleetHost {
        host: h.row.host.clone(),
        badge,
        created_ms: h.row.created_ms,
        last_heartbeat_ms: h.row.last_heartbeat_ms,
        agent_version: h.row.agent_version.clone(),
        status: h.status,
        vitals,
        score,
        containers: h.containers,
        heartbeats_total: h.row.heartbeats_total,
        rejected_fields: h.row.rejected_fields,
        clamped_fields: h.row.clamped_fields,
        last_rejections: h.last_rejections.iter().cloned().collect(),
        refused_tokens: h.row.refused_tokens,
        agent_dropped: h.row.agent_dropped,
        tokens: Vec::new(),
        address: h.row.address.clone(),
        health: h.health.clone(),
        group: h.row.group.clone(),
        health_changes: Vec::new(),
        unhealthy: Vec::new(),
        allowed_actions: h.allowed.clone(),
        actions: Vec::new(),
        gpus: h.gpus.clone(),
        gpu_error: h.gpu_error.clone(),
        containers_error: h.containers_error.clone(),
        container_list: Vec::new(),
        models: Vec::new(),
        sparks: h.sparks.sparks(),
    }
}

impl HostEntry {
    /// Takes a newer heartbeat's state (committed here, or by another replica).
    fn take(&mut self, l: Latest) {
        self.status = Some(l.status);
        self.containers = l.containers;
        self.score = Some(host_score(
            &l.vitals,
            &l.disk_mount,
            l.containers,
            l.containers_error.as_deref(),
        ));
        self.vitals = Some(Arc::new(l.vitals));
        self.unhealthy = l.unhealthy;
        self.allowed = l.allowed;
        self.gpus = l.gpus;
        self.gpu_error = l.gpu_error;
        self.containers_error = l.containers_error;
        self.container_list = l.container_list;
        self.models = l.models;
        if self.disk_mount.as_deref() != Some(l.disk_mount.as_str()) {
            self.disk_mount = Some(l.disk_mount);
        }
    }

    fn collected_ms(&self) -> Option<i64> {
        self.vitals.as_ref().map(|v| v.collected_at_ms)
    }
}

/// Each host's ring from stored minutes `(host, series, bucket, mean)` ordered by host and
/// bucket; `names` are the series of [`SPARK_METRICS`], in order.
/// Hosts whose stored minutes one read of the cards' lines takes: ~90 rows each.
const BACKFILL_HOSTS: usize = 500;

fn spark_rings(
    rows: Vec<(String, String, i64, f64)>,
    names: &[String; 3],
) -> BTreeMap<String, SparkRing> {
    let mut rings: BTreeMap<String, SparkRing> = BTreeMap::new();
    let mut minute: Option<(String, i64, [Option<f64>; 3])> = None;
    let mut flush = |m: Option<(String, i64, [Option<f64>; 3])>| {
        if let Some((host, bucket, values)) = m {
            rings.entry(host).or_default().push(bucket, values);
        }
    };
    for (host, series, bucket, mean) in rows {
        let Some(i) = names.iter().position(|n| *n == series) else {
            continue;
        };
        if !matches!(&minute, Some((h, b, _)) if *h == host && *b == bucket) {
            flush(minute.take());
            minute = Some((host, bucket, [None; 3]));
        }
        if let Some((_, _, values)) = &mut minute {
            values[i] = Some(mean);
        }
    }
    flush(minute);
    rings
}

/// What [`take_latest`] did.
#[derive(Debug, Default)]
struct Taken {
    applied: usize,
    /// `host: why` of each state that could not be read.
    unreadable: Vec<String>,
}

impl Taken {
    /// The status lines: the first few unreadable states, then how many more.
    fn problems(&self) -> Vec<String> {
        const SHOWN: usize = 3;
        let mut lines: Vec<String> = self.unreadable.iter().take(SHOWN).cloned().collect();
        if self.unreadable.len() > SHOWN {
            lines.push(format!(
                "and {} more hosts' stored states unreadable",
                self.unreadable.len() - SHOWN
            ));
        }
        lines
    }
}

/// Applies the latest states other replicas stored to the hosts they are newer for (their
/// sparklines get the point too).
fn take_latest(hosts: &mut BTreeMap<String, HostEntry>, rows: Vec<LatestRow>) -> Taken {
    let mut taken = Taken::default();
    for row in rows {
        let Some(h) = hosts.get_mut(&row.host) else {
            continue;
        };
        if h.collected_ms().is_some_and(|c| c >= row.collected_ms) {
            continue;
        }
        match latest::decode(&row.state) {
            Ok(l) => {
                let values = SPARK_METRICS
                    .map(|(name, label)| l.vitals.metric(name, label).and_then(|m| m.value));
                h.sparks.push(l.collected_ms(), values);
                h.take(l);
                taken.applied += 1;
            }
            Err(e) => taken.unreadable.push(format!(
                "{}: the latest state replica {} stored: {e}",
                row.host, row.writer
            )),
        }
    }
    taken
}

fn remember(list: &mut VecDeque<String>, reason: String) {
    list.push_front(reason);
    list.truncate(KEEP_REASONS);
}

/// A host's score from its heartbeat, with the same code as the local host's. A Docker its
/// agent could not read leaves the services dimension unknown, saying why.
pub fn host_score(
    v: &Vitals,
    disk_mount: &str,
    containers: Option<ContainerCounts>,
    containers_error: Option<&str>,
) -> Score {
    let mut inputs = crate::hub::score_inputs(Some(v), disk_mount);
    match (containers, containers_error) {
        (Some(c), _) => inputs.unhealthy_containers = Ok(c.unhealthy),
        (None, Some(e)) => {
            inputs.unhealthy_containers = Err(format!("the agent cannot read Docker: {e}"))
        }
        (None, None) => {}
    }
    inputs.last_cleanup = Err("cleanup runs are not reported by agents yet".into());
    score::compute(&inputs)
}

pub fn status_str(s: AgentStatus) -> &'static str {
    match s {
        AgentStatus::Ready => "ready",
        AgentStatus::Busy => "busy",
        AgentStatus::Draining => "draining",
    }
}

fn parse_status(s: &str) -> Option<AgentStatus> {
    match s {
        "ready" => Some(AgentStatus::Ready),
        "busy" => Some(AgentStatus::Busy),
        "draining" => Some(AgentStatus::Draining),
        _ => None,
    }
}

/// The last heartbeat the `heartbeat_stale` rule judges: none for a draining host.
fn watched_heartbeat(status: Option<AgentStatus>, last_ms: Option<i64>) -> Option<i64> {
    last_ms.filter(|_| status != Some(AgentStatus::Draining))
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::fleet::spark::GAP;

    #[test]
    fn a_draining_host_is_not_watched_for_stale_heartbeats() {
        let last = Some(1_000);
        assert_eq!(watched_heartbeat(Some(AgentStatus::Ready), last), last);
        assert_eq!(watched_heartbeat(Some(AgentStatus::Busy), last), last);
        assert_eq!(
            watched_heartbeat(None, last),
            last,
            "an agent that says nothing"
        );
        assert_eq!(watched_heartbeat(Some(AgentStatus::Draining), last), None);
        assert_eq!(watched_heartbeat(Some(AgentStatus::Ready), None), None);
    }

    #[test]
    fn a_docker_the_agent_cannot_read_is_an_unknown_dimension_saying_why() {
        let v = latest::tests::accepted().vitals;
        let reasons = |s: &Score| -> Vec<String> {
            s.dimensions
                .iter()
                .filter_map(|d| d.reason.clone())
                .collect()
        };
        let failed = host_score(&v, "/", None, Some("connection refused"));
        assert!(
            reasons(&failed).contains(&"the agent cannot read Docker: connection refused".into()),
            "{:?}",
            reasons(&failed)
        );
        let counted = ContainerCounts {
            total: 2,
            running: 2,
            unhealthy: 0,
        };
        let read = host_score(&v, "/", Some(counted), None);
        assert!(!reasons(&read).iter().any(|r| r.contains("Docker")));
    }

    #[test]
    fn stored_minutes_become_each_hosts_lines() {
        let names = SPARK_METRICS.map(|(n, l)| app::vitals::series_key(n, l));
        let t0 = 1_800_000_000_000 / 60_000 * 60_000;
        let row = |host: &str, i: usize, minute: i64, mean: f64| {
            (
                host.to_string(),
                names[i].clone(),
                t0 + minute * 60_000,
                mean,
            )
        };
        let rings = spark_rings(
            vec![
                row("a", 0, 0, 10.0),
                row("a", 1, 0, 50.0),
                row("a", 2, 0, 90.0),
                row("a", 0, 2, 30.0),
                ("a".into(), "load1".into(), t0, 4.0),
                row("b", 1, 1, 60.0),
            ],
            &names,
        );
        let a = rings["a"].sparks();
        assert_eq!(
            (a.cpu, a.mem, a.disk),
            (vec![10, GAP, 30], vec![50, GAP, GAP], vec![90, GAP, GAP]),
            "a minute without a row is a gap; other series are left out"
        );
        assert_eq!(rings["b"].sparks().mem, [60]);
        assert_eq!(rings.len(), 2);
    }

    #[test]
    fn a_card_copied_from_the_state_is_the_full_host_made_a_card() {
        let mut a = latest::tests::accepted();
        // The fixture's load plus the card's CPU and its top processes.
        let load = a.vitals.metrics[0].clone();
        a.vitals.metrics.push(app::vitals::Metric {
            name: "cpu_busy_pct".into(),
            value: Some(42.0),
            ..load.clone()
        });
        a.vitals.top_cpu.push(app::vitals::ProcessInfo {
            pid: 1,
            name: "init".into(),
            rss_bytes: 1 << 20,
            cpu_pct: Some(1.0),
            runtime_secs: 60,
        });
        let mut h = HostEntry::default();
        h.take(Latest::of(&a));
        let full = view(&h, Badge::Live, Shape::Full);
        let card = view(&h, Badge::Live, Shape::Card);
        let kept: Vec<_> = card
            .vitals
            .as_ref()
            .unwrap()
            .metrics
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(kept, ["cpu_busy_pct"], "load is not on a card");
        assert!(card.vitals.as_ref().unwrap().top_cpu.is_empty());
        assert!(!full.score.as_ref().unwrap().dimensions.is_empty());
        assert_eq!(card, full.for_card());
    }

    #[test]
    fn another_replicas_newer_state_is_taken_and_a_broken_one_is_said() {
        let a = latest::tests::accepted();
        let at = a.vitals.collected_at_ms;
        let row = |host: &str, collected_ms: i64, state: String| LatestRow {
            host: host.into(),
            collected_ms,
            writer: "other".into(),
            state,
        };
        let mut hosts: BTreeMap<String, HostEntry> = ["web-1", "web-2", "web-3"]
            .into_iter()
            .map(|h| (h.to_string(), HostEntry::default()))
            .collect();
        // web-3 holds a newer heartbeat of its own: the stored one is older, so skipped.
        let mut newer = Latest::of(&a);
        newer.vitals.collected_at_ms = at + 5_000;
        hosts.get_mut("web-3").unwrap().take(newer);
        let taken = take_latest(
            &mut hosts,
            vec![
                row("web-1", at, latest::encode(&a)),
                row("web-2", at, "{".into()),
                row("web-3", at, latest::encode(&a)),
                row("gone", at, latest::encode(&a)),
            ],
        );
        assert_eq!(taken.applied, 1);
        let web1 = &hosts["web-1"];
        assert_eq!(web1.collected_ms(), Some(at));
        assert!(web1.score.is_some(), "the score is computed here");
        assert_eq!(web1.unhealthy, ["api"]);
        assert_eq!(
            web1.container_list, a.container_list,
            "the host page's containers come along"
        );
        assert_eq!(web1.status, Some(AgentStatus::Busy));
        assert_eq!(hosts["web-2"].collected_ms(), None);
        assert_eq!(hosts["web-3"].collected_ms(), Some(at + 5_000));
        let problems = taken.problems();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with(
                "web-2: the latest state replica other stored: stored state is not readable"
            ),
            "{problems:?}"
        );
        let many = Taken {
            applied: 0,
            unreadable: (0..5).map(|i| format!("h{i}: broken")).collect(),
        };
        assert_eq!(
            many.problems().last().map(String::as_str),
            Some("and 2 more hosts' stored states unreadable")
        );
    }
}
