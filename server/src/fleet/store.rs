//! SQLite for the fleet: hosts, their agent tokens (digests only) and their counters.

use app::fleet::action::{ActionKind, ActionState, FleetAction};
use app::fleet::{valid_group_name, Health, HealthCheck, TokenView};
use sqlx::{Row, SqlitePool};

use crate::auth::password::{random_token, token_digest};
use app::shared::clock::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("a host name is 1–64 of a-z, 0-9, `.`, `-` and `_` (got {0:?})")]
    BadName(String),
    #[error("the host {0} exists already")]
    Exists(String),
    #[error("no host {0}")]
    NoHost(String),
    #[error("a group name is 1–64 of a-z, 0-9, `.`, `-` and `_` (got {0:?})")]
    BadGroup(String),
    #[error("the group {0} exists already")]
    GroupExists(String),
    #[error("no group {0}")]
    NoGroup(String),
    #[error("no host named {0}")]
    NoHosts(String),
    #[error("fleet database: {0}")]
    Db(#[from] sqlx::Error),
}

/// What a bearer token is, for the agent API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    /// A live token of this host (its digest, to record its use).
    Valid { host: String, digest: String },
    /// A token this host had, revoked or past its grace period: counted on the host.
    Refused { host: String, why: &'static str },
    /// No host ever had it: counted fleet-wide.
    Unknown,
}

/// A host row as loaded at start.
#[derive(Clone, Debug, Default)]
pub struct HostRow {
    pub host: String,
    pub created_ms: i64,
    pub address: Option<String>,
    pub last_heartbeat_ms: Option<i64>,
    pub agent_version: Option<String>,
    pub agent_status: Option<String>,
    pub heartbeats_total: u64,
    pub rejected_fields: u64,
    pub clamped_fields: u64,
    pub refused_tokens: u64,
    pub agent_dropped: u64,
    pub group: Option<String>,
}

/// Health changes kept per host.
pub const KEEP_HEALTH_CHANGES: i64 = 100;
/// Fleet actions kept per host in the database, and in memory (the host page's list).
pub const KEEP_ACTIONS: i64 = 100;
pub const RECENT_ACTIONS: i64 = 10;

/// One committed heartbeat's effect on its host row.
#[derive(Clone, Debug)]
pub struct HostUpdate {
    pub host: String,
    pub digest: String,
    pub received_ms: i64,
    pub seq: u64,
    pub agent_version: String,
    pub agent_status: &'static str,
    pub rejected: u64,
    pub clamped: u64,
    pub agent_dropped: u64,
}

#[derive(Clone)]
pub struct FleetStore {
    pool: SqlitePool,
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name != crate::platform::bus::LOCAL_HOST
}

