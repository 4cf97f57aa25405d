//! Maintenance: discovers the host's scheduled jobs (crontabs, the managed block, systemd
//! timers), judges the jobs that report to Steward (heartbeats), imports an existing cleanup
//! script's runs, and runs Steward's own cleanup (dry run first, one run at a time, live
//! progress, every run recorded). The page and APIs read [`Maintenance::snapshot`], which the
//! background task refreshes on an interval and soon after every change; nothing a request
//! does waits for discovery or for a cleanup step.

pub mod cleanup;
pub mod crontab;
pub mod culprits;
pub mod discover;
pub mod heartbeat;
pub mod import;
pub mod job_store;
pub mod schedule;
pub mod store;
pub mod timers;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::maintenance::{
    CleanupEvent, CleanupPlan, CleanupRun, Finding, Job, JobSource, JobStatus, JobToken,
    Maintenance as Snapshot, RunResult, StepInfo, StepPhase, Trigger, CLEANUP_HISTORY,
    RUNS_PER_JOB,
};
use app::shared::clock::now_ms;
use app::shared::format::bytes_binary;
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

use crate::config::MaintenanceConfig;
use crate::platform::bus::{local_host, Bus, Event};
use crate::platform::periodic::StatusBook;
use crate::store::audit::{Action, AuditLog, Entry, Outcome, Refusal};
use job_store::{End, HeartbeatJob, JobStore, Ping};
use schedule::Schedule;
use store::MaintenanceStore;

/// The status line's name.
pub const NAME: &str = "maintenance";
/// Woken refreshes are at least this far apart, so a burst of pings costs one refresh.
const REFRESH_GAP: Duration = Duration::from_secs(1);
/// Reports kept per heartbeat job (older ones go at its next report), and dry runs kept (older
/// ones go at each refresh).
const RUNS_KEPT: usize = 1000;
const DRY_RUNS_KEPT: usize = 50;
/// A start and its end are paired when the end comes within this long.
const OPEN_RUN_MS: i64 = 7 * 24 * 3_600_000;

/// Why a maintenance request was refused.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("{0}")]
    BadRequest(String),
    #[error("no heartbeat job named {0:?}")]
    UnknownJob(String),
    #[error("a heartbeat job named {0:?} exists already")]
    Exists(String),
    #[error("a cleanup run is in progress (run {0}); one runs at a time")]
    Busy(i64),
    #[error("no dry run {0}: run the dry run first and confirm what it shows")]
    UnknownDryRun(i64),
    #[error("no cleanup run {0}")]
    UnknownRun(i64),
    #[error("no cleanup steps are configured (maintenance.cleanup)")]
    NoSteps,
    #[error("storage is unavailable: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Why a ping was refused.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    #[error("unknown job or wrong token")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("storage is unavailable: {0}")]
    Storage(#[from] sqlx::Error),
}

