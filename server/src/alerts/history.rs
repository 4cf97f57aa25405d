//! Resolved alerts behind one trait, in the SQLite file (the embedded default) or on
//! PostgreSQL (`[database] url`), where every hub replica writes and reads them: each row
//! names the node that judged it, so every replica's alerts page shows the fleet's resolved
//! alerts and each replica's digest counts its own. The SQL is written once and expanded for
//! each pool type, like the other shared stores.

use async_trait::async_trait;
use sqlx::{PgPool, SqlitePool};

use app::alerts::{Alert, AlertState};

#[async_trait]
pub trait AlertHistoryDb: Send + Sync {
    /// Whether other replicas write here too (then each re-reads the recent ones every round).
    fn shared(&self) -> bool;
    /// Records resolved alerts judged on `node` (one transaction), then keeps the newest
    /// `keep` rows.
    async fn record(&self, resolved: &[Alert], node: &str, keep: i64) -> Result<(), sqlx::Error>;
    /// The newest `limit` resolved alerts, newest first, with the node that judged each. A row
    /// whose labels or severity do not parse is skipped and said.
    async fn recent(&self, limit: i64) -> Result<Vec<(Alert, String)>, sqlx::Error>;
    /// Alerts judged on `node` that fired since `from_ms` and have resolved: (critical, warning).
    async fn fired_since(&self, from_ms: i64, node: &str) -> Result<(u64, u64), sqlx::Error>;
}

const INSERT: &str = "INSERT INTO alert_history
     (rule, labels, severity, summary, value, since_ms, resolved_ms, node)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const TRIM: &str = "DELETE FROM alert_history WHERE id <= (SELECT MAX(id) FROM alert_history) - $1";
const RECENT: &str = "SELECT rule, labels, severity, summary, value, since_ms, resolved_ms, node
     FROM alert_history ORDER BY resolved_ms DESC, id DESC LIMIT $1";
const FIRED: &str = "SELECT severity, COUNT(*) FROM alert_history
     WHERE since_ms >= $1 AND node = $2 GROUP BY severity";

type Row = (
    String,
    String,
    String,
    String,
    Option<f64>,
    i64,
    i64,
    String,
);

fn alert(
    (rule, labels, severity, summary, value, since_ms, resolved_ms, node): Row,
) -> Option<(Alert, String)> {
    let parsed = serde_json::from_str(&labels)
        .map_err(|e| e.to_string())
        .and_then(|labels| {
            serde_json::from_value(severity.clone().into())
                .map(|severity| (labels, severity))
                .map_err(|e| e.to_string())
        });
    match parsed {
        Ok((labels, severity)) => Some((
            Alert {
                rule,
                labels,
                state: AlertState::Resolved,
                severity,
                value,
                threshold: None,
                summary,
                since_ms,
                resolved_ms: Some(resolved_ms),
                acknowledged_by: None,
                silenced: false,
                judged_on: None,
            },
            node,
        )),
        Err(e) => {
            tracing::error!("resolved alert {rule} skipped: it does not parse ({e})");
            None
        }
    }
}

fn counts(rows: &[(String, i64)]) -> (u64, u64) {
    let count = |s: &str| {
        rows.iter()
            .filter(|r| r.0 == s)
            .map(|r| r.1.max(0) as u64)
            .sum()
    };
    (count("critical"), count("warning"))
}

/// The history in the SQLite file.
#[derive(Clone)]
pub struct SqliteAlertHistory(pub SqlitePool);

/// The history on PostgreSQL, shared by replicas.
#[derive(Clone)]
pub struct PgAlertHistory(pub PgPool);

macro_rules! alert_history_db {
    ($ty:ty, $shared:literal) => {
        #[async_trait]
        impl AlertHistoryDb for $ty {
            fn shared(&self) -> bool {
                $shared
            }

            async fn record(
                &self,
                resolved: &[Alert],
                node: &str,
                keep: i64,
            ) -> Result<(), sqlx::Error> {
                if resolved.is_empty() {
                    return Ok(());
                }
                let mut tx = self.0.begin().await?;
                for a in resolved {
                    sqlx::query(INSERT)
                        .bind(&a.rule)
                        .bind(serde_json::to_string(&a.labels).unwrap_or_default())
                        .bind(a.severity.as_str())
                        .bind(&a.summary)
                        .bind(a.value)
                        .bind(a.since_ms)
                        .bind(a.resolved_ms.unwrap_or_default())
                        .bind(node)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query(TRIM).bind(keep).execute(&mut *tx).await?;
                tx.commit().await
            }

            async fn recent(&self, limit: i64) -> Result<Vec<(Alert, String)>, sqlx::Error> {
                let rows: Vec<Row> = sqlx::query_as(RECENT)
                    .bind(limit)
                    .fetch_all(&self.0)
                    .await?;
                Ok(rows.into_iter().filter_map(alert).collect())
            }

            async fn fired_since(
                &self,
                from_ms: i64,
                node: &str,
            ) -> Result<(u64, u64), sqlx::Error> {
                let rows: Vec<(String, i64)> = sqlx::query_as(FIRED)
                    .bind(from_ms)
                    .bind(node)
                    .fetch_all(&self.0)
                    .await?;
                Ok(counts(&rows))
            }
        }
    };
}

alert_history_db!(SqliteAlertHistory, false);
alert_history_db!(PgAlertHistory, true);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_split_by_severity_and_ignore_others() {
        let rows = [
            ("critical".to_string(), 2),
            ("warning".to_string(), 5),
            ("info".to_string(), 9),
        ];
        assert_eq!(counts(&rows), (2, 5));
        assert_eq!(counts(&[]), (0, 0));
    }
}
