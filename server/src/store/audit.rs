//! The audit log (who did what to which target, and how it ended) and Steward's own record of
//! container events (health transitions, watchdog decisions).
//!
//! The log lives where the hub's state lives (`db.rs`: the SQLite file, or PostgreSQL shared
//! by replicas, each row naming the node that wrote it); container events describe this
//! machine's containers and stay in its SQLite file. Actions by signed-in users get a row
//! each. Refusals that anyone can cause (failed sign-ins, requests the guard turns away) are
//! counted per minute and written as one row per address, username and action
//! (`refusals.rs`), and the log has a retention by age and row count.

pub mod db;
pub mod refusals;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::auth::AuditEntry;
use app::containers::{ContainerEvent, ContainerEventKind};

use crate::platform::bus::ContainerEventRecord;
use sqlx::{Row, SqlitePool};
use tokio_util::sync::CancellationToken;

use crate::config::AuditConfig;
use crate::store::lease::Lease;
use app::shared::clock::now_ms;
use db::{AuditDb, NewRow, SqliteAudit};
use refusals::Refusals;

/// Longest `detail` stored for one entry (an explore query is at most 2,000 characters).
const MAX_DETAIL_BYTES: usize = 4096;
/// How often the retention runs.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Writes and reads the audit log. Writing never fails the action it records: a failed write is
/// logged loudly instead, because losing the action's result would be worse.
#[derive(Clone)]
pub struct AuditLog {
    /// This machine's SQLite file (container events).
    pool: SqlitePool,
    log: Arc<dyn AuditDb>,
    /// The node this Steward writes as (its host name; empty for the embedded default).
    node: Arc<str>,
    refusals: Arc<Mutex<Refusals>>,
    /// Steward's restarts per container name (manual, bulk and watchdog, successful ones):
    /// Docker's `RestartCount` counts only its own restart-policy restarts.
    restarts: Arc<Mutex<HashMap<String, u64>>>,
}

/// The actions that restart a container.
const RESTARTS: [Action; 3] = [
    Action::Restart,
    Action::RestartUnhealthy,
    Action::WatchdogRestart,
];

fn restart_names() -> [&'static str; 3] {
    RESTARTS.map(Action::as_str)
}

impl AuditLog {
    /// The log and the container events in one SQLite file.
    pub fn new(pool: SqlitePool) -> Self {
        let log = Arc::new(SqliteAudit(pool.clone()));
        Self::with_log(pool, log, "")
    }

    /// The log in `log` (shared by replicas), written as `node`; container events in `pool`.
    pub fn with_log(pool: SqlitePool, log: Arc<dyn AuditDb>, node: &str) -> Self {
        Self {
            pool,
            log,
            node: node.into(),
            refusals: Arc::default(),
            restarts: Arc::default(),
        }
    }

    /// Counts this node's restarts already in the log (at start; the log's retention bounds
    /// how far back this reaches).
    pub async fn load_restart_counts(&self) -> Result<(), sqlx::Error> {
        let rows = self
            .log
            .count_by_target(&self.node, &restart_names(), i64::MIN)
            .await?;
        let mut counts = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
        for (target, n) in rows {
            counts.insert(target, n.max(0) as u64);
        }
        Ok(())
    }

    /// This node's successful container restarts since `from_ms`.
    pub async fn restarts_since(&self, from_ms: i64) -> Result<u64, sqlx::Error> {
        let rows = self
            .log
            .count_by_target(&self.node, &restart_names(), from_ms)
            .await?;
        Ok(rows.iter().map(|(_, n)| (*n).max(0) as u64).sum())
    }