/// The cleanup run in progress, with its events so far for late subscribers.
struct Live {
    id: i64,
    events: Vec<CleanupEvent>,
    tx: broadcast::Sender<CleanupEvent>,
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct PingCounters {
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
}

pub struct Maintenance {
    config: MaintenanceConfig,
    /// This machine's cleanup runs.
    store: MaintenanceStore,
    /// The heartbeat jobs (shared by replicas on PostgreSQL).
    jobs: Arc<dyn JobStore>,
    ctx: cleanup::Ctx,
    audit: AuditLog,
    bus: Arc<Bus>,
    snapshot: Mutex<Arc<Snapshot>>,
    wake: Notify,
    live: Mutex<Option<Live>>,
    /// Events of finished runs (the last few), so a page that connects late sees the end.
    finished: Mutex<HashMap<i64, Vec<CleanupEvent>>>,
    pub pings: PingCounters,
    cleanup_schedule: Option<Schedule>,
    /// Where the disk culprits' past samples are read (their growth).
    history: Option<Arc<crate::store::history::HistoryStore>>,
    culprits: Mutex<Vec<app::maintenance::Culprit>>,
    /// slug → (job id, token digest): a ping is checked without a database read. Changed in
    /// the same call that changes the database, so a rotated token stops at once; a slug not
    /// here (created by another process) is looked up in the database. Not used when the jobs
    /// are shared: another replica may have rotated or deleted a token since.
    tokens: std::sync::RwLock<HashMap<String, (i64, String)>>,
    /// Why this replica does not hear the others' job changes now (shown in its status line
    /// until it listens again).
    deaf: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Maintenance {
    pub fn new(
        config: MaintenanceConfig,
        store: MaintenanceStore,
        jobs: Arc<dyn JobStore>,
        ctx: cleanup::Ctx,
        audit: AuditLog,
        bus: Arc<Bus>,
    ) -> Self {
        let cleanup_schedule = config.cleanup_schedule.parse().ok();
        Self {
            config,
            store,
            jobs,
            ctx,
            audit,
            bus,
            snapshot: Mutex::new(Arc::new(Snapshot::default())),
            wake: Notify::new(),
            live: Mutex::new(None),
            finished: Mutex::default(),
            pings: PingCounters::default(),
            cleanup_schedule,
            history: None,
            culprits: Mutex::default(),
            tokens: std::sync::RwLock::default(),
            deaf: Mutex::default(),
        }
    }

    /// Reads the disk culprits' growth from this history.
    pub fn with_history(mut self, history: Arc<crate::store::history::HistoryStore>) -> Self {
        self.history = Some(history);
        self
    }

    /// Whether the heartbeat jobs are shared with other replicas.
    pub fn jobs_shared(&self) -> bool {
        self.jobs.shared()
    }

    /// The latest disk culprits, largest first.
    pub fn culprits(&self) -> Vec<app::maintenance::Culprit> {
        lock(&self.culprits).clone()
    }

    /// Samples what takes the disk on its own interval; publishes the samples for history and
    /// fits each item's growth from the past week.
    pub async fn run_culprits(self: Arc<Self>, shutdown: CancellationToken) {
        let interval = Duration::from_secs(self.config.culprit_interval_secs);
        loop {
            let (mut items, errors) =
                culprits::sample(&self.ctx, &self.config.culprit_paths, &self.config.cleanup).await;
            let now = now_ms();
            for e in &errors {
                tracing::warn!("disk culprits: {e}");
            }
            if let Some(h) = &self.history {
                let min_span = (interval.as_millis() as i64).max(1000);
                for c in &mut items {
                    let key = app::vitals::metric_def::MetricId::DiskCulpritBytes
                        .series_key(Some(&c.key));
                    let mut points = Vec::new();
                    for (res, from) in [
                        (app::shared::range::Resolution::Hour, now - 7 * 86_400_000),
                        (app::shared::range::Resolution::Raw, now - 48 * 3_600_000),
                    ] {
                        if let Ok(p) = h.query_between(&key, res, from, now).await {
                            let after = points.last().map_or(i64::MIN, |&(t, _)| t);
                            points.extend(
                                p.iter()
                                    .filter(|p| p.ts_ms > after)
                                    .map(|p| (p.ts_ms, p.avg)),
                            );
                        }
                    }
                    points.push((now, c.bytes as f64));
                    c.growth_per_day = app::maintenance::growth::per_day(&points, min_span);
                }
            }
            self.bus.publish(Event::DiskUsage {
                host: local_host(),
                at_ms: now,
                items: Arc::new(items.clone()),
            });
            *lock(&self.culprits) = items;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// The latest state (jobs judged, runs, findings).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        lock(&self.snapshot).clone()
    }

    pub fn config(&self) -> &MaintenanceConfig {
        &self.config
    }

    /// Asks the background task to refresh soon.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Refreshes on an interval and when poked; runs the scheduled cleanup.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        match self.store.close_abandoned(now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                "{n} cleanup runs were left running by a previous process: marked failed"
            ),
            Err(e) => tracing::error!("maintenance: could not close abandoned runs: {e}"),
        }
        let mut book = StatusBook::new(NAME);
        let interval = Duration::from_secs(self.config.interval_secs);
        let mut next_cleanup = self.next_cleanup_ms(now_ms());
        loop {
            book.begin();
            let status = match self.refresh(next_cleanup).await {
                Ok(findings) => book.succeeded(&findings),
                Err(e) => book.failed(e),
            };
            self.bus.publish(Event::Status {
                host: local_host(),
                status,
            });
            let snap = self.snapshot();
            self.bus.publish(Event::Maintenance {
                host: local_host(),
                state: snap,
            });
            if let Some(due) = next_cleanup.filter(|&d| d <= now_ms()) {
                next_cleanup = self.next_cleanup_ms(due.max(now_ms()));
                let me = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = me.start_run("schedule", None, Trigger::Scheduled).await {
                        tracing::error!("scheduled cleanup did not start: {e}");
                    }
                });
            }
            let until_cleanup = next_cleanup
                .map(|d| Duration::from_millis((d - now_ms()).max(0) as u64))
                .unwrap_or(interval);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval.min(until_cleanup)) => {}
                _ = self.wake.notified() => {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(REFRESH_GAP) => {}
                    }
                }
            }
        }
    }

    /// Replicas sharing the jobs: refreshes soon after another replica records a report or
    /// changes a job (PostgreSQL `LISTEN`), not at its next interval. The interval stays the
    /// fallback while the listener is down (reconnected every few seconds, said in the log).
    pub async fn follow_replicas(self: Arc<Self>, pool: sqlx::PgPool, shutdown: CancellationToken) {
        const RETRY: Duration = Duration::from_secs(5);
        let deaf = |why: Option<String>| {
            if let Some(w) = &why {
                tracing::warn!("heartbeat jobs: {w}");
            }
            // The status line says it (or stops saying it) at the next refresh: now.
            if std::mem::replace(&mut *lock(&self.deaf), why.clone()) != why {
                self.poke();
            }
        };
        let mut listener = None;
        loop {
            let l = match listener.as_mut() {
                Some(l) => l,
                None => match job_store::listen(&pool).await {
                    Ok(l) => {
                        deaf(None);
                        // Changes made while no one listened are read now.
                        self.poke();
                        listener.insert(l)
                    }
                    Err(e) => {
                        deaf(Some(format!(
                            "other replicas' job changes are seen only at each refresh: cannot listen ({e})"
                        )));
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(RETRY) => continue,
                        }
                    }
                },
            };
            let got = tokio::select! {
                _ = shutdown.cancelled() => return,
                got = l.try_recv() => got,
            };
            match got {
                Ok(Some(_)) => self.poke(),
                Ok(None) => {
                    tracing::warn!(
                        "heartbeat jobs: the listening connection was lost; reconnected"
                    );
                    self.poke();
                }
                Err(e) => {
                    deaf(Some(format!(
                        "other replicas' job changes are seen only at each refresh: listening failed ({e})"
                    )));
                    listener = None;
                }
            }
        }
    }

    /// The next scheduled cleanup after `after_ms` (the digest says it).
    pub fn next_cleanup_ms(&self, after_ms: i64) -> Option<i64> {
        self.cleanup_schedule
            .as_ref()?
            .next_after_ms(after_ms, &schedule::host_zone())
    }

    /// One refresh: discovery (on a blocking thread), the import, the heartbeat jobs judged,
    /// the cleanup history. Returns the problems found (shown as a degraded status).
    async fn refresh(&self, next_cleanup: Option<i64>) -> Result<Vec<String>, String> {
        let now = now_ms();
        let rootfs = self.ctx.rootfs.clone();
        let marker = self.config.managed_marker.clone();
        let import_path = self.config.import_log.clone();
        let (mut discovered, mut findings, imported) = tokio::task::spawn_blocking(move || {
            let (jobs, findings) = discover::all(&rootfs, &marker, now);
            let imported = (!import_path.is_empty()).then(|| {
                let path = rootfs.join(import_path.trim_start_matches('/'));
                match std::fs::read_to_string(&path) {
                    Ok(text) => Ok(import::parse(&text, &import_path)),
                    Err(e) => Err(Finding {
                        origin: path.display().to_string(),
                        message: format!("cannot read the cleanup log: {e}"),
                    }),
                }
            });
            (jobs, findings, imported)
        })
        .await
        .map_err(|e| format!("discovery failed: {e}"))?;
        match imported {
            Some(Ok(imp)) => {
                for (line, text) in imp.skipped {
                    findings.push(Finding {
                        origin: format!("{}:{line}", self.config.import_log),
                        message: format!("step line not understood: {text}"),
                    });
                }
                for run in &imp.runs {
                    self.store
                        .insert_cleanup(run, false)
                        .await
                        .map_err(|e| format!("storage: {e}"))?;
                }
            }
            Some(Err(f)) => findings.push(f),
            None => {}
        }
        self.load_tokens()
            .await
            .map_err(|e| format!("storage: {e}"))?;
        self.store
            .trim_dry_runs(DRY_RUNS_KEPT)
            .await
            .map_err(|e| format!("storage: {e}"))?;
        let zone = schedule::host_zone();
        let mut jobs = Vec::new();
        for hb in self
            .jobs
            .jobs()
            .await
            .map_err(|e| format!("storage: {e}"))?
        {
            let runs = self
                .jobs
                .runs(hb.id, RUNS_PER_JOB)
                .await
                .map_err(|e| format!("storage: {e}"))?;
            let mut job = heartbeat_row(&hb, runs, &zone, now);
            // A discovered crontab line that pings this job is the same job: merge them.
            if let Some(i) = discovered.iter().position(|d| {
                d.command
                    .as_deref()
                    .and_then(crontab::pinged_slug)
                    .as_deref()
                    == Some(hb.slug.as_str())
            }) {
                let d = discovered.remove(i);
                job.command = d.command;
                job.user = d.user;
                job.origin = d.origin;
            }
            jobs.push(job);
        }
        let cleanups = self
            .store
            .cleanups(CLEANUP_HISTORY)
            .await
            .map_err(|e| format!("storage: {e}"))?;
        if let Some(s) = &self.cleanup_schedule {
            jobs.push(cleanup_row(s, &cleanups, next_cleanup));
        }
        jobs.extend(discovered);
        // Problems first; the order within a status stays (heartbeats, cleanup, discovered).
        jobs.sort_by_key(|j| j.status.rank());
        let mut problems: Vec<String> = findings
            .iter()
            .map(|f| format!("{}: {}", f.origin, f.message))
            .collect();
        problems.extend(lock(&self.deaf).clone());
        let running = lock(&self.live).as_ref().map(|l| l.id);
        let snapshot = Snapshot {
            jobs,
            cleanups,
            steps: self
                .config
                .cleanup
                .iter()
                .map(|s| StepInfo {
                    name: s.name(),
                    description: s.describe(),
                })
                .collect(),
            cleanup_schedule: self.cleanup_schedule.as_ref().map(|s| s.text().to_string()),
            cleanup_next_ms: next_cleanup,
            running,
            findings,
            as_of_ms: now,
            culprits: self.culprits(),
            partial: None,
        };
        *lock(&self.snapshot) = Arc::new(snapshot);
        Ok(problems)
    }

    /// Reloads the cleanup history into the snapshot at once (a run started or ended), so the
    /// page and the score see it before the next refresh.
    async fn reload_cleanups(&self) {
        match self.store.cleanups(CLEANUP_HISTORY).await {
            Ok(cleanups) => {
                let running = lock(&self.live).as_ref().map(|l| l.id);
                let snap = {
                    let mut guard = lock(&self.snapshot);
                    let mut next = (**guard).clone();
                    next.cleanups = cleanups;
                    next.running = running;
                    *guard = Arc::new(next);
                    guard.clone()
                };
                self.bus.publish(Event::Maintenance {
                    host: local_host(),
                    state: snap,
                });
            }
            Err(e) => tracing::error!("maintenance: could not reload the cleanup history: {e}"),
        }
    }

    async fn load_tokens(&self) -> Result<(), sqlx::Error> {
        let all = self.jobs.tokens().await?;
        *self.tokens.write().unwrap_or_else(|p| p.into_inner()) = all
            .into_iter()
            .map(|(slug, id, digest)| (slug, (id, digest)))
            .collect();
        Ok(())
    }

    /// Records a ping from a job (its token checked against the stored digest).
    pub async fn ping(
        &self,
        slug: &str,
        token: Option<&str>,
        kind: Ping,
        exit_code: Option<i32>,
        body: &str,
        client: &str,
    ) -> Result<(), PingError> {
        let refused = |reason| {
            self.pings.refused.fetch_add(1, Ordering::Relaxed);
            self.audit.refused(Refusal {
                action: Action::JobPing,
                actor: "-",
                client,
                target: slug,
                reason,
            });
            PingError::Unauthorized
        };
        let Some(token) = token else {
            return Err(refused("no job token (Authorization: Bearer)"));
        };
        let digest = crate::auth::password::token_digest(token);
        let cached = (!self.jobs.shared())
            .then(|| {
                self.tokens
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(slug)
                    .cloned()
            })
            .flatten();
        let id = match cached {
            Some((id, known)) if crate::auth::password::same_secret(&known, &digest) => id,
            Some(_) => return Err(refused("unknown job or wrong token")),
            None => match self.jobs.job_by_token(slug, &digest).await? {
                Some(id) => id,
                None => return Err(refused("unknown job or wrong token")),
            },
        };
        let log = (!body.trim().is_empty()).then_some(body);
        self.jobs
            .ping(id, kind, now_ms(), End { exit_code, log }, OPEN_RUN_MS)
            .await?;
        // The report stands even when its job's oldest cannot be trimmed now (the next
        // report tries again).
        if let Err(e) = self.jobs.trim_job(id, RUNS_KEPT).await {
            tracing::warn!("heartbeat job {slug}: could not trim its old reports: {e}");
        }
        self.pings.accepted.fetch_add(1, Ordering::Relaxed);
        self.poke();
        Ok(())
    }

    /// Creates a heartbeat job; its token is returned once.
    pub async fn create_job(
        &self,
        user: &str,
        slug: &str,
        name: &str,
        schedule_text: &str,
        grace_secs: Option<u64>,
    ) -> Result<JobToken, MaintenanceError> {
        if !app::maintenance::valid_slug(slug) {
            return Err(MaintenanceError::BadRequest(
                "the job's id: 1–64 of a-z, 0-9, - and _, starting with a letter or digit".into(),
            ));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(MaintenanceError::BadRequest(
                "the job's name: 1–100 characters".into(),
            ));
        }
        schedule_text
            .parse::<Schedule>()
            .map_err(|e| MaintenanceError::BadRequest(e.to_string()))?;
        let grace = grace_secs.unwrap_or(self.config.default_grace_secs);
        if !(60..=7 * 86_400).contains(&grace) {
            return Err(MaintenanceError::BadRequest(
                "the grace time: 60 s to 7 days".into(),
            ));
        }
        let token = crate::auth::password::random_token();
        let job = HeartbeatJob {
            id: 0,
            slug: slug.into(),
            name: name.into(),
            schedule: schedule_text.trim().into(),
            grace_secs: grace,
            created_ms: now_ms(),
        };
        let created = self
            .jobs
            .create_job(&job, &crate::auth::password::token_digest(&token), user)
            .await?;
        if !created {
            return Err(MaintenanceError::Exists(slug.into()));
        }
        self.load_tokens().await?;
        let detail = format!("schedule {:?}, grace {grace} s", job.schedule);
        self.audited(user, Action::JobCreate, slug, Some(&detail))
            .await;
        self.poke();
        Ok(JobToken {
            slug: slug.into(),
            token,
        })
    }

    /// Gives a job a new token (the old one stops working at once).
    pub async fn rotate(&self, user: &str, slug: &str) -> Result<JobToken, MaintenanceError> {
        let token = crate::auth::password::random_token();
        if !self
            .jobs
            .rotate_token(slug, &crate::auth::password::token_digest(&token))
            .await?
        {
            return Err(MaintenanceError::UnknownJob(slug.into()));
        }
        self.load_tokens().await?;
        self.audited(user, Action::JobRotate, slug, None).await;
        Ok(JobToken {
            slug: slug.into(),
            token,
        })
    }

    pub async fn delete(&self, user: &str, slug: &str) -> Result<(), MaintenanceError> {
        // Out of the cache first: no ping is accepted for it from here on.
        self.tokens
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(slug);
        if !self.jobs.delete_job(slug).await? {
            return Err(MaintenanceError::UnknownJob(slug.into()));
        }
        self.audited(user, Action::JobDelete, slug, None).await;
        self.poke();
        Ok(())
    }

    async fn audited(&self, user: &str, action: Action, target: &str, detail: Option<&str>) {
        self.audit
            .record(Entry {
                actor: user,
                action,
                target,
                outcome: Outcome::Ok,
                detail,
            })
            .await;
    }

    /// The dry run: what each step would free, recorded (and audited) so the real run can be
    /// confirmed against it.
    pub async fn plan(&self, user: &str) -> Result<CleanupPlan, MaintenanceError> {
        if self.config.cleanup.is_empty() {
            return Err(MaintenanceError::NoSteps);
        }
        let started = now_ms();
        let mut steps = Vec::new();
        for step in &self.config.cleanup {
            steps.push(cleanup::estimate(step, &self.ctx).await);
        }
        let total: u64 = steps.iter().filter_map(|s| s.freed_bytes).sum();
        let failed = steps.iter().filter(|s| s.error.is_some()).count();
        let run = CleanupRun {
            id: 0,
            started_ms: started,
            ended_ms: Some(now_ms()),
            mode: self.config.cleanup_mode.clone(),
            trigger: Trigger::Manual,
            actor: user.into(),
            disk_before_bytes: self.ctx.disk_used_bytes(),
            disk_after_bytes: None,
            freed_bytes: total,
            steps: steps.clone(),
            result: result_of(failed, steps.len()),
            error: None,
        };
        let id = self.store.insert_cleanup(&run, true).await?.unwrap_or(0);
        let detail = format!(
            "dry run {id}: would free {} ({failed} of {} steps could not tell)",
            bytes_binary(total as f64),
            steps.len()
        );
        self.audit
            .record(Entry {
                actor: user,
                action: Action::Cleanup,
                target: "cleanup",
                outcome: Outcome::DryRun,
                detail: Some(&detail),
            })
            .await;
        Ok(CleanupPlan {
            steps,
            total_bytes: total,
            dry_run: id,
        })
    }

    /// Starts a cleanup run in the background; its progress is followed with
    /// [`Self::subscribe`]. A manual run must name the dry run the admin confirmed.
    pub async fn start_run(
        self: &Arc<Self>,
        user: &str,
        dry_run: Option<i64>,
        trigger: Trigger,
    ) -> Result<i64, MaintenanceError> {
        if self.config.cleanup.is_empty() {
            return Err(MaintenanceError::NoSteps);
        }
        if let Some(d) = dry_run {
            if self.store.dry_run(d).await?.is_none() {
                return Err(MaintenanceError::UnknownDryRun(d));
            }
        } else if trigger == Trigger::Manual {
            return Err(MaintenanceError::BadRequest(
                "a manual run confirms a dry run: send its id".into(),
            ));
        }
        let mut run = CleanupRun {
            id: 0,
            started_ms: now_ms(),
            ended_ms: None,
            mode: self.config.cleanup_mode.clone(),
            trigger,
            actor: user.into(),
            disk_before_bytes: self.ctx.disk_used_bytes(),
            disk_after_bytes: None,
            freed_bytes: 0,
            steps: Vec::new(),
            result: RunResult::Running,
            error: None,
        };
        // One run at a time: the slot is taken before the row is written.
        let (tx, _) = broadcast::channel(64);
        {
            let mut live = lock(&self.live);
            if let Some(l) = live.as_ref() {
                return Err(MaintenanceError::Busy(l.id));
            }
            *live = Some(Live {
                id: -1,
                events: Vec::new(),
                tx: tx.clone(),
            });
        }
        let id = match self.store.insert_cleanup(&run, false).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                *lock(&self.live) = None;
                return Err(MaintenanceError::BadRequest(
                    "the run could not be recorded".into(),
                ));
            }
            Err(e) => {
                *lock(&self.live) = None;
                return Err(e.into());
            }
        };
        run.id = id;
        if let Some(l) = lock(&self.live).as_mut() {
            l.id = id;
        }
        self.reload_cleanups().await;
        self.poke();
        let me = self.clone();
        tokio::spawn(async move { me.execute(run).await });
        Ok(id)
    }

    fn emit(&self, event: CleanupEvent) {
        if let Some(l) = lock(&self.live).as_mut() {
            l.events.push(event.clone());
            let _ = l.tx.send(event);
        }
    }

    async fn execute(self: Arc<Self>, mut run: CleanupRun) {
        let event = |step: &str, phase, freed, message: String| CleanupEvent {
            run: run.id,
            step: step.into(),
            phase,
            freed_bytes: freed,
            message,
            ts_ms: now_ms(),
        };
        for step in &self.config.cleanup {
            let name = step.name();
            self.emit(event(&name, StepPhase::Running, None, step.describe()));
            let rec = cleanup::execute(step, &self.ctx).await;
            let (phase, message) = match &rec.error {
                Some(e) => (StepPhase::Failed, e.clone()),
                None => (StepPhase::Done, rec.detail.clone()),
            };
            self.emit(event(&name, phase, rec.freed_bytes, message));
            run.freed_bytes += rec.freed_bytes.unwrap_or(0);
            run.steps.push(rec);
            if let Err(e) = self.store.update_cleanup(&run).await {
                tracing::error!("cleanup run {}: could not record progress: {e}", run.id);
            }
        }
        let failed = run.steps.iter().filter(|s| s.error.is_some()).count();
        run.result = result_of(failed, run.steps.len());
        run.ended_ms = Some(now_ms());
        run.disk_after_bytes = self.ctx.disk_used_bytes();
        if let Err(e) = self.store.update_cleanup(&run).await {
            tracing::error!("cleanup run {}: could not record its end: {e}", run.id);
        }
        let summary = format!(
            "freed {} in {} steps ({failed} failed)",
            bytes_binary(run.freed_bytes as f64),
            run.steps.len()
        );
        self.audit
            .record(Entry {
                actor: &run.actor,
                action: Action::Cleanup,
                target: "cleanup",
                outcome: if failed == run.steps.len() {
                    Outcome::Failed
                } else {
                    Outcome::Ok
                },
                detail: Some(&format!(
                    "run {} ({}): {summary}",
                    run.id,
                    run.trigger.as_str()
                )),
            })
            .await;
        // The history shows the run as ended before anyone is told it finished.
        let finished_event = event("", StepPhase::Finished, Some(run.freed_bytes), summary);
        // The run moves from `live` to `finished` while `live` stays locked: a page subscribing
        // in between would otherwise find it in neither and get a 404 (its progress panel then
        // said "ended early" although the run had just finished).
        let tx = {
            let mut live = lock(&self.live);
            live.take().map(|mut l| {
                l.events.push(finished_event.clone());
                let mut finished = lock(&self.finished);
                finished.retain(|&k, _| k > l.id - 5);
                finished.insert(l.id, l.events);
                l.tx
            })
        };
        self.reload_cleanups().await;
        if let Some(tx) = tx {
            let _ = tx.send(finished_event);
        }
        self.poke();
    }

    /// A run's events so far and, while it runs, a receiver for the rest.
    pub fn subscribe(
        &self,
        run: i64,
    ) -> Result<(Vec<CleanupEvent>, Option<broadcast::Receiver<CleanupEvent>>), MaintenanceError>
    {
        if let Some(l) = lock(&self.live).as_ref().filter(|l| l.id == run) {
            return Ok((l.events.clone(), Some(l.tx.subscribe())));
        }
        lock(&self.finished)
            .get(&run)
            .map(|e| (e.clone(), None))
            .ok_or(MaintenanceError::UnknownRun(run))
    }
}

