//! The audit log (who did what to which target, and how it ended) and Steward's own record of
//! container events (health transitions, watchdog decisions), both in SQLite.

use app::auth::AuditEntry;
use app::containers::ContainerEvent;
use sqlx::{Row, SqlitePool};

use crate::state::now_ms;

/// Writes and reads the audit log. Writing never fails the action it records: a failed write is
/// logged loudly instead, because losing the action's result would be worse.
#[derive(Clone)]
pub struct AuditLog {
    pool: SqlitePool,
}

impl AuditLog {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
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
        .bind(detail)
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
        let written = sqlx::query(
            "INSERT INTO container_events (ts_ms, container_id, name, kind, detail) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(now_ms())
        .bind(id)
        .bind(name)
        .bind(kind)
        .bind(detail)
        .execute(&self.pool)
        .await;
        if let Err(e) = written {
            tracing::error!(container = name, kind, "container event write failed: {e}");
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
