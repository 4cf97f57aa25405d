//! The audit log's table behind one trait, on the SQLite file (the embedded default) or on
//! PostgreSQL (`[database] url`), so every hub replica writes to and shows one log. Each row
//! names the node (host name) whose Steward wrote it: the restarts Steward counts per
//! container are those of its own machine. The SQL is written once (`$N` placeholders read
//! the same on both engines) and expanded for each pool type, like the user store.

use async_trait::async_trait;
use sqlx::{PgPool, Row, SqlitePool};

use app::auth::AuditEntry;

/// One row to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRow {
    pub ts_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub result: String,
    pub detail: Option<String>,
}

#[async_trait]
pub trait AuditDb: Send + Sync {
    /// Writes rows in one transaction, each tagged with `node`.
    async fn insert(&self, node: &str, rows: &[NewRow]) -> Result<(), sqlx::Error>;
    /// The newest entries first, older than `before_id`, at most `limit`.
    async fn list(&self, before_id: i64, limit: i64) -> Result<Vec<AuditEntry>, sqlx::Error>;
    /// Successful entries of `node` with one of `actions` since `from_ms`, counted per target.
    async fn count_by_target(
        &self,
        node: &str,
        actions: &[&str; 3],
        from_ms: i64,
    ) -> Result<Vec<(String, i64)>, sqlx::Error>;
    /// Deletes entries older than `cutoff_ms` (when given) and the oldest beyond `max_rows`.
    async fn retain(&self, cutoff_ms: Option<i64>, max_rows: i64) -> Result<u64, sqlx::Error>;
}

const INSERT: &str = "INSERT INTO audit_log (ts_ms, node, actor, action, target, result, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
const LIST: &str = "SELECT id, ts_ms, node, actor, action, target, result, detail FROM audit_log
     WHERE id < $1 ORDER BY id DESC LIMIT $2";
const COUNT_BY_TARGET: &str = "SELECT target, COUNT(*) AS n FROM audit_log
     WHERE node = $1 AND result = 'ok' AND action IN ($2, $3, $4) AND ts_ms >= $5
     GROUP BY target";
const DELETE_OLDER: &str = "DELETE FROM audit_log WHERE ts_ms < $1";
const DELETE_BEYOND: &str =
    "DELETE FROM audit_log WHERE id <= (SELECT max(id) FROM audit_log) - $1";

/// The audit log in the SQLite file.
#[derive(Clone)]
pub struct SqliteAudit(pub SqlitePool);

/// The audit log in PostgreSQL.
#[derive(Clone)]
pub struct PgAudit(pub PgPool);

/// The one implementation, expanded for each pool type (the queries are the same text).
macro_rules! audit_db {
    ($ty:ty) => {
        #[async_trait]
        impl AuditDb for $ty {
            async fn insert(&self, node: &str, rows: &[NewRow]) -> Result<(), sqlx::Error> {
                let mut tx = self.0.begin().await?;
                for r in rows {
                    sqlx::query(INSERT)
                        .bind(r.ts_ms)
                        .bind(node)
                        .bind(&r.actor)
                        .bind(&r.action)
                        .bind(&r.target)
                        .bind(&r.result)
                        .bind(r.detail.as_deref())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }

            async fn list(
                &self,
                before_id: i64,
                limit: i64,
            ) -> Result<Vec<AuditEntry>, sqlx::Error> {
                let rows = sqlx::query(LIST)
                    .bind(before_id)
                    .bind(limit)
                    .fetch_all(&self.0)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| AuditEntry {
                        id: r.get(0),
                        ts_ms: r.get(1),
                        node: r.get(2),
                        actor: r.get(3),
                        action: r.get(4),
                        target: r.get(5),
                        result: r.get(6),
                        detail: r.get(7),
                    })
                    .collect())
            }

            async fn count_by_target(
                &self,
                node: &str,
                actions: &[&str; 3],
                from_ms: i64,
            ) -> Result<Vec<(String, i64)>, sqlx::Error> {
                sqlx::query_as(COUNT_BY_TARGET)
                    .bind(node)
                    .bind(actions[0])
                    .bind(actions[1])
                    .bind(actions[2])
                    .bind(from_ms)
                    .fetch_all(&self.0)
                    .await
            }

            async fn retain(
                &self,
                cutoff_ms: Option<i64>,
                max_rows: i64,
            ) -> Result<u64, sqlx::Error> {
                let mut deleted = 0;
                if let Some(cutoff) = cutoff_ms {
                    deleted += sqlx::query(DELETE_OLDER)
                        .bind(cutoff)
                        .execute(&self.0)
                        .await?
                        .rows_affected();
                }
                deleted += sqlx::query(DELETE_BEYOND)
                    .bind(max_rows)
                    .execute(&self.0)
                    .await?
                    .rows_affected();
                Ok(deleted)
            }
        }
    };
}

audit_db!(SqliteAudit);
audit_db!(PgAudit);