fn result_of(failed: usize, steps: usize) -> RunResult {
    match failed {
        0 => RunResult::Ok,
        f if f == steps => RunResult::Failed,
        _ => RunResult::Partial,
    }
}

/// A heartbeat job's row: judged now.
fn heartbeat_row<Tz: chrono::TimeZone>(
    hb: &HeartbeatJob,
    runs: Vec<app::maintenance::JobRun>,
    zone: &Tz,
    now: i64,
) -> Job {
    let parsed: Result<Schedule, _> = hb.schedule.parse();
    let (status, reason, words, next) = match &parsed {
        Ok(s) => {
            let e = heartbeat::Expectation {
                schedule: s,
                zone,
                grace_ms: hb.grace_secs as i64 * 1000,
                created_ms: hb.created_ms,
            };
            let (status, reason) = heartbeat::judge(&e, runs.first(), now);
            (status, reason, Some(s.words()), s.next_after_ms(now, zone))
        }
        Err(e) => (JobStatus::Failed, e.to_string(), None, None),
    };
    Job {
        slug: hb.slug.clone(),
        name: hb.name.clone(),
        source: JobSource::Heartbeat,
        schedule: Some(hb.schedule.clone()),
        schedule_words: words,
        command: None,
        user: None,
        origin: None,
        grace_secs: Some(hb.grace_secs),
        next_run_ms: next,
        status,
        reason,
        runs,
        freed_bytes: None,
    }
}