    /// How many times Steward restarted the container with this name.
    pub fn restarts_of(&self, name: &str) -> u64 {
        self.restarts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    /// Counts a refusal (written with the others of its minute by [`AuditLog::run`]).
    pub fn refused(&self, r: Refusal<'_>) {
        self.refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .count(
                r.action.as_str(),
                r.actor,
                r.client,
                r.target,
                r.reason,
                now_ms(),
            );
    }

    /// Writes the refusals counted so far, one row per key.
    pub async fn flush_refusals(&self) -> Result<usize, sqlx::Error> {
        let rows = self
            .refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain();
        if rows.is_empty() {
            return Ok(0);
        }
        let new: Vec<NewRow> = rows
            .iter()
            .map(|(key, c)| NewRow {
                ts_ms: c.last_ms,
                actor: key.actor.clone(),
                action: key.action.clone(),
                target: c.target.clone(),
                result: Outcome::Refused.as_str().to_string(),
                detail: Some(match c.count {
                    1 => format!("{}: {}", key.client, c.reason),
                    n => format!(
                        "{n} times in {} s from {}: {}",
                        (c.last_ms - c.first_ms + 999) / 1000,
                        key.client,
                        c.reason
                    ),
                }),
            })
            .collect();
        self.log.insert(&self.node, &new).await?;
        Ok(rows.len())
    }

    /// Deletes entries older than the retention and the oldest beyond `max_rows`, in the audit
    /// log and in this machine's container events (the watchdog writes those on its own).
    pub async fn enforce_retention(
        &self,
        config: &AuditConfig,
        now_ms: i64,
    ) -> Result<u64, sqlx::Error> {
        let cutoff = (config.retention_days > 0)
            .then(|| now_ms - (config.retention_days as i64) * 86_400_000);
        let mut deleted = 0;
        if let Some(cutoff) = cutoff {
            deleted += sqlx::query("DELETE FROM container_events WHERE ts_ms < ?")
                .bind(cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        deleted += sqlx::query(
            "DELETE FROM container_events WHERE id <= (SELECT max(id) FROM container_events) - ?",
        )
        .bind(config.max_rows as i64)
        .execute(&self.pool)
        .await?
        .rows_affected();
        deleted += self.log.retain(cutoff, config.max_rows as i64).await?;
        Ok(deleted)
    }

    /// Writes counted refusals every `refusal_flush_secs` and applies the retention every hour
    /// while this replica holds `lease` (one replica trims a shared log), until `cancel`; then
    /// writes what is left.
    pub async fn run(self, config: AuditConfig, lease: Arc<Lease>, cancel: CancellationToken) {
        let mut flush = tokio::time::interval(Duration::from_secs(config.refusal_flush_secs));
        let mut retention = tokio::time::interval(RETENTION_INTERVAL);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = flush.tick() => {
                    if let Err(e) = self.flush_refusals().await {
                        tracing::error!("audit log: writing counted refusals failed: {e}");
                    }
                }
                _ = retention.tick() => match lease.hold().await {
                    Ok(false) => {}
                    Ok(true) => match self.enforce_retention(&config, now_ms()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!("audit log retention deleted {n} entries"),
                        Err(e) => tracing::error!("audit log retention failed: {e}"),
                    },
                    Err(e) => tracing::error!("audit log retention skipped: {e}"),
                },
            }
        }
        if let Err(e) = self.flush_refusals().await {
            tracing::error!("audit log: final write of counted refusals failed: {e}");
        }
    }

    /// Writes one entry of the audit log. A failed write is logged, never silent, and never
    /// stops the action it records.
    pub async fn record(&self, entry: Entry<'_>) {
        if entry.outcome == Outcome::Ok && RESTARTS.contains(&entry.action) {
            *self
                .restarts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(entry.target.to_string())
                .or_default() += 1;
        }
        let row = NewRow {
            ts_ms: now_ms(),
            actor: entry.actor.to_string(),
            action: entry.action.as_str().to_string(),
            target: entry.target.to_string(),
            result: entry.outcome.as_str().to_string(),
            detail: entry
                .detail
                .map(|d| clip_bytes(d, MAX_DETAIL_BYTES).to_string()),
        };
        let written = self.log.insert(&self.node, &[row]).await;
        if let Err(e) = written {
            tracing::error!(
                actor = entry.actor,
                action = entry.action.as_str(),
                target = entry.target,
                result = entry.outcome.as_str(),
                "audit log write failed: {e}"
            );
        }
    }

    /// Records one container event.
    pub async fn container_event(
        &self,
        id: &str,
        name: &str,
        kind: ContainerEventKind,
        detail: Option<&str>,
    ) {
        self.container_events_batch(&[ContainerEventRecord {
            id: id.to_string(),
            name: name.to_string(),
            kind,
            detail: detail.map(str::to_string),
        }])
        .await
    }

    /// The newest entries first, older than `before_id` when given (for paging), at most `limit`.
    pub async fn list(
        &self,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, sqlx::Error> {
        self.log
            .list(
                before_id.unwrap_or(i64::MAX),
                i64::from(limit.clamp(1, 500)),
            )
            .await
    }

    /// Records a round's container events in one transaction (a Docker round no longer waits
    /// on one write per container).
    pub async fn container_events_batch(&self, rows: &[ContainerEventRecord]) {
        if rows.is_empty() {
            return;
        }
        let now = now_ms();
        let written = async {
            let mut tx = self.pool.begin().await?;
            for r in rows {
                sqlx::query(
                    "INSERT INTO container_events (ts_ms, container_id, name, kind, detail) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(now)
                .bind(&r.id)
                .bind(&r.name)
                .bind(r.kind.as_str())
                .bind(r.detail.as_deref())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        }
        .await;
        if let Err(e) = written {
            tracing::error!("writing {} container events failed: {e}", rows.len());
        }
    }

    /// A container's events, newest first.
    pub async fn container_events(
        &self,
        name: &str,
        limit: u32,
    ) -> Result<Vec<ContainerEvent>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT ts_ms, kind, detail FROM container_events WHERE name = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(name)
        .bind(limit.clamp(1, 500))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let kind: String = r.get(1);
                let Some(kind) = ContainerEventKind::parse(&kind) else {
                    tracing::warn!("container event of unknown kind {kind:?} skipped");
                    return None;
                };
                Some(ContainerEvent {
                    ts_ms: r.get(0),
                    kind,
                    detail: r.get(2),
                })
            })
            .collect())
    }
}

