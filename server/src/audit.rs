//! The audit log (who did what to which target, and how it ended) and Steward's own record of
//! container events (health transitions, watchdog decisions), both in SQLite.
//!
//! Actions by signed-in users get a row each. Refusals that anyone can cause (failed sign-ins,
//! requests the guard turns away) are counted per minute and written as one row per address,
//! username and action (`refusals.rs`), and the log has a retention by age and row count.

pub mod refusals;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::auth::AuditEntry;
use app::containers::ContainerEvent;
use sqlx::{Row, SqlitePool};
use tokio_util::sync::CancellationToken;

use crate::config::AuditConfig;
use app::clock::now_ms;
use refusals::Refusals;

/// Longest `detail` stored for one entry (an explore query is at most 2,000 characters).
const MAX_DETAIL_BYTES: usize = 4096;
/// How often the retention runs.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Writes and reads the audit log. Writing never fails the action it records: a failed write is
/// logged loudly instead, because losing the action's result would be worse.
#[derive(Clone)]
pub struct AuditLog {
    pool: SqlitePool,
    refusals: Arc<Mutex<Refusals>>,
}

impl AuditLog {
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            refusals: Arc::default(),
        }
    }

    /// Counts a refusal (written with the others of its minute by [`AuditLog::run`]).
    pub fn refused(&self, action: &str, actor: &str, client: &str, target: &str, reason: &str) {
        self.refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .count(action, actor, client, target, reason, now_ms());
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
        let mut tx = self.pool.begin().await?;
        for (key, c) in &rows {
            let detail = match c.count {
                1 => format!("{}: {}", key.client, c.reason),
                n => format!(
                    "{n} times in {} s from {}: {}",
                    (c.last_ms - c.first_ms + 999) / 1000,
                    key.client,
                    c.reason
                ),
            };
            sqlx::query(
                "INSERT INTO audit_log (ts_ms, actor, action, target, result, detail) VALUES (?, ?, ?, ?, 'refused', ?)",
            )
            .bind(c.last_ms)
            .bind(&key.actor)
            .bind(&key.action)
            .bind(&c.target)
            .bind(detail)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Deletes entries older than the retention and the oldest beyond `max_rows`, in the audit
    /// log and in the container events (the watchdog writes those on its own).
    pub async fn enforce_retention(
        &self,
        config: &AuditConfig,
        now_ms: i64,
    ) -> Result<u64, sqlx::Error> {
        let mut deleted = 0;
        for table in ["audit_log", "container_events"] {
            if config.retention_days > 0 {
                deleted += sqlx::query(&format!("DELETE FROM {table} WHERE ts_ms < ?"))
                    .bind(now_ms - (config.retention_days as i64) * 86_400_000)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
            }
            deleted += sqlx::query(&format!(
                "DELETE FROM {table} WHERE id <= (SELECT max(id) FROM {table}) - ?"
            ))
            .bind(config.max_rows as i64)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(deleted)
    }

    /// Writes counted refusals every `refusal_flush_secs` and applies the retention every hour, until
    /// `cancel`; then writes what is left.
    pub async fn run(self, config: AuditConfig, cancel: CancellationToken) {
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
                _ = retention.tick() => match self.enforce_retention(&config, now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("audit log retention deleted {n} entries"),
                    Err(e) => tracing::error!("audit log retention failed: {e}"),
                },
            }
        }
        if let Err(e) = self.flush_refusals().await {
            tracing::error!("audit log: final write of counted refusals failed: {e}");
        }
    }

    /// Records one action.
    pub async fn record(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        result: &str,
        detail: Option<&str>,
    ) {
        let written = sqlx::query(
            "INSERT INTO audit_log (ts_ms, actor, action, target, result, detail) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(now_ms())
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(result)
        .bind(detail.map(|d| clip_bytes(d, MAX_DETAIL_BYTES)))
        .execute(&self.pool)
        .await;
        if let Err(e) = written {
            tracing::error!(actor, action, target, result, "audit log write failed: {e}");
        }
    }

    /// The newest entries first, older than `before_id` when given (for paging), at most `limit`.
    pub async fn list(
        &self,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, ts_ms, actor, action, target, result, detail FROM audit_log
             WHERE id < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(limit.clamp(1, 500))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.get(0),
                ts_ms: r.get(1),
                actor: r.get(2),
                action: r.get(3),
                target: r.get(4),
                result: r.get(5),
                detail: r.get(6),
            })
            .collect())
    }

    /// Records a container event.
    pub async fn container_event(&self, id: &str, name: &str, kind: &str, detail: Option<&str>) {
        self.container_events_batch(&[ContainerEventRow {
            id: id.to_string(),
            name: name.to_string(),
            kind,
            detail: detail.map(str::to_string),
        }])
        .await
    }

    /// Records a round's container events in one transaction (a Docker round no longer waits
    /// on one write per container).
    pub async fn container_events_batch(&self, rows: &[ContainerEventRow<'_>]) {
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
                .bind(r.kind)
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
            .map(|r| ContainerEvent {
                ts_ms: r.get(0),
                kind: r.get(1),
                detail: r.get(2),
            })
            .collect())
    }
}

/// One container event to write.
pub struct ContainerEventRow<'a> {
    pub id: String,
    pub name: String,
    pub kind: &'a str,
    pub detail: Option<String>,
}

/// The longest prefix of `s` within `max` bytes, on a character boundary.
fn clip_bytes(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