impl FleetStore {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Adds a host and returns its first token (the one time it can be read).
    pub async fn add(&self, host: &str, address: Option<&str>) -> Result<String, FleetError> {
        if !valid_name(host) {
            return Err(FleetError::BadName(host.to_string()));
        }
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO fleet_hosts (host, created_ms, address) VALUES (?, ?, ?)
             ON CONFLICT (host) DO NOTHING",
        )
        .bind(host)
        .bind(now_ms())
        .bind(address)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(FleetError::Exists(host.to_string()));
        }
        let token = insert_token(&mut tx, host).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Issues a new token; the host's live tokens keep working for `grace_ms` (0: revoked now).
    pub async fn rotate(&self, host: &str, grace_ms: i64) -> Result<String, FleetError> {
        let now = now_ms();
        // The first statement writes, so the transaction takes the write lock at once: a read
        // first could not be upgraded once another connection wrote (SQLITE_BUSY_SNAPSHOT).
        let mut tx = self.pool.begin().await?;
        if grace_ms > 0 {
            sqlx::query(
                "UPDATE agent_tokens SET expires_ms = ? WHERE host = ? AND revoked_ms IS NULL
                 AND (expires_ms IS NULL OR expires_ms > ?)",
            )
            .bind(now + grace_ms)
            .bind(host)
            .bind(now + grace_ms)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "UPDATE agent_tokens SET revoked_ms = ? WHERE host = ? AND revoked_ms IS NULL",
            )
            .bind(now)
            .bind(host)
            .execute(&mut *tx)
            .await?;
        }
        let exists: Option<String> =
            sqlx::query_scalar("SELECT host FROM fleet_hosts WHERE host = ?")
                .bind(host)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(FleetError::NoHost(host.to_string()));
        }
        let token = insert_token(&mut tx, host).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Revokes every token of a host: its agent is refused from now on (and counted).
    pub async fn revoke(&self, host: &str) -> Result<u64, FleetError> {
        let n = sqlx::query(
            "UPDATE agent_tokens SET revoked_ms = ? WHERE host = ? AND revoked_ms IS NULL",
        )
        .bind(now_ms())
        .bind(host)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 && !self.exists(host).await? {
            return Err(FleetError::NoHost(host.to_string()));
        }
        Ok(n)
    }

    /// Removes a host and its tokens (its history stays until retention removes it).
    pub async fn delete(&self, host: &str) -> Result<(), FleetError> {
        let n = sqlx::query("DELETE FROM fleet_hosts WHERE host = ?")
            .bind(host)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(FleetError::NoHost(host.to_string()));
        }
        Ok(())
    }

    async fn exists(&self, host: &str) -> Result<bool, FleetError> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT 1 FROM fleet_hosts WHERE host = ?")
                .bind(host)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// What a bearer token is; counts uses of a revoked or expired token on its host (unknown
    /// ones are counted by the caller, since anyone can send them).
    pub async fn check(&self, token: &str) -> Result<TokenCheck, FleetError> {
        let digest = token_digest(token);
        let row = sqlx::query(
            "SELECT host, expires_ms, revoked_ms FROM agent_tokens WHERE token_hash = ?",
        )
        .bind(&digest)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(TokenCheck::Unknown);
        };
        let host: String = row.get(0);
        let expires: Option<i64> = row.get(1);
        let revoked: Option<i64> = row.get(2);
        let why = if revoked.is_some() {
            Some("revoked")
        } else if expires.is_some_and(|e| e <= now_ms()) {
            Some("rotated and past its grace period")
        } else {
            None
        };
        match why {
            None => Ok(TokenCheck::Valid { host, digest }),
            Some(why) => {
                sqlx::query(
                    "UPDATE fleet_hosts SET refused_tokens = refused_tokens + 1 WHERE host = ?",
                )
                .bind(&host)
                .execute(&self.pool)
                .await?;
                Ok(TokenCheck::Refused { host, why })
            }
        }
    }

    /// Records committed heartbeats on their hosts, in one transaction.
    pub async fn record(
        &self,
        updates: &[HostUpdate],
        actions: &[FleetAction],
    ) -> Result<(), FleetError> {
        let mut tx = self.pool.begin().await?;
        for a in actions {
            save_action(&mut tx, a).await?;
        }
        for u in updates {
            sqlx::query(
                "UPDATE fleet_hosts SET last_heartbeat_ms = max(coalesce(last_heartbeat_ms, 0), ?),
                 last_seq = max(coalesce(last_seq, 0), ?), agent_version = ?, agent_status = ?,
                 heartbeats_total = heartbeats_total + 1,
                 rejected_fields = rejected_fields + ?, clamped_fields = clamped_fields + ?,
                 agent_dropped = ? WHERE host = ?",
            )
            .bind(u.received_ms)
            .bind(u.seq as i64)
            .bind(&u.agent_version)
            .bind(u.agent_status)
            .bind(u.rejected as i64)
            .bind(u.clamped as i64)
            .bind(u.agent_dropped as i64)
            .bind(&u.host)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE agent_tokens SET last_used_ms = ? WHERE token_hash = ?")
                .bind(u.received_ms)
                .bind(&u.digest)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every host row.
    pub async fn hosts(&self) -> Result<Vec<HostRow>, FleetError> {
        let rows = sqlx::query(&format!("{HOST_COLUMNS} ORDER BY host"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(host_row).collect())
    }

    /// One host's row, if it exists.
    pub async fn host(&self, host: &str) -> Result<Option<HostRow>, FleetError> {
        let row = sqlx::query(&format!("{HOST_COLUMNS} WHERE host = ?"))
            .bind(host)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(host_row))
    }

    /// Sets (or clears) the health URL the sweep checks.
    pub async fn set_address(&self, host: &str, address: Option<&str>) -> Result<(), FleetError> {
        let n = sqlx::query("UPDATE fleet_hosts SET address = ? WHERE host = ?")
            .bind(address)
            .bind(host)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(FleetError::NoHost(host.to_string()));
        }
        Ok(())
    }

    /// Stores health changes in one transaction and keeps the newest
    /// [`KEEP_HEALTH_CHANGES`] per changed host.
    pub async fn record_health(&self, changes: &[(String, HealthCheck)]) -> Result<(), FleetError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (host, c) in changes {
            sqlx::query(
                "INSERT INTO fleet_health_changes (host, at_ms, status, latency_ms, reason)
                 SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM fleet_hosts WHERE host = ?)",
            )
            .bind(host)
            .bind(c.at_ms)
            .bind(c.status.key())
            .bind(c.latency_ms.map(i64::from))
            .bind(&c.reason)
            .bind(host)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM fleet_health_changes WHERE host = ? AND rowid NOT IN
                 (SELECT rowid FROM fleet_health_changes WHERE host = ?
                  ORDER BY at_ms DESC, rowid DESC LIMIT ?)",
            )
            .bind(host)
            .bind(host)
            .bind(KEEP_HEALTH_CHANGES)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A host's health changes, newest first.
    pub async fn health_changes(
        &self,
        host: &str,
        limit: i64,
    ) -> Result<Vec<HealthCheck>, FleetError> {
        let rows = sqlx::query(
            "SELECT at_ms, status, latency_ms, reason FROM fleet_health_changes WHERE host = ?
             ORDER BY at_ms DESC, rowid DESC LIMIT ?",
        )
        .bind(host)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().filter_map(health_row).collect())
    }

    /// Every host's latest health change (its health when the hub starts).
    pub async fn latest_health(&self) -> Result<Vec<(String, HealthCheck)>, FleetError> {
        let rows = sqlx::query(
            "SELECT host, at_ms, status, latency_ms, reason FROM fleet_health_changes c
             WHERE rowid = (SELECT rowid FROM fleet_health_changes WHERE host = c.host
                            ORDER BY at_ms DESC, rowid DESC LIMIT 1)",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let host: String = r.get(0);
                Some((
                    host,
                    HealthCheck {
                        at_ms: r.get(1),
                        status: Health::parse(r.get::<&str, _>(2))?,
                        latency_ms: r.get::<Option<i64>, _>(3).map(|l| l as u32),
                        reason: r.get(4),
                    },
                ))
            })
            .collect())
    }

    /// Every group's name, in name order.
    pub async fn groups(&self) -> Result<Vec<String>, FleetError> {
        Ok(
            sqlx::query_scalar("SELECT name FROM fleet_groups ORDER BY name")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn create_group(&self, name: &str) -> Result<(), FleetError> {
        if !valid_group_name(name) {
            return Err(FleetError::BadGroup(name.to_string()));
        }
        let n = sqlx::query(
            "INSERT INTO fleet_groups (name, created_ms) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(FleetError::GroupExists(name.to_string()));
        }
        Ok(())
    }

    /// Renames a group; its hosts follow (`ON UPDATE CASCADE`).
    pub async fn rename_group(&self, name: &str, to: &str) -> Result<(), FleetError> {
        if !valid_group_name(to) {
            return Err(FleetError::BadGroup(to.to_string()));
        }
        let n = sqlx::query("UPDATE fleet_groups SET name = ? WHERE name = ?")
            .bind(to)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    FleetError::GroupExists(to.to_string())
                }
                _ => FleetError::Db(e),
            })?
            .rows_affected();
        if n == 0 {
            return Err(FleetError::NoGroup(name.to_string()));
        }
        Ok(())
    }

    /// Deletes a group; its hosts stay, ungrouped.
    pub async fn delete_group(&self, name: &str) -> Result<(), FleetError> {
        let n = sqlx::query("DELETE FROM fleet_groups WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(FleetError::NoGroup(name.to_string()));
        }
        Ok(())
    }

    /// Puts `hosts` into `group` (`None`: out of any group), all or none.
    pub async fn assign(&self, hosts: &[String], group: Option<&str>) -> Result<u64, FleetError> {
        let mut tx = self.pool.begin().await?;
        for host in hosts {
            let changed = sqlx::query("UPDATE fleet_hosts SET group_name = ? WHERE host = ?")
                .bind(group)
                .bind(host)
                .execute(&mut *tx)
                .await
                .map_err(|e| match (&e, group) {
                    (sqlx::Error::Database(d), Some(g)) if d.is_foreign_key_violation() => {
                        FleetError::NoGroup(g.to_string())
                    }
                    _ => FleetError::Db(e),
                })?
                .rows_affected();
            if changed == 0 {
                return Err(FleetError::NoHosts(host.clone()));
            }
        }
        let n = hosts.len() as u64;
        tx.commit().await?;
        Ok(n)
    }

    /// A host's tokens, newest first.
    pub async fn tokens(&self, host: &str) -> Result<Vec<TokenView>, FleetError> {
        let rows = sqlx::query(
            "SELECT token_hash, created_ms, expires_ms, revoked_ms, last_used_ms
             FROM agent_tokens WHERE host = ? ORDER BY created_ms DESC, rowid DESC",
        )
        .bind(host)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| TokenView {
                id: r.get::<String, _>(0).chars().take(8).collect(),
                created_ms: r.get(1),
                expires_ms: r.get(2),
                revoked_ms: r.get(3),
                last_used_ms: r.get(4),
            })
            .collect())
    }

    /// Stores the count of uses of tokens no host ever had.
    pub async fn save_unknown_tokens(&self, total: u64) -> Result<(), FleetError> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('fleet_unknown_tokens', ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(total as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Uses of tokens no host ever had.
    pub async fn unknown_tokens(&self) -> Result<u64, FleetError> {
        let n: Option<i64> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'fleet_unknown_tokens'")
                .fetch_optional(&self.pool)
                .await?;
        Ok(n.unwrap_or(0) as u64)
    }
}

impl FleetStore {
    /// Stores new actions (one confirmation), keeping the newest [`KEEP_ACTIONS`] per host.
    pub async fn insert_actions(&self, actions: &[FleetAction]) -> Result<(), FleetError> {
        let mut tx = self.pool.begin().await?;
        for a in actions {
            sqlx::query(
                "INSERT INTO fleet_actions (id, batch, host, kind, containers, requested_by,
                 requested_ms, state, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&a.id)
            .bind(&a.batch)
            .bind(&a.host)
            .bind(a.kind.key())
            .bind(serde_json::to_string(&a.containers).unwrap_or_default())
            .bind(&a.requested_by)
            .bind(a.requested_ms)
            .bind(a.state.key())
            .bind(a.updated_ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM fleet_actions WHERE host = ? AND id NOT IN
                 (SELECT id FROM fleet_actions WHERE host = ? ORDER BY requested_ms DESC LIMIT ?)",
            )
            .bind(&a.host)
            .bind(&a.host)
            .bind(KEEP_ACTIONS)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest [`RECENT_ACTIONS`] of every host (the hub's memory at start).
    pub async fn recent_actions(&self) -> Result<Vec<FleetAction>, FleetError> {
        let rows = sqlx::query(&format!(
            "{ACTION_COLUMNS} WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER
             (PARTITION BY host ORDER BY requested_ms DESC) AS n FROM fleet_actions) WHERE n <= ?)
             ORDER BY host, requested_ms DESC"
        ))
        .bind(RECENT_ACTIONS)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().filter_map(action_row).collect())
    }

    /// The actions of one confirmation.
    pub async fn batch(&self, batch: &str) -> Result<Vec<FleetAction>, FleetError> {
        let rows = sqlx::query(&format!("{ACTION_COLUMNS} WHERE batch = ? ORDER BY host"))
            .bind(batch)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().filter_map(action_row).collect())
    }
}

