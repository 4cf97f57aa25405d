//! Alerts: the default rules ([`rules`]) are evaluated on every round the hub publishes, off the
//! request path; each rule instance runs through the pure state machine ([`engine`]); notices go
//! to the notifiers ([`notify`]), each on its own queue. Silences and resolved alerts are kept
//! in SQLite, so a restart loses neither. Pages and the API read the latest snapshot.

pub mod engine;
pub mod export;
pub mod history;
pub mod notify;
pub mod rules;
pub mod shared;
pub mod silences;
pub mod takeover;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use app::alerts::{
    instance_key, Alert, AlertState, Alerts, NewSilence, Severity, SilenceError, SilenceView,
};
use app::shared::clock::now_ms;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::AlertsConfig;
use crate::store::audit::{Action, AuditLog, Entry, Outcome};
use engine::{Instance, Notice, Phase, Timing};
use notify::{Kind, Notifiers, Payload};

/// Resolved alerts the snapshot shows.
pub const RECENT: usize = 100;
/// Resolved alerts kept (the oldest go first), in SQLite or in the shared PostgreSQL history.
const HISTORY_ROWS: i64 = 100_000;
/// The judge rewrites the shared fleet alerts at least this often (their readings move every
/// round; their state only now and then, and that is written at once).
const SHARED_REFRESH_MS: i64 = 30_000;
/// How long an acknowledgement asked of another replica shows here before its rows say so.
const ASKED_SHOWN_MS: i64 = 60_000;

