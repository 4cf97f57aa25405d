//! The fleet's alerts, shared by hub replicas on PostgreSQL. The replica holding the
//! `fleet alerts` lease judges the fleet's rules and writes the instances it tracks here; the
//! other replicas show those rows (naming the node that judges them), pass acknowledgements on
//! through a queue the judge drains every round, and adopt the rows when they take the lease
//! over, so a failover sends no second "firing" and keeps the acknowledgement.
//! PostgreSQL only: on the embedded default one process judges every rule.

use app::alerts::{Alert, Severity};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// One shared instance: the alert as shown and what the judge needs to carry it on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub alert: Alert,
    /// The last notice sent: its severity and time (`None`: nothing sent yet, e.g. silenced).
    pub sent: Option<(Severity, i64)>,
    /// The worst level of this spell (what the history records when it resolves).
    pub worst: Option<Severity>,
}

/// A row as read: the instance and the replica that judges it.
#[derive(Clone, Debug, PartialEq)]
pub struct Shared {
    pub held: Held,
    pub node: String,
}

/// The shared table, written by the judge and read by every replica.
#[derive(Clone)]
pub struct SharedAlerts {
    pool: PgPool,
    node: String,
}

impl SharedAlerts {
    /// `node` is this replica's host name (shown beside the alerts it judges).
    pub fn new(pool: PgPool, node: &str) -> Self {
        Self {
            pool,
            node: node.to_string(),
        }
    }

    /// Every shared instance. A row whose body does not parse is skipped and said.
    pub async fn read(&self) -> Result<Vec<Shared>, sqlx::Error> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT key, body, node FROM alert_fleet_active ORDER BY key")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(key, body, node)| match serde_json::from_str(&body) {
                Ok(held) => Some(Shared { held, node }),
                Err(e) => {
                    tracing::error!("shared alert {key} skipped: its body does not parse ({e})");
                    None
                }
            })
            .collect())
    }

    /// Replaces the shared set with `held`, the judge's instances after a round: one
    /// transaction, so a reader sees the old set or the new one.
    pub async fn write(&self, held: &[Held], now_ms: i64) -> Result<(), sqlx::Error> {
        let keys: Vec<String> = held.iter().map(|h| h.alert.key()).collect();
        let bodies: Vec<String> = held
            .iter()
            .map(|h| serde_json::to_string(h).unwrap_or_default())
            .collect();
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM alert_fleet_active WHERE NOT (key = ANY($1))")
            .bind(&keys)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO alert_fleet_active (key, body, node, updated_ms)
             SELECT k, b, $3, $4 FROM UNNEST($1::text[], $2::text[]) AS t(k, b)
             ON CONFLICT (key) DO UPDATE
             SET body = EXCLUDED.body, node = EXCLUDED.node, updated_ms = EXCLUDED.updated_ms",
        )
        .bind(&keys)
        .bind(&bodies)
        .bind(&self.node)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Asks the judge to acknowledge `key` on its next round.
    pub async fn ask_ack(&self, key: &str, by: &str, now_ms: i64) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO alert_fleet_acks (key, by_user, at_ms) VALUES ($1, $2, $3)")
            .bind(key)
            .bind(by)
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// Takes the acknowledgements asked since the last call (the judge's business), oldest
    /// first, as `(key, by)`. Taken means deleted: each is applied once.
    pub async fn take_acks(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        let mut taken: Vec<(i64, String, String)> =
            sqlx::query_as("DELETE FROM alert_fleet_acks RETURNING id, key, by_user")
                .fetch_all(&self.pool)
                .await?;
        taken.sort_by_key(|t| t.0);
        Ok(taken.into_iter().map(|(_, k, by)| (k, by)).collect())
    }
}