/// What an audit entry records: who did what to which target, how it ended, and details.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub actor: &'a str,
    pub action: Action,
    pub target: &'a str,
    pub outcome: Outcome,
    pub detail: Option<&'a str>,
}

/// A refused request, counted with the others of its key (anyone can send these).
#[derive(Clone, Copy, Debug)]
pub struct Refusal<'a> {
    pub action: Action,
    pub actor: &'a str,
    pub client: &'a str,
    pub target: &'a str,
    pub reason: &'a str,
}

/// The actions the audit log records (its `action` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Login,
    Logout,
    Setup,
    Explore,
    Restart,
    RestartUnhealthy,
    WatchdogRestart,
    WatchdogGiveUp,
    WatchdogSkip,
    /// Heartbeat jobs: created, token rotated, deleted.
    JobCreate,
    JobRotate,
    JobDelete,
    /// A ping with a wrong or missing job token (counted, like sign-in failures).
    JobPing,
    /// A cleanup run (the dry run is recorded with the dry-run outcome).
    Cleanup,
    /// A model loaded into or unloaded from a backend (the verdict in the detail).
    ModelLoad,
    ModelUnload,
    /// Alerts: a silence added or ended, an alert acknowledged, a notifier's test sent.
    AlertSilence,
    AlertUnsilence,
    AlertAcknowledge,
    NotifierTest,
    /// The weekly digest sent (on its schedule or by an admin).
    DigestSend,
    /// Fleet hosts: added (token issued), token rotated, tokens revoked, removed.
    HostAdd,
    HostRotate,
    HostRevoke,
    HostDelete,
    /// A host's health URL set or cleared.
    HostAddress,
    /// Fleet groups: created, renamed, deleted, hosts assigned.
    GroupCreate,
    GroupRename,
    GroupDelete,
    GroupAssign,
    /// A fleet action confirmed for a host (one entry per host), and its result as the host's
    /// agent reported it.
    FleetRestart,
    FleetRestartResult,
    /// A request the guard refused (viewer, missing CSRF token, cross-site).
    Guard,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Logout => "logout",
            Action::Setup => "setup",
            Action::Explore => "explore",
            Action::Restart => "restart",
            Action::RestartUnhealthy => "restart-unhealthy",
            Action::WatchdogRestart => "watchdog-restart",
            Action::WatchdogGiveUp => "watchdog-give-up",
            Action::WatchdogSkip => "watchdog-skip",
            Action::JobCreate => "job-create",
            Action::JobRotate => "job-rotate",
            Action::JobDelete => "job-delete",
            Action::JobPing => "job-ping",
            Action::Cleanup => "cleanup",
            Action::ModelLoad => "model-load",
            Action::ModelUnload => "model-unload",
            Action::AlertSilence => "alert-silence",
            Action::AlertUnsilence => "alert-unsilence",
            Action::AlertAcknowledge => "alert-acknowledge",
            Action::NotifierTest => "notifier-test",
            Action::DigestSend => "digest-send",
            Action::HostAdd => "host-add",
            Action::HostRotate => "host-rotate",
            Action::HostRevoke => "host-revoke",
            Action::HostDelete => "host-delete",
            Action::HostAddress => "host-address",
            Action::GroupCreate => "group-create",
            Action::GroupRename => "group-rename",
            Action::GroupDelete => "group-delete",
            Action::GroupAssign => "group-assign",
            Action::FleetRestart => "fleet-restart",
            Action::FleetRestartResult => "fleet-restart-result",
            Action::Guard => "guard",
        }
    }
}

/// How an audited action ended (its `result` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Refused,
    DryRun,
    GaveUp,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
            Outcome::DryRun => "dry-run",
            Outcome::GaveUp => "gave-up",
            Outcome::Skipped => "skipped",
        }
    }
}

/// The longest prefix of `s` within `max` bytes, on a character boundary.
fn clip_bytes(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