/// Why an alert action failed.
/// What the rules read: every service with state to judge.
pub struct Watched {
    pub hub: Arc<crate::hub::Hub>,
    pub models: Arc<crate::models::ModelsService>,
    pub maintenance: Arc<crate::maintenance::Maintenance>,
    pub fleet: Arc<crate::fleet::Fleet>,
    /// Replicas sharing one fleet judge its rules one at a time: the holder of this lease.
    pub fleet_lease: Arc<crate::store::lease::Lease>,
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("no alert {0} is firing")]
    NotFiring(String),
    #[error("no active silence has id {0}")]
    UnknownSilence(i64),
    #[error(transparent)]
    Invalid(#[from] SilenceError),
    #[error(transparent)]
    Notify(#[from] notify::NotifyError),
    #[error("the alert store failed: {0}")]
    Store(#[from] sqlx::Error),
}

/// One tracked instance: its state and how to show it.
struct Tracked {
    rule: &'static str,
    labels: Vec<(String, String)>,
    instance: Instance,
    summary: String,
    numeric: bool,
    threshold: Option<f64>,
    /// The worst level this spell reached (what history records).
    worst: Option<Severity>,
}

impl Tracked {
    fn view(&self, silenced: bool) -> Option<Alert> {
        let (state, since_ms) = match self.instance.phase {
            Phase::Pending { since_ms } => (AlertState::Pending, since_ms),
            Phase::Firing { since_ms } => (AlertState::Firing, since_ms),
            Phase::Inactive => return None,
        };
        Some(Alert {
            rule: self.rule.to_string(),
            labels: self.labels.clone(),
            state,
            severity: self.instance.severity?,
            value: self.instance.value.filter(|_| self.numeric),
            threshold: self.threshold,
            summary: self.summary.clone(),
            since_ms,
            resolved_ms: None,
            acknowledged_by: self.instance.acknowledged_by.clone(),
            silenced,
            judged_on: None,
        })
    }

    /// A fleet instance another replica judged, taken over as it was (same spell, same
    /// acknowledgement, the notices it sent), so a failover does not notify it again.
    /// Shared jobs' instances are adopted too (this replica may not have read the report yet).
    fn adopt(held: shared::Held) -> Option<Self> {
        let a = held.alert;
        let phase = match a.state {
            AlertState::Pending => Phase::Pending {
                since_ms: a.since_ms,
            },
            AlertState::Firing => Phase::Firing {
                since_ms: a.since_ms,
            },
            AlertState::Resolved => return None,
        };
        Some(Self {
            rule: rules::shared_rule(&a.rule)?,
            instance: Instance {
                phase,
                severity: Some(a.severity),
                value: a.value,
                sent: held.sent,
                acknowledged_by: a.acknowledged_by,
                resolved_ms: None,
            },
            labels: a.labels,
            summary: a.summary,
            numeric: a.value.is_some(),
            threshold: a.threshold,
            worst: held.worst,
        })
    }
}

impl Tracked {
    /// Carries on what the judge did for an instance this replica judges too (a shared
    /// job's): the notice it sent and who acknowledged it.
    fn follow(&mut self, sent: Option<(Severity, i64)>, acknowledged_by: Option<String>) {
        self.instance.sent = sent;
        self.instance.acknowledged_by = acknowledged_by;
    }
}

/// What the judge last wrote to the shared table: each instance's state without its reading
/// (which moves every round), and when.
struct Written {
    states: Vec<(String, AlertState, Severity, i64, Option<String>, bool)>,
    at_ms: i64,
}

#[derive(Default)]
struct State {
    instances: BTreeMap<String, Tracked>,
    silences: Vec<SilenceView>,
    recent: VecDeque<Alert>,
    last_resend_ms: i64,
    evaluated_ms: Option<i64>,
    evaluation_us: Option<u64>,
    /// The fleet's alerts another replica judges, as it last wrote them.
    elsewhere: Vec<Alert>,
    /// Acknowledgements asked here of the judging replica: key → (by, when), shown until its
    /// rows carry them (or [`ASKED_SHOWN_MS`] passed).
    asked: HashMap<String, (String, i64)>,
    /// The judge's last write (`None`: write on the next round).
    written: Option<Written>,
    /// Why the shared state could not be read or written on the last try.
    sync_error: Option<String>,
    /// The last round's shared jobs' instances ([`rules::Round::shared_jobs`]): the judge
    /// shares them; a shared job deleted since still resolves quietly on another replica.
    shared_jobs: HashSet<String>,
    /// The last round's instances judged here that the judge notifies for (the shared jobs'
    /// on a replica that does not judge): an acknowledgement here is passed on to it.
    judged_elsewhere: HashSet<String>,
}

/// Where the alerts keep what must outlive a restart (see `HubState::alert_stores`).
pub struct Stores {
    pub history: Arc<dyn history::AlertHistoryDb>,
    pub silences: Arc<dyn silences::SilenceDb>,
    pub audit: AuditLog,
    /// This replica's host name (empty on the embedded default).
    pub node: String,
}

/// The alerts service: rules, state, silences, notifiers.
pub struct AlertsService {
    config: AlertsConfig,
    settings: rules::Settings,
    state: Mutex<State>,
    notifiers: Notifiers,
    tx: watch::Sender<Arc<Alerts>>,
    /// Resolved alerts: in the SQLite file, or on PostgreSQL shared by replicas.
    history: Option<Arc<dyn history::AlertHistoryDb>>,
    /// This replica's host name, written beside what it judges (empty on the embedded default).
    node: String,
    /// Silences: in the SQLite file, or in PostgreSQL shared by replicas.
    silence_db: Option<Arc<dyn silences::SilenceDb>>,
    /// The fleet's alerts shared with the other replicas (PostgreSQL only).
    shared: Option<shared::SharedAlerts>,
    audit: Option<AuditLog>,
    /// Filesystems whose week-long trend reaches 100 %, with the days until it does.
    disk_full: Mutex<Vec<(String, f64)>>,
}

/// How often the disk trends are projected again (an hour's samples change them little).
const PROJECT_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// The filesystems whose last week of `disk_used_pct` projects to 100 %, with the days left
/// (the trends page's projection, so the alert and the chart agree).
pub async fn disk_full_projections(
    store: &crate::store::history::HistoryStore,
    now: i64,
) -> Result<Vec<(String, f64)>, crate::store::history::HistoryError> {
    use app::trends::projection::{project, Projection, ProjectionRules};
    let prefix = format!("{}:", app::vitals::metric_def::MetricId::DiskUsedPct.name());
    let mut out = Vec::new();
    for series in store.series_with_prefix(&prefix).await? {
        let history = store.query(&series, "7d", now).await?;
        let points: Vec<(i64, f64)> = history.points.iter().map(|p| (p.ts_ms, p.avg)).collect();
        if let Projection::Rising { crossings, .. } =
            project(&points, &[100.0], now, &ProjectionRules::default())
        {
            if let Some(c) = crossings.first() {
                out.push((series[prefix.len()..].to_string(), c.in_days));
            }
        }
    }
    Ok(out)
}

impl AlertsService {
    /// Reads the notifiers' secrets; [`AlertsService::start`] runs their queues.
    pub fn new(config: AlertsConfig) -> Result<(Self, Vec<notify::Pending>), AlertError> {
        let (notifiers, pending) = Notifiers::load(&config)?;
        let settings = rules::Settings {
            clear_margin_pct: config.clear_margin_pct,
            overrides: config.rules.clone(),
            disk_full_days: config.disk_full_days as f64,
        };
        let first = Alerts {
            enabled: config.enabled,
            notifiers: notifiers.statuses(),
            ..Default::default()
        };
        Ok((
            Self {
                config,
                settings,
                state: Mutex::default(),
                notifiers,
                tx: watch::channel(Arc::new(first)).0,
                history: None,
                node: String::new(),
                silence_db: None,
                shared: None,
                audit: None,
                disk_full: Mutex::default(),
            },
            pending,
        ))
    }

    /// Keeps the history and the silences in `stores` and audits actions.
    pub fn with_store(mut self, stores: Stores) -> Self {
        self.history = Some(stores.history);
        self.silence_db = Some(stores.silences);
        self.audit = Some(stores.audit);
        self.node = stores.node;
        self
    }

    /// Shares the fleet's alerts with the other replicas through `shared`.
    pub fn with_shared(mut self, shared: Option<shared::SharedAlerts>) -> Self {
        self.shared = shared;
        self
    }

    /// Re-reads the silences other replicas may have added or ended (shared store only).
    /// A failed read keeps the silences known, and says so. Returns the failure.
    async fn reload_silences(&self) -> Option<String> {
        let db = self.silence_db.as_ref().filter(|d| d.shared())?;
        match db.active(now_ms()).await {
            Ok(silences) => {
                self.lock().silences = silences;
                None
            }
            Err(e) => {
                tracing::warn!("alerts: could not re-read the shared silences: {e}");
                Some(format!("the silences could not be read: {e}"))
            }
        }
    }

    /// On taking the `fleet alerts` lease over: adopts the fleet's alerts its last holder
    /// wrote. Fails when they cannot be read.
    async fn take_over(&self) -> Result<(), String> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        match shared.read().await {
            Ok(rows) => {
                self.adopt(rows.into_iter().map(|r| r.held));
                Ok(())
            }
            Err(e) => {
                tracing::warn!("alerts: could not adopt the fleet's shared alerts: {e}");
                Err(format!("the fleet's alerts could not be read: {e}"))
            }
        }
    }

    /// Before a round, with the fleet's alerts shared: the judge applies the acknowledgements
    /// asked on other replicas; the others read what the judge wrote. Returns the failure.
    async fn sync_before(&self, judging: bool) -> Option<String> {
        let shared = self.shared.as_ref()?;
        if !judging {
            return match shared.read().await {
                Ok(rows) => {
                    self.show_elsewhere(rows, now_ms());
                    None
                }
                Err(e) => {
                    tracing::warn!("alerts: could not read the fleet's shared alerts: {e}");
                    Some(format!("the fleet's alerts could not be read: {e}"))
                }
            };
        }
        match shared.take_acks().await {
            Ok(acks) => {
                let mut s = self.lock();
                for (key, by) in acks {
                    if let Some(t) = s.instances.get_mut(&key) {
                        t.instance.acknowledge(&by);
                    }
                }
                None
            }
            Err(e) => {
                tracing::warn!("alerts: could not take the acknowledgements asked elsewhere: {e}");
                Some(format!(
                    "the acknowledgements asked elsewhere could not be read: {e}"
                ))
            }
        }
    }

    /// Takes over the fleet instances another replica judged (this one holds the lease now).
    fn adopt(&self, held: impl IntoIterator<Item = shared::Held>) {
        let mut s = self.lock();
        s.elsewhere.clear();
        s.written = None;
        for h in held {
            let key = h.alert.key();
            // A shared job's alert judged here too: what the last judge sent and who
            // acknowledged it carry on (nothing sent there: it is notified from here now).
            if let Some(t) = s.instances.get_mut(&key) {
                t.follow(h.sent, h.alert.acknowledged_by);
                continue;
            }
            if let Some(t) = Tracked::adopt(h) {
                s.instances.insert(key, t);
            }
        }
    }

    /// Shows the fleet's alerts as the judging replica wrote them, with the acknowledgements
    /// asked here that it has not taken yet. A shared job's alert this replica judges too
    /// takes the judge's notices and acknowledgement.
    fn show_elsewhere(&self, rows: Vec<shared::Shared>, now: i64) {
        let mut s = self.lock();
        let State {
            elsewhere,
            asked,
            written,
            instances,
            ..
        } = &mut *s;
        // It judges nothing of the fleet now: the next time it does, it writes first.
        *written = None;
        let mut sent = HashMap::new();
        *elsewhere = rows
            .into_iter()
            .map(|r| {
                let mut a = r.held.alert;
                sent.insert(a.key(), r.held.sent);
                a.judged_on = Some(r.node);
                a
            })
            .collect();
        asked.retain(|key, (by, at)| {
            let Some(a) = elsewhere.iter_mut().find(|a| a.key() == *key) else {
                return false;
            };
            if a.acknowledged_by.is_some() || now - *at > ASKED_SHOWN_MS {
                return false;
            }
            a.acknowledged_by = Some(by.clone());
            true
        });
        for a in elsewhere.iter() {
            if let Some(t) = instances.get_mut(&a.key()) {
                let sent = sent.get(&a.key()).copied().flatten();
                t.follow(sent, a.acknowledged_by.clone());
            }
        }
    }

    /// The fleet instances this replica judges (the fleet rules' and the shared jobs'), as
    /// the other replicas are to see them.
    fn fleet_held(&self, now: i64) -> Vec<shared::Held> {
        let s = self.lock();
        s.instances
            .iter()
            .filter(|(key, t)| rules::fleet_rule(t.rule).is_some() || s.shared_jobs.contains(*key))
            .filter_map(|(_, t)| {
                Some(shared::Held {
                    alert: t.view(silenced(&s.silences, &t.labels, now))?,
                    sent: t.instance.sent,
                    worst: t.worst,
                })
            })
            .collect()
    }

    /// After the judge's round: writes its fleet instances when their state changed (or
    /// [`SHARED_REFRESH_MS`] passed). Returns the failure, if any.
    async fn sync_after(&self, now: i64) -> Option<String> {
        let shared = self.shared.as_ref()?;
        let held = self.fleet_held(now);
        let states = held
            .iter()
            .map(|h| {
                let a = &h.alert;
                let acked = a.acknowledged_by.clone();
                (a.key(), a.state, a.severity, a.since_ms, acked, a.silenced)
            })
            .collect();
        let fresh = self
            .lock()
            .written
            .as_ref()
            .is_some_and(|w| w.states == states && now - w.at_ms < SHARED_REFRESH_MS);
        if fresh {
            return None;
        }
        match shared.write(&held, now).await {
            Ok(()) => {
                self.lock().written = Some(Written { states, at_ms: now });
                None
            }
            Err(e) => {
                tracing::warn!("alerts: could not write the fleet's shared alerts: {e}");
                self.lock().written = None;
                Some(format!("the fleet's alerts could not be written: {e}"))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads the silences still in force and the latest history.
    pub async fn load(&self) -> Result<(), AlertError> {
        let Some(history) = &self.history else {
            return Ok(());
        };
        let silences = match &self.silence_db {
            Some(db) => db.active(now_ms()).await?,
            None => Vec::new(),
        };
        let recent = history.recent(RECENT as i64).await?;
        self.lock().silences = silences;
        self.show_recent(recent);
        self.publish();
        Ok(())
    }

    /// Shows these resolved alerts as the recent ones, each naming the replica that judged
    /// it when that was another one.
    fn show_recent(&self, rows: Vec<(Alert, String)>) {
        let recent = rows
            .into_iter()
            .map(|(mut a, node)| {
                a.judged_on = (!node.is_empty() && node != self.node).then_some(node);
                a
            })
            .collect();
        self.lock().recent = recent;
    }

    /// Starts the notifiers' queues and the evaluation loop.
    pub fn start(
        self: &Arc<Self>,
        pending: Vec<notify::Pending>,
        watched: Watched,
        store: Option<Arc<crate::store::history::HistoryStore>>,
        shutdown: &CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let Watched {
            hub,
            models,
            maintenance,
            fleet,
            fleet_lease,
        } = watched;
        let mut tasks = Notifiers::start(pending, shutdown);
        if let (true, Some(store)) = (self.config.enabled, store) {
            let me = self.clone();
            let shutdown = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    match disk_full_projections(&store, now_ms()).await {
                        Ok(p) => *me.disk_full.lock().unwrap_or_else(|e| e.into_inner()) = p,
                        // The history collector's own status shows a failing store.
                        Err(e) => tracing::warn!("disk projections: {e}"),
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(PROJECT_EVERY) => {}
                    }
                }
            }));
        }
        if self.config.enabled {
            let me = self.clone();
            let shutdown = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                let mut rx = hub.subscribe();
                let mut leads = false;
                let mut takeover = takeover::Takeover::default();
                loop {
                    // A replica that cannot ask keeps its last answer: dropping the fleet's
                    // alerts on a database hiccup would notify them again when it comes back.
                    leads = match fleet_lease.hold().await {
                        Ok(leads) => leads,
                        Err(e) => {
                            tracing::warn!("fleet alerts: {e}");
                            leads
                        }
                    };
                    let mut sync_error = me.reload_silences().await;
                    // A new holder judges the fleet only once it has adopted what the last one
                    // wrote; a failed read is tried again next round (`takeover.rs`).
                    let adopted = if takeover.must_adopt(leads) {
                        match me.take_over().await {
                            Ok(()) => Some(true),
                            Err(e) => {
                                sync_error.get_or_insert(e);
                                Some(false)
                            }
                        }
                    } else {
                        None
                    };
                    let judging = takeover.judges(leads, adopted);
                    if let Some(e) = me.sync_before(judging).await {
                        sync_error.get_or_insert(e);
                    }
                    let overview = rx.borrow_and_update().clone();
                    let models = models.snapshot();
                    let jobs_shared = maintenance.jobs_shared();
                    let maintenance = maintenance.snapshot();
                    let disk_full = me
                        .disk_full
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone();
                    let now = now_ms();
                    let hosts = fleet.heartbeat_watch();
                    let resolved = me.evaluate(
                        &rules::Inputs {
                            overview: &overview,
                            models: Some(&models),
                            maintenance: Some(&maintenance),
                            disk_full: &disk_full,
                            hosts: judging.then_some(&hosts[..]),
                            jobs_shared,
                            judges_fleet: judging,
                            now_ms: now,
                        },
                        now,
                    );
                    if judging {
                        if let Some(e) = me.sync_after(now).await {
                            sync_error.get_or_insert(e);
                        }
                    }
                    if let Some(e) = me.record_history(&resolved).await {
                        sync_error.get_or_insert(e);
                    }
                    // A shared history may have changed the recent ones (the evaluation has
                    // published this round's state already).
                    let reread = me.history.as_ref().is_some_and(|h| h.shared());
                    let changed = {
                        let mut s = me.lock();
                        std::mem::replace(&mut s.sync_error, sync_error.clone()) != sync_error
                    };
                    if changed || reread {
                        me.publish();
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        changed = rx.changed() => if changed.is_err() { return },
                    }
                }
            }));
        }
        tasks
    }

    /// One evaluation of every rule at `now`; sends what it must and returns the alerts that
    /// resolved (for the history).
    pub fn evaluate(&self, inputs: &rules::Inputs, now: i64) -> Vec<Alert> {
        let started = Instant::now();
        let mut round = rules::evaluate(inputs, &self.settings);
        let shared_jobs = std::mem::take(&mut round.shared_jobs);
        let mut notices = Vec::new();
        let mut resolved = Vec::new();
        let mut s = self.lock();
        let last = std::mem::replace(&mut s.shared_jobs, shared_jobs.clone());
        // The judge notifies for the shared jobs; another replica only shows them, and a
        // shared job deleted since the last round resolves quietly there too.
        let elsewhere: HashSet<String> = if inputs.judges_fleet {
            HashSet::new()
        } else {
            shared_jobs.into_iter().chain(last).collect()
        };
        s.judged_elsewhere = elsewhere.clone();
        let State {
            instances,
            silences,
            ..
        } = &mut *s;
        silences.retain(|x| x.ends_ms > now);
        // Another replica judges these now and notifies for them: no notice from here.
        instances.retain(|_, t| !round.handed_over.contains(&t.rule));
        let timing = |rule: &str| Timing {
            for_ms: self
                .settings
                .overrides
                .get(rule)
                .and_then(|o| o.for_secs)
                .unwrap_or(self.config.for_secs) as i64
                * 1000,
            repeat_ms: self.config.repeat_secs as i64 * 1000,
        };
        let mut seen = std::collections::HashSet::new();
        let step = |t: &mut Tracked,
                    th: &engine::Thresholds,
                    value: Option<f64>,
                    notices: &mut Vec<(Kind, Alert)>,
                    resolved: &mut Vec<Alert>| {
            let quiet = silenced(silences, &t.labels, now);
            let was = t.instance.phase;
            let was_severity = t.instance.severity;
            let notice = t.instance.step(th, &timing(t.rule), value, now, quiet);
            t.threshold = match t.instance.severity {
                Some(Severity::Critical) => th.crit,
                Some(Severity::Warning) => th.warn,
                None => t.threshold,
            }
            .filter(|_| t.numeric);
            if matches!(t.instance.phase, Phase::Firing { .. }) {
                t.worst = t.worst.max(t.instance.severity);
            }
            if let (Phase::Firing { since_ms }, Phase::Inactive) = (was, t.instance.phase) {
                resolved.push(Alert {
                    rule: t.rule.to_string(),
                    labels: t.labels.clone(),
                    state: AlertState::Resolved,
                    severity: t.worst.or(was_severity).unwrap_or(Severity::Warning),
                    value: t.instance.value.filter(|_| t.numeric),
                    threshold: t.threshold,
                    summary: t.summary.clone(),
                    since_ms,
                    resolved_ms: Some(now),
                    acknowledged_by: None,
                    silenced: quiet,
                    judged_on: None,
                });
                t.worst = None;
            }
            let kind = match notice {
                Some(Notice::Firing(_)) => Kind::Firing,
                Some(Notice::Escalated(_)) => Kind::Escalated,
                Some(Notice::Repeat(_)) => Kind::Repeat,
                Some(Notice::Resolved) => Kind::Resolved,
                None => return,
            };
            let alert = if kind == Kind::Resolved {
                resolved.last().cloned()
            } else {
                t.view(quiet)
            };
            if let Some(a) = alert {
                notices.push((kind, a));
            }
        };
        for r in round.readings {
            let key = instance_key(&r.labels);
            let judge_notifies = elsewhere.contains(&key);
            seen.insert(key.clone());
            let t = instances.entry(key).or_insert_with(|| Tracked {
                rule: r.rule,
                labels: r.labels.clone(),
                instance: Instance::default(),
                summary: r.summary.clone(),
                numeric: r.numeric,
                threshold: None,
                worst: None,
            });
            if r.value.is_some() {
                t.summary = r.summary;
            }
            let sent = t.instance.sent;
            step(t, &r.thresholds, r.value, &mut notices, &mut resolved);
            // Nothing is sent from here for it: what was sent stays the judge's word (a
            // replica taking the lease over notifies what its last judge did not).
            if judge_notifies {
                t.instance.sent = sent;
            }
        }
        // A covered rule's instance that is gone from the round is fine again.
        let fine = engine::Thresholds {
            direction: engine::Direction::Above,
            warn: Some(0.5),
            crit: None,
            clear_margin: 0.0,
        };
        for (key, t) in instances.iter_mut() {
            if !seen.contains(key) && round.covered.contains(&t.rule) {
                step(t, &fine, Some(0.0), &mut notices, &mut resolved);
            }
        }
        instances.retain(|_, t| t.instance.phase != Phase::Inactive);
        // What the judge notifies for and records is neither sent nor recorded from here.
        notices.retain(|(_, a)| !elsewhere.contains(&a.key()));
        resolved.retain(|a| !elsewhere.contains(&a.key()));
        for a in &resolved {
            s.recent.push_front(a.clone());
        }
        s.recent.truncate(RECENT);
        s.evaluated_ms = Some(now);
        s.evaluation_us = Some(started.elapsed().as_micros() as u64);
        let resend =
            self.notifiers.has_alertmanager() && now - s.last_resend_ms >= notify::AM_RESEND_MS;
        if resend {
            s.last_resend_ms = now;
        }
        drop(s);
        for (kind, alert) in notices {
            self.notifiers.send(&Payload {
                notice: kind,
                alert,
                sent_at_ms: now,
            });
        }
        self.notifiers.release_held(now);
        let snapshot = self.publish();
        if resend {
            let firing: Vec<Alert> = snapshot
                .active
                .iter()
                .filter(|a| {
                    a.state == AlertState::Firing && !a.silenced && !elsewhere.contains(&a.key())
                })
                .cloned()
                .collect();
            self.notifiers.resend_firing(&firing);
        }
        resolved
    }

    /// Rebuilds the snapshot from the state and publishes it.
    fn publish(&self) -> Arc<Alerts> {
        let s = self.lock();
        let now = now_ms();
        let mut active: Vec<Alert> = s
            .instances
            .values()
            .filter_map(|t| t.view(silenced(&s.silences, &t.labels, now)))
            .collect();
        // The fleet's alerts another replica judges (none while this one does).
        active.extend(
            s.elsewhere
                .iter()
                .filter(|a| !s.instances.contains_key(&a.key()))
                .cloned(),
        );
        // Firing before pending, critical before warning, newest first.
        active.sort_by(|a, b| {
            (b.state == AlertState::Firing, b.severity, b.since_ms).cmp(&(
                a.state == AlertState::Firing,
                a.severity,
                a.since_ms,
            ))
        });
        let snapshot = Arc::new(Alerts {
            enabled: self.config.enabled,
            active,
            recent: s.recent.iter().cloned().collect(),
            silences: s.silences.clone(),
            notifiers: self.notifiers.statuses(),
            evaluated_ms: s.evaluated_ms,
            evaluation_us: s.evaluation_us,
            quiet: self.notifiers.quiet_note(),
            sync_error: s.sync_error.clone(),
        });
        drop(s);
        self.tx.send_replace(snapshot.clone());
        snapshot
    }

    /// Records the alerts that resolved; with a shared history, re-reads the recent ones
    /// (other replicas add theirs). Returns why the shared history failed.
    async fn record_history(&self, resolved: &[Alert]) -> Option<String> {
        let history = self.history.as_ref()?;
        if let Err(e) = history.record(resolved, &self.node, HISTORY_ROWS).await {
            let keys: Vec<String> = resolved.iter().map(Alert::key).collect();
            tracing::error!("alert history: could not record {keys:?}: {e}");
            // The page keeps showing them from memory (a re-read now would drop them); a shared
            // history says so on the page too.
            return history
                .shared()
                .then(|| format!("the resolved alerts could not be recorded: {e}"));
        }
        if !history.shared() {
            return None;
        }
        match history.recent(RECENT as i64).await {
            Ok(rows) => {
                self.show_recent(rows);
                None
            }
            Err(e) => {
                tracing::warn!("alerts: could not read the shared history: {e}");
                Some(format!("the resolved alerts could not be read: {e}"))
            }
        }
    }

    /// Alerts judged here that fired since `from_ms` and have resolved: (critical, warning).
    pub async fn fired_since(&self, from_ms: i64) -> Result<(u64, u64), AlertError> {
        match &self.history {
            Some(h) => Ok(h.fired_since(from_ms, &self.node).await?),
            None => Ok((0, 0)),
        }
    }

    /// The latest snapshot (with fresh notifier counts).
    pub fn snapshot(&self) -> Arc<Alerts> {
        let mut a = (*self.tx.borrow().clone()).clone();
        a.notifiers = self.notifiers.statuses();
        Arc::new(a)
    }

    /// The notifiers (the digest sends through them too).
    pub fn notifiers(&self) -> Notifiers {
        self.notifiers.clone()
    }

    /// The top bar's count, without copying the snapshot.
    pub fn badge(&self) -> app::alerts::Badge {
        let a = self.tx.borrow();
        app::alerts::Badge {
            firing: a.firing(),
            worst: a.worst(),
        }
    }

    /// Changes of the snapshot (the badge's live count).
    pub fn subscribe(&self) -> watch::Receiver<Arc<Alerts>> {
        self.tx.subscribe()
    }

    async fn audit(
        &self,
        actor: &str,
        action: Action,
        target: &str,
        outcome: Outcome,
        detail: &str,
    ) {
        if let Some(audit) = &self.audit {
            audit
                .record(Entry {
                    actor,
                    action,
                    target,
                    outcome,
                    detail: Some(detail),
                })
                .await;
        }
    }

    /// Stops the repeats of a firing alert (by its key, `rule{label="value"}`).
    pub async fn acknowledge(&self, key: &str, by: &str) -> Result<Alert, AlertError> {
        let (acked, judged_elsewhere) = {
            let mut s = self.lock();
            let State {
                instances,
                silences,
                judged_elsewhere,
                ..
            } = &mut *s;
            let acked = instances.get_mut(key).and_then(|t| {
                let quiet = silenced(silences, &t.labels, now_ms());
                t.instance.acknowledge(by).then(|| t.view(quiet)).flatten()
            });
            (acked, judged_elsewhere.contains(key))
        };
        let alert = match acked {
            // A shared job's alert: the judge's repeats stop only when it hears of it.
            Some(alert) if judged_elsewhere => {
                self.pass_on(key, by).await?;
                alert
            }
            Some(alert) => alert,
            None => self.ask_judge(key, by).await?,
        };
        self.publish();
        self.audit(
            by,
            Action::AlertAcknowledge,
            key,
            Outcome::Ok,
            &alert.summary,
        )
        .await;
        Ok(alert)
    }

    /// Acknowledges a fleet alert another replica judges: asks it (it applies the
    /// acknowledgement on its next round) and shows it acknowledged here meanwhile.
    async fn ask_judge(&self, key: &str, by: &str) -> Result<Alert, AlertError> {
        let not_firing = || AlertError::NotFiring(key.to_string());
        if self.shared.is_none() {
            return Err(not_firing());
        }
        let firing = |a: &Alert| {
            a.key() == key && a.state == AlertState::Firing && a.acknowledged_by.is_none()
        };
        if !self.lock().elsewhere.iter().any(firing) {
            return Err(not_firing());
        }
        self.pass_on(key, by).await?;
        let mut s = self.lock();
        let a = s
            .elsewhere
            .iter_mut()
            .find(|a| a.key() == key)
            .ok_or_else(not_firing)?;
        a.acknowledged_by = Some(by.to_string());
        Ok(a.clone())
    }

    /// Asks the judging replica to acknowledge `key` on its next round, and remembers it
    /// here meanwhile (without a shared store there is no other replica to ask).
    async fn pass_on(&self, key: &str, by: &str) -> Result<(), AlertError> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let now = now_ms();
        shared.ask_ack(key, by, now).await?;
        self.lock()
            .asked
            .insert(key.to_string(), (by.to_string(), now));
        Ok(())
    }

    /// Adds a silence from now for its minutes.
    pub async fn silence(&self, new: NewSilence, by: &str) -> Result<SilenceView, AlertError> {
        let new = new.validate()?;
        let now = now_ms();
        let ends = now + i64::from(new.minutes) * 60_000;
        let matchers = serde_json::to_string(&new.matchers).unwrap_or_default();
        let mut view = SilenceView {
            id: 0,
            matchers: new.matchers,
            starts_ms: now,
            ends_ms: ends,
            comment: new.comment,
            created_by: by.to_string(),
        };
        view.id = match &self.silence_db {
            Some(db) => db.insert(&view).await?,
            None => self.lock().silences.iter().map(|s| s.id).max().unwrap_or(0) + 1,
        };
        let id = view.id;
        self.lock().silences.push(view.clone());
        self.publish();
        let detail = format!("{} for {} min: {}", matchers, new.minutes, view.comment);
        self.audit(
            by,
            Action::AlertSilence,
            &id.to_string(),
            Outcome::Ok,
            &detail,
        )
        .await;
        Ok(view)
    }

    /// Ends a silence now.
    pub async fn expire(&self, id: i64, by: &str) -> Result<(), AlertError> {
        let now = now_ms();
        // The store decides (another replica may have made or ended it); memory follows.
        let stored = match &self.silence_db {
            Some(db) => Some(db.end(id, now).await?),
            None => None,
        };
        let in_memory = {
            let mut s = self.lock();
            let before = s.silences.len();
            s.silences.retain(|x| x.id != id);
            s.silences.len() != before
        };
        if !stored.unwrap_or(in_memory) {
            return Err(AlertError::UnknownSilence(id));
        }
        self.publish();
        self.audit(
            by,
            Action::AlertUnsilence,
            &id.to_string(),
            Outcome::Ok,
            "ended early",
        )
        .await;
        Ok(())
    }

    /// Sends a test notice to one notifier now and says how it went.
    pub async fn test_notifier(
        &self,
        name: &str,
        by: &str,
    ) -> Result<Result<(), String>, AlertError> {
        let result = self
            .notifiers
            .test(name, notify::test_alert(now_ms()))
            .await?;
        let (outcome, detail) = match &result {
            Ok(()) => (Outcome::Ok, "delivered".to_string()),
            Err(e) => (Outcome::Failed, e.clone()),
        };
        self.audit(by, Action::NotifierTest, name, outcome, &detail)
            .await;
        Ok(result)
    }
}