async fn save_action(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    a: &FleetAction,
) -> Result<(), FleetError> {
    sqlx::query(
        "UPDATE fleet_actions SET state = ?, delivered_ms = ?, updated_ms = ?, finished_ms = ?,
         results = ?, message = ? WHERE id = ?",
    )
    .bind(a.state.key())
    .bind(a.delivered_ms)
    .bind(a.updated_ms)
    .bind(a.finished_ms)
    .bind(serde_json::to_string(&a.results).unwrap_or_else(|_| "[]".into()))
    .bind(&a.message)
    .bind(&a.id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

const ACTION_COLUMNS: &str = "SELECT id, batch, host, kind, containers, requested_by,
     requested_ms, state, delivered_ms, updated_ms, finished_ms, results, message
     FROM fleet_actions";

/// An action row (`None` for a kind or state this build does not know).
fn action_row(r: &sqlx::sqlite::SqliteRow) -> Option<FleetAction> {
    let kind: String = r.get(3);
    Some(FleetAction {
        id: r.get(0),
        batch: r.get(1),
        host: r.get(2),
        kind: serde_json::from_value::<ActionKind>(serde_json::Value::String(kind)).ok()?,
        containers: serde_json::from_str(r.get::<&str, _>(4)).ok()?,
        requested_by: r.get(5),
        requested_ms: r.get(6),
        state: ActionState::parse(r.get::<&str, _>(7))?,
        delivered_ms: r.get(8),
        updated_ms: r.get(9),
        finished_ms: r.get(10),
        results: serde_json::from_str(r.get::<&str, _>(11)).unwrap_or_default(),
        message: r.get(12),
    })
}

const HOST_COLUMNS: &str = "SELECT host, created_ms, address, last_heartbeat_ms, agent_version,
     agent_status, heartbeats_total, rejected_fields, clamped_fields, refused_tokens,
     agent_dropped, group_name FROM fleet_hosts";

fn host_row(r: &sqlx::sqlite::SqliteRow) -> HostRow {
    HostRow {
        host: r.get(0),
        created_ms: r.get(1),
        address: r.get(2),
        last_heartbeat_ms: r.get(3),
        agent_version: r.get(4),
        agent_status: r.get(5),
        heartbeats_total: r.get::<i64, _>(6) as u64,
        rejected_fields: r.get::<i64, _>(7) as u64,
        clamped_fields: r.get::<i64, _>(8) as u64,
        refused_tokens: r.get::<i64, _>(9) as u64,
        agent_dropped: r.get::<i64, _>(10) as u64,
        group: r.get(11),
    }
}

fn health_row(r: &sqlx::sqlite::SqliteRow) -> Option<HealthCheck> {
    Some(HealthCheck {
        at_ms: r.get(0),
        status: Health::parse(r.get::<&str, _>(1))?,
        latency_ms: r.get::<Option<i64>, _>(2).map(|l| l as u32),
        reason: r.get(3),
    })
}

async fn insert_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    host: &str,
) -> Result<String, FleetError> {
    let token = random_token();
    sqlx::query("INSERT INTO agent_tokens (token_hash, host, created_ms) VALUES (?, ?, ?)")
        .bind(token_digest(&token))
        .bind(host)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::history::HistoryStore;

    async fn store() -> (tempfile::TempDir, HistoryStore, FleetStore) {
        let dir = tempfile::tempdir().unwrap();
        let history = HistoryStore::open(&dir.path().join("steward.db"))
            .await
            .unwrap();
        let fleet = FleetStore::new(history.pool().clone());
        (dir, history, fleet)
    }

    #[tokio::test]
    async fn a_token_lives_until_rotated_past_its_grace_or_revoked() {
        let (_dir, _h, s) = store().await;
        let first = s.add("gpu-01", None).await.unwrap();
        assert!(matches!(
            s.add("gpu-01", None).await,
            Err(FleetError::Exists(_))
        ));
        assert!(matches!(
            s.add("Bad Name", None).await,
            Err(FleetError::BadName(_))
        ));
        assert!(matches!(
            s.add("local", None).await,
            Err(FleetError::BadName(_))
        ));
        assert!(
            matches!(s.check(&first).await.unwrap(), TokenCheck::Valid { ref host, .. } if host == "gpu-01")
        );

        // Rotated with a grace period: both work, the old one shows its end.
        let second = s.rotate("gpu-01", 60_000).await.unwrap();
        assert!(matches!(
            s.check(&first).await.unwrap(),
            TokenCheck::Valid { .. }
        ));
        assert!(matches!(
            s.check(&second).await.unwrap(),
            TokenCheck::Valid { .. }
        ));
        let tokens = s.tokens("gpu-01").await.unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens.iter().filter(|t| t.expires_ms.is_some()).count(), 1);

        // Rotated without grace: the older ones stop at once, and their uses are counted.
        let third = s.rotate("gpu-01", 0).await.unwrap();
        assert!(matches!(
            s.check(&first).await.unwrap(),
            TokenCheck::Refused { .. }
        ));
        assert!(matches!(
            s.check(&second).await.unwrap(),
            TokenCheck::Refused { .. }
        ));
        assert!(matches!(
            s.check(&third).await.unwrap(),
            TokenCheck::Valid { .. }
        ));
        s.revoke("gpu-01").await.unwrap();
        assert_eq!(
            s.check(&third).await.unwrap(),
            TokenCheck::Refused {
                host: "gpu-01".into(),
                why: "revoked"
            }
        );
        assert_eq!(s.host("gpu-01").await.unwrap().unwrap().refused_tokens, 3);

        assert_eq!(s.check("never-issued").await.unwrap(), TokenCheck::Unknown);
        s.save_unknown_tokens(2).await.unwrap();
        assert_eq!(s.unknown_tokens().await.unwrap(), 2);
        assert!(matches!(
            s.rotate("nope", 0).await,
            Err(FleetError::NoHost(_))
        ));
        s.delete("gpu-01").await.unwrap();
        assert_eq!(s.check(&third).await.unwrap(), TokenCheck::Unknown);
    }
}