/// Steward's scheduled cleanup as a row of the table: its runs are the cleanup runs.
fn cleanup_row(s: &Schedule, cleanups: &[CleanupRun], next: Option<i64>) -> Job {
    let last = cleanups.first();
    let (status, reason) = match last {
        None => (JobStatus::Waiting, "no run yet".to_string()),
        Some(r) => match r.result {
            RunResult::Running => (JobStatus::Running, "running now".into()),
            RunResult::Failed => (
                JobStatus::Failed,
                r.error
                    .clone()
                    .unwrap_or_else(|| "every step failed".into()),
            ),
            RunResult::Partial => (JobStatus::Ok, "some steps failed; see the run".into()),
            RunResult::Ok => (
                JobStatus::Ok,
                format!("freed {}", bytes_binary(r.freed_bytes as f64)),
            ),
        },
    };
    Job {
        slug: "steward-cleanup".into(),
        name: "Steward cleanup".into(),
        source: JobSource::Cleanup,
        schedule: Some(s.text().into()),
        schedule_words: Some(s.words()),
        command: None,
        user: None,
        origin: Some("maintenance.cleanup_schedule".into()),
        grace_secs: None,
        next_run_ms: next,
        status,
        reason,
        runs: cleanups
            .iter()
            .take(RUNS_PER_JOB)
            .map(|r| app::maintenance::JobRun {
                id: r.id,
                started_ms: Some(r.started_ms),
                ended_ms: r.ended_ms,
                result: r.result,
                exit_code: None,
                log_tail: r.error.clone(),
            })
            .collect(),
        freed_bytes: last.map(|r| r.freed_bytes),
    }
}