/// Whether a silence covers an instance with these labels now.
fn silenced(silences: &[SilenceView], labels: &[(String, String)], now: i64) -> bool {
    silences.iter().any(|x| {
        (x.starts_ms..x.ends_ms).contains(&now) && engine::matches_all(&x.matchers, labels)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::containers::ContainerSummary;
    use app::vitals::Overview;

    #[tokio::test]
    async fn a_rising_disk_projects_to_full_from_the_stored_week() {
        use crate::store::history::{HistoryStore, Sample};
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::open(&dir.path().join("steward.db"))
            .await
            .unwrap();
        let now = 1_780_272_000_000;
        // Two days of `/` rising 10 points a day to 70 %: full in three days. `/data` is flat.
        let step = 600_000;
        let samples: Vec<Sample> = (0..288)
            .flat_map(|i| {
                let ts = now - 2 * 86_400_000 + i * step;
                let rise = 50.0 + 20.0 * (i as f64) / 288.0;
                [
                    Sample {
                        series: "disk_used_pct:/".into(),
                        ts_ms: ts,
                        value: rise,
                    },
                    Sample {
                        series: "disk_used_pct:/data".into(),
                        ts_ms: ts,
                        value: 40.0,
                    },
                ]
            })
            .collect();
        store.write(&samples).await.unwrap();
        store.rollup(now).await.unwrap();
        let p = disk_full_projections(&store, now).await.unwrap();
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "/");
        assert!((2.5..3.5).contains(&p[0].1), "{p:?}");
    }

    fn overview(unhealthy: &[&str]) -> Overview {
        Overview {
            vitals: None,
            score: app::overview::score::Score {
                value: None,
                points: 0,
                max_points: 0,
                known: 0,
                total: 0,
                dimensions: vec![],
                verdict: Default::default(),
            },
            collectors: vec![],
            interval_secs: 5,
            containers: Some(ContainerSummary {
                total: 3,
                running: 3,
                unhealthy: unhealthy.iter().map(|s| s.to_string()).collect(),
                no_memory_limit: 0,
                io_anomalies: vec![],
                stale_images: vec![],
                watchdog_gave_up: vec![],
                oom_killed: vec![],
            }),
            gpus: vec![],
        }
    }

    fn eval(s: &AlertsService, o: &Overview, now: i64) -> Vec<Alert> {
        fleet_round(s, o, Some(&[]), now)
    }

    #[tokio::test]
    async fn a_fixed_container_resolves_a_silence_marks_and_history_keeps() {
        let config = AlertsConfig {
            for_secs: 0,
            ..Default::default()
        };
        let (s, _) = AlertsService::new(config).unwrap();
        assert!(eval(&s, &overview(&["api", "db"]), 0).is_empty());
        let snap = s.snapshot();
        assert_eq!(snap.firing(), 2);
        assert_eq!(snap.worst(), Some(Severity::Critical));
        let key = "container_unhealthy{container=\"db\"}";
        s.silence(
            NewSilence {
                matchers: vec![("container".into(), "db".into())],
                minutes: 10,
                comment: "maintenance".into(),
            },
            "ops",
        )
        .await
        .unwrap();
        let snap = s.snapshot();
        assert_eq!(snap.firing(), 1, "the silenced one is not counted");
        assert!(snap.active.iter().any(|a| a.key() == key && a.silenced));
        // db is healthy again: gone from the round, so it resolves; api still fires.
        let resolved = eval(&s, &overview(&["api"]), 5_000);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].key(), key);
        assert_eq!(resolved[0].resolved_ms, Some(5_000));
        let snap = s.snapshot();
        assert_eq!(snap.active.len(), 1);
        assert_eq!(snap.recent[0].key(), key);
        // Docker unreachable (no containers in the overview): api keeps its state.
        let mut blind = overview(&[]);
        blind.containers = None;
        assert!(eval(&s, &blind, 10_000).is_empty());
        assert_eq!(s.snapshot().firing(), 1);
        // Acknowledge only what fires.
        assert!(s
            .acknowledge("container_unhealthy{container=\"api\"}", "ops")
            .await
            .is_ok());
        assert!(matches!(
            s.acknowledge(key, "ops").await,
            Err(AlertError::NotFiring(_))
        ));
    }

    /// A round of this overview and the fleet's hosts (`None`: another replica judges them).
    fn fleet_round(
        s: &AlertsService,
        o: &Overview,
        hosts: Option<&[(String, Option<i64>)]>,
        now: i64,
    ) -> Vec<Alert> {
        s.evaluate(
            &rules::Inputs {
                overview: o,
                models: None,
                maintenance: None,
                disk_full: &[],
                hosts,
                jobs_shared: false,
                judges_fleet: hosts.is_some(),
                now_ms: now,
            },
            now,
        )
    }

    #[tokio::test]
    async fn a_replica_that_loses_the_fleet_lease_drops_its_fleet_alerts_without_resolving() {
        let config = AlertsConfig {
            for_secs: 0,
            ..Default::default()
        };
        let (s, _) = AlertsService::new(config).unwrap();
        let o = overview(&[]);
        let now = 1_000_000;
        let hosts = [("edge-01".to_string(), Some(now - 400_000))];
        let judge = |hosts, now| fleet_round(&s, &o, hosts, now);
        assert!(judge(Some(&hosts), now).is_empty());
        let key = "heartbeat_stale{host=\"edge-01\"}";
        assert!(s.snapshot().active.iter().any(|a| a.key() == key));
        // Another replica took the lease: the alert leaves this one without a "resolved".
        assert!(judge(None, now + 5_000).is_empty());
        let snap = s.snapshot();
        assert!(snap.active.iter().all(|a| a.rule != "heartbeat_stale"));
        assert!(
            snap.recent.is_empty(),
            "nothing resolved: {:?}",
            snap.recent
        );
    }

    #[tokio::test]
    async fn a_replica_taking_the_fleet_lease_over_carries_the_judges_alerts_on() {
        let config = AlertsConfig {
            for_secs: 0,
            ..Default::default()
        };
        let replica = || AlertsService::new(config.clone()).unwrap().0;
        let (judge, other, next) = (replica(), replica(), replica());
        let o = overview(&[]);
        let now = 1_000_000;
        let hosts = [("edge-01".to_string(), Some(now - 400_000))];
        let judge_round = |s: &AlertsService, now| fleet_round(s, &o, Some(&hosts), now);
        judge_round(&judge, now);
        let key = "heartbeat_stale{host=\"edge-01\"}";
        judge.acknowledge(key, "alice").await.unwrap();
        let held = judge.fleet_held(now);
        assert_eq!(held.len(), 1, "{held:?}");
        assert_eq!(held[0].alert.state, AlertState::Firing);
        assert_eq!(held[0].sent.map(|(_, at)| at), Some(now), "notified once");

        // Another replica shows the alert as written, naming the judge.
        let rows = held
            .iter()
            .map(|h| shared::Shared {
                held: h.clone(),
                node: "node-a".into(),
            })
            .collect();
        other.show_elsewhere(rows, now);
        other.publish();
        let shown = other.snapshot();
        let a = shown.active.iter().find(|a| a.key() == key).unwrap();
        assert_eq!(a.judged_on.as_deref(), Some("node-a"));
        assert_eq!(a.acknowledged_by.as_deref(), Some("alice"));
        assert_eq!(shown.firing(), 1, "the badge counts it there too");
        // Without a shared store there is no judge to ask.
        assert!(matches!(
            other.acknowledge(key, "bob").await,
            Err(AlertError::NotFiring(_))
        ));

        // The judge dies and the next replica takes the lease: same spell, no second notice,
        // still acknowledged, judged here now.
        next.adopt(held.clone());
        judge_round(&next, now + 5_000);
        let carried = next.fleet_held(now + 5_000);
        assert_eq!(carried.len(), 1, "{carried:?}");
        assert_eq!(carried[0].alert.since_ms, held[0].alert.since_ms);
        assert_eq!(carried[0].sent, held[0].sent, "no new notice");
        assert_eq!(carried[0].alert.acknowledged_by.as_deref(), Some("alice"));
        assert_eq!(carried[0].alert.judged_on, None);
        // A row that is not a fleet rule's is not adopted.
        let mut local = held[0].clone();
        local.alert.rule = "cpu_steal_pct".into();
        local.alert.labels = vec![("alertname".into(), "cpu_steal_pct".into())];
        next.adopt([local]);
        let keys: Vec<String> = next.lock().instances.keys().cloned().collect();
        assert_eq!(keys, [key]);
    }

    /// A service that notifies one webhook, at once (no `for`).
    fn notifying() -> (AlertsService, Vec<notify::Pending>) {
        let config = AlertsConfig {
            for_secs: 0,
            webhooks: vec![crate::config::WebhookConfig {
                name: "ops".into(),
                url: "http://127.0.0.1:9/hook".into(),
                secret_file: None,
                timeout_secs: 5,
                min_severity: crate::config::MinSeverity::Warning,
            }],
            ..Default::default()
        };
        AlertsService::new(config).unwrap()
    }

    /// The notices queued since the last call, as (kind, key), by key.
    fn notified(pending: &mut [notify::Pending]) -> Vec<(Kind, String)> {
        let mut keys: Vec<(Kind, String)> = pending[0]
            .queued()
            .into_iter()
            .map(|p| (p.notice, p.alert.key()))
            .collect();
        keys.sort_by(|a, b| a.1.cmp(&b.1));
        keys
    }

    use app::maintenance::{JobSource, JobStatus};

    /// These jobs (slug, source, status), as the maintenance collector shows them.
    fn jobs(list: &[(&str, JobSource, JobStatus)]) -> app::maintenance::Maintenance {
        let job = |&(slug, source, status): &(&str, JobSource, JobStatus)| app::maintenance::Job {
            slug: slug.into(),
            name: slug.into(),
            source,
            schedule: None,
            schedule_words: None,
            command: None,
            user: None,
            origin: None,
            grace_secs: None,
            next_run_ms: None,
            status,
            reason: "exit code 3".into(),
            runs: vec![],
            freed_bytes: None,
        };
        app::maintenance::Maintenance {
            jobs: list.iter().map(job).collect(),
            ..Default::default()
        }
    }

    /// A round of these jobs, shared by replicas, on the judge or another replica.
    fn job_round(
        s: &AlertsService,
        m: &app::maintenance::Maintenance,
        judges: bool,
        now: i64,
    ) -> Vec<Alert> {
        s.evaluate(
            &rules::Inputs {
                overview: &overview(&[]),
                models: None,
                maintenance: Some(m),
                disk_full: &[],
                hosts: None,
                jobs_shared: true,
                judges_fleet: judges,
                now_ms: now,
            },
            now,
        )
    }

    #[tokio::test]
    async fn a_replica_that_does_not_judge_shows_shared_jobs_and_leaves_their_notices() {
        let (s, mut pending) = notifying();
        let both = |status| {
            jobs(&[
                ("backup", JobSource::Heartbeat, status),
                ("logrotate", JobSource::Timer, status),
            ])
        };
        let backup = "job_failed{job=\"backup\"}";
        let timer = "job_failed{job=\"logrotate\"}";
        // Both fail: both show here, only this machine's timer is notified from here.
        assert!(job_round(&s, &both(JobStatus::Failed), false, 0).is_empty());
        let shown: Vec<String> = s.snapshot().active.iter().map(|a| a.key()).collect();
        assert!(shown.contains(&backup.to_string()) && shown.contains(&timer.to_string()));
        assert_eq!(notified(&mut pending), [(Kind::Firing, timer.to_string())]);
        // Both fine again: only the timer's resolution is sent and recorded from here (the
        // judge records the shared job's).
        let resolved = job_round(&s, &both(JobStatus::Ok), false, 5_000);
        assert_eq!(
            resolved.iter().map(|a| a.key()).collect::<Vec<_>>(),
            [timer]
        );
        assert_eq!(
            notified(&mut pending),
            [(Kind::Resolved, timer.to_string())]
        );
        // The shared job fails again, then is deleted (gone from the jobs): its resolution is
        // the judge's too.
        job_round(&s, &both(JobStatus::Failed), false, 6_000);
        assert_eq!(notified(&mut pending), [(Kind::Firing, timer.to_string())]);
        let mut deleted = both(JobStatus::Failed);
        deleted.jobs.remove(0);
        assert!(
            job_round(&s, &deleted, false, 7_000).is_empty(),
            "recorded by the judge"
        );
        assert!(notified(&mut pending).is_empty());
        job_round(&s, &both(JobStatus::Ok), false, 8_000);
        notified(&mut pending);
        // The judge notifies for both.
        job_round(&s, &both(JobStatus::Failed), true, 10_000);
        assert_eq!(
            notified(&mut pending),
            [
                (Kind::Firing, backup.to_string()),
                (Kind::Firing, timer.to_string())
            ]
        );
    }

    #[tokio::test]
    async fn a_shared_job_failing_while_no_replica_judges_is_notified_by_the_next_judge() {
        let (judge, mut judge_sent) = notifying();
        let (other, mut other_sent) = notifying();
        let backup = "job_failed{job=\"backup\"}";
        let sync = "job_failed{job=\"sync\"}";
        let failed = |slugs: &[&'static str]| {
            let list: Vec<_> = ["backup", "sync"]
                .into_iter()
                .map(|j| {
                    let status = if slugs.contains(&j) {
                        JobStatus::Failed
                    } else {
                        JobStatus::Ok
                    };
                    (j, JobSource::Heartbeat, status)
                })
                .collect();
            jobs(&list)
        };
        // backup fails: the judge notifies it, alice acknowledges it there, and the judge
        // shares it with the fleet's alerts.
        job_round(&judge, &failed(&["backup"]), true, 0);
        assert_eq!(notified(&mut judge_sent), [(Kind::Firing, backup.into())]);
        judge.acknowledge(backup, "alice").await.unwrap();
        let held = judge.fleet_held(0);
        assert_eq!(
            held.iter().map(|h| h.alert.key()).collect::<Vec<_>>(),
            [backup]
        );
        let rows = |held: &[shared::Held]| {
            held.iter()
                .map(|h| shared::Shared {
                    held: h.clone(),
                    node: "node-a".into(),
                })
                .collect::<Vec<_>>()
        };
        // The other replica judges it too, sends nothing, and shows the judge's
        // acknowledgement.
        job_round(&other, &failed(&["backup"]), false, 0);
        other.show_elsewhere(rows(&held), 1_000);
        other.publish();
        let shown = other.snapshot();
        let a = shown.active.iter().find(|a| a.key() == backup).unwrap();
        assert_eq!(a.acknowledged_by.as_deref(), Some("alice"));
        assert_eq!(shown.active.len(), 1, "shown once: {:?}", shown.active);
        // The judge dies; sync fails before the other replica takes the lease over.
        job_round(&other, &failed(&["backup", "sync"]), false, 5_000);
        assert!(notified(&mut other_sent).is_empty());
        // It takes over what the judge last wrote: sync, never notified, is notified now;
        // backup, notified and acknowledged, is not notified again.
        other.adopt(held);
        job_round(&other, &failed(&["backup", "sync"]), true, 10_000);
        assert_eq!(notified(&mut other_sent), [(Kind::Firing, sync.into())]);
        let carried = other.fleet_held(10_000);
        let ack = |key: &str| {
            let h = carried.iter().find(|h| h.alert.key() == key).unwrap();
            h.alert.acknowledged_by.clone()
        };
        assert_eq!(ack(backup).as_deref(), Some("alice"));
        assert_eq!(ack(sync), None);
        assert!(notified(&mut judge_sent).is_empty());
    }
}
