//! The fleet's registry: hosts, their agent tokens (digests only), counters, groups, health
//! changes and actions — in the SQLite file (the embedded default) or in PostgreSQL
//! (`[database] url`, shared by hub replicas). One trait, [`FleetDb`], and one body of code
//! expanded for each pool type: the SQL is written once (`$N` placeholders, `ON CONFLICT`, and
//! a `rowid` column on PostgreSQL where SQLite has its implicit one) so both engines run the
//! same statements — except the group commit's host rows, the hot path, which each engine
//! writes in two set-based statements of its own dialect (`record_hosts_*`).

use std::sync::Arc;

use app::fleet::action::{ActionKind, ActionState, FleetAction};
use app::fleet::{valid_group_name, Health, HealthCheck, TokenView};
use async_trait::async_trait;
use sqlx::{PgPool, Row, SqlitePool};

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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

/// A host's latest state as stored: the versioned text of [`super::latest`], when the agent
/// took it, and which replica process wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatestRow {
    pub host: String,
    pub collected_ms: i64,
    pub writer: String,
    pub state: String,
}

/// The fleet registry on whichever engine holds the hub's state; derefs to [`FleetDb`].
#[derive(Clone)]
pub struct FleetStore {
    db: Arc<dyn FleetDb>,
}

impl FleetStore {
    /// The registry in the SQLite file.
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            db: Arc::new(SqliteFleet(pool)),
        }
    }

    /// The registry in PostgreSQL, shared by every replica on it.
    pub fn postgres(pool: PgPool) -> Self {
        Self {
            db: Arc::new(PgFleet(pool)),
        }
    }
}

impl FleetStore {
    /// Whether several hub replicas may share it (PostgreSQL): they then share their hosts'
    /// latest state through it too.
    pub fn is_shared(&self) -> bool {
        self.db.engine() == "postgresql"
    }
}

impl std::ops::Deref for FleetStore {
    type Target = dyn FleetDb;

    fn deref(&self) -> &Self::Target {
        self.db.as_ref()
    }
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name != crate::platform::bus::LOCAL_HOST
}

#[async_trait]
pub trait FleetDb: Send + Sync {
    /// Which engine holds them (`sqlite` or `postgresql`), for logs and errors.
    fn engine(&self) -> &'static str;
    /// Adds a host and returns its first token (the one time it can be read).
    async fn add(&self, host: &str, address: Option<&str>) -> Result<String, FleetError>;
    /// Issues a new token; the host's live tokens keep working for `grace_ms` (0: revoked now).
    async fn rotate(&self, host: &str, grace_ms: i64) -> Result<String, FleetError>;
    /// Revokes every token of a host: its agent is refused from now on (and counted).
    async fn revoke(&self, host: &str) -> Result<u64, FleetError>;
    /// Removes a host and its tokens (its history stays until retention removes it).
    async fn delete(&self, host: &str) -> Result<(), FleetError>;
    /// What a bearer token is; counts uses of a revoked or expired token on its host (unknown
    /// ones are counted by the caller, since anyone can send them).
    async fn check(&self, token: &str) -> Result<TokenCheck, FleetError>;
    /// Records committed heartbeats on their hosts, in one transaction, with their hosts'
    /// latest state when given (replicas share it; a newer stored state is kept).
    async fn record(
        &self,
        updates: &[HostUpdate],
        actions: &[FleetAction],
        latest: &[LatestRow],
    ) -> Result<(), FleetError>;
    /// Latest states stored at `since_ms` or later (hub clock) by a writer other than `except`.
    async fn latest_since(&self, since_ms: i64, except: &str)
        -> Result<Vec<LatestRow>, FleetError>;
    /// Every host row, in name order.
    async fn hosts(&self) -> Result<Vec<HostRow>, FleetError>;
    /// One host's row, if it exists.
    async fn host(&self, host: &str) -> Result<Option<HostRow>, FleetError>;
    /// Sets (or clears) the health URL the sweep checks.
    async fn set_address(&self, host: &str, address: Option<&str>) -> Result<(), FleetError>;
    /// Stores health changes in one transaction and keeps the newest
    /// [`KEEP_HEALTH_CHANGES`] per changed host.
    async fn record_health(&self, changes: &[(String, HealthCheck)]) -> Result<(), FleetError>;
    /// A host's health changes, newest first.
    async fn health_changes(&self, host: &str, limit: i64) -> Result<Vec<HealthCheck>, FleetError>;
    /// Every host's latest health change (its health when the hub starts).
    async fn latest_health(&self) -> Result<Vec<(String, HealthCheck)>, FleetError>;
    /// Every group's name, in name order.
    async fn groups(&self) -> Result<Vec<String>, FleetError>;
    async fn create_group(&self, name: &str) -> Result<(), FleetError>;
    /// Renames a group; its hosts follow (`ON UPDATE CASCADE`).
    async fn rename_group(&self, name: &str, to: &str) -> Result<(), FleetError>;
    /// Deletes a group; its hosts stay, ungrouped.
    async fn delete_group(&self, name: &str) -> Result<(), FleetError>;
    /// Puts `hosts` into `group` (`None`: out of any group), all or none.
    async fn assign(&self, hosts: &[String], group: Option<&str>) -> Result<u64, FleetError>;
    /// A host's tokens, newest first.
    async fn tokens(&self, host: &str) -> Result<Vec<TokenView>, FleetError>;
    /// Stores the count of uses of tokens no host ever had.
    async fn save_unknown_tokens(&self, total: u64) -> Result<(), FleetError>;
    /// Uses of tokens no host ever had.
    async fn unknown_tokens(&self) -> Result<u64, FleetError>;
    /// Stores new actions (one confirmation), keeping the newest [`KEEP_ACTIONS`] per host.
    async fn insert_actions(&self, actions: &[FleetAction]) -> Result<(), FleetError>;
    /// The newest [`RECENT_ACTIONS`] of every host (the hub's memory at start).
    async fn recent_actions(&self) -> Result<Vec<FleetAction>, FleetError>;
    /// The actions of one confirmation.
    async fn batch(&self, batch: &str) -> Result<Vec<FleetAction>, FleetError>;
    /// Actions requested or updated at `since_ms` or later (what other replicas did).
    async fn actions_since(&self, since_ms: i64) -> Result<Vec<FleetAction>, FleetError>;
}

const INSERT_HOST: &str = "INSERT INTO fleet_hosts (host, created_ms, address) VALUES ($1, $2, $3)
     ON CONFLICT (host) DO NOTHING";
const INSERT_TOKEN: &str =
    "INSERT INTO agent_tokens (token_hash, host, created_ms) VALUES ($1, $2, $3)";
const EXPIRE_TOKENS: &str = "UPDATE agent_tokens SET expires_ms = $1 WHERE host = $2
     AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $1)";
const REVOKE_TOKENS: &str =
    "UPDATE agent_tokens SET revoked_ms = $1 WHERE host = $2 AND revoked_ms IS NULL";
const HOST_EXISTS: &str = "SELECT host FROM fleet_hosts WHERE host = $1";
const DELETE_HOST: &str = "DELETE FROM fleet_hosts WHERE host = $1";
const TOKEN: &str = "SELECT host, expires_ms, revoked_ms FROM agent_tokens WHERE token_hash = $1";
const COUNT_REFUSED: &str =
    "UPDATE fleet_hosts SET refused_tokens = refused_tokens + 1 WHERE host = $1";
const HOST_COLUMNS: &str = "SELECT host, created_ms, address, last_heartbeat_ms, agent_version,
     agent_status, heartbeats_total, rejected_fields, clamped_fields, refused_tokens,
     agent_dropped, group_name FROM fleet_hosts";
const SET_ADDRESS: &str = "UPDATE fleet_hosts SET address = $1 WHERE host = $2";
const INSERT_HEALTH: &str =
    "INSERT INTO fleet_health_changes (host, at_ms, status, latency_ms, reason)
     SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM fleet_hosts WHERE host = $1)";
const TRIM_HEALTH: &str = "DELETE FROM fleet_health_changes WHERE host = $1 AND rowid NOT IN
     (SELECT rowid FROM fleet_health_changes WHERE host = $1
      ORDER BY at_ms DESC, rowid DESC LIMIT $2)";
const HEALTH_CHANGES: &str =
    "SELECT at_ms, status, latency_ms, reason FROM fleet_health_changes WHERE host = $1
     ORDER BY at_ms DESC, rowid DESC LIMIT $2";
const LATEST_HEALTH: &str =
    "SELECT host, at_ms, status, latency_ms, reason FROM fleet_health_changes c
     WHERE rowid = (SELECT rowid FROM fleet_health_changes WHERE host = c.host
                    ORDER BY at_ms DESC, rowid DESC LIMIT 1)";
const GROUPS: &str = "SELECT name FROM fleet_groups ORDER BY name";
const CREATE_GROUP: &str =
    "INSERT INTO fleet_groups (name, created_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING";
const RENAME_GROUP: &str = "UPDATE fleet_groups SET name = $1 WHERE name = $2";
const DELETE_GROUP: &str = "DELETE FROM fleet_groups WHERE name = $1";
const ASSIGN: &str = "UPDATE fleet_hosts SET group_name = $1 WHERE host = $2";
const TOKENS: &str = "SELECT token_hash, created_ms, expires_ms, revoked_ms, last_used_ms
     FROM agent_tokens WHERE host = $1 ORDER BY created_ms DESC, rowid DESC";
const SAVE_UNKNOWN: &str = "INSERT INTO meta (key, value) VALUES ('fleet_unknown_tokens', $1)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";
const UNKNOWN: &str = "SELECT value FROM meta WHERE key = 'fleet_unknown_tokens'";
const INSERT_ACTION: &str = "INSERT INTO fleet_actions (id, batch, host, kind, containers,
     requested_by, requested_ms, state, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
const TRIM_ACTIONS: &str = "DELETE FROM fleet_actions WHERE host = $1 AND id NOT IN
     (SELECT id FROM fleet_actions WHERE host = $1 ORDER BY requested_ms DESC LIMIT $2)";
const SAVE_ACTION: &str = "UPDATE fleet_actions SET state = $1, delivered_ms = $2,
     updated_ms = $3, finished_ms = $4, results = $5, message = $6 WHERE id = $7";
const ACTION_COLUMNS: &str = "SELECT id, batch, host, kind, containers, requested_by,
     requested_ms, state, delivered_ms, updated_ms, finished_ms, results, message
     FROM fleet_actions";

const LATEST_SINCE: &str = "SELECT host, collected_ms, writer, state FROM fleet_latest
     WHERE stored_ms >= $1 AND writer <> $2";
/// Keeps the newer state (a replayed old heartbeat does not replace it) and skips a host
/// deleted meanwhile, so that one deletion cannot fail a whole batch's commit.
const UPSERT_LATEST: &str = "ON CONFLICT (host) DO UPDATE SET collected_ms = excluded.collected_ms,
     stored_ms = excluded.stored_ms, writer = excluded.writer, state = excluded.state
     WHERE fleet_latest.collected_ms <= excluded.collected_ms";

/// The fleet registry in the SQLite file.
#[derive(Clone)]
pub struct SqliteFleet(pub SqlitePool);

/// The fleet registry in PostgreSQL.
#[derive(Clone)]
pub struct PgFleet(pub PgPool);

/// The one implementation, expanded for each pool type (the queries are the same text).
macro_rules! fleet_db {
    ($ty:ty, $db:ty, $engine:literal, $record_hosts:path, $record_latest:path) => {
        impl $ty {
            async fn exists(&self, host: &str) -> Result<bool, FleetError> {
                Ok(sqlx::query_scalar::<_, String>(HOST_EXISTS)
                    .bind(host)
                    .fetch_optional(&self.0)
                    .await?
                    .is_some())
            }

            async fn insert_token(
                tx: &mut sqlx::Transaction<'_, $db>,
                host: &str,
            ) -> Result<String, FleetError> {
                let token = random_token();
                sqlx::query(INSERT_TOKEN)
                    .bind(token_digest(&token))
                    .bind(host)
                    .bind(now_ms())
                    .execute(&mut **tx)
                    .await?;
                Ok(token)
            }

            async fn save_action(
                tx: &mut sqlx::Transaction<'_, $db>,
                a: &FleetAction,
            ) -> Result<(), FleetError> {
                sqlx::query(SAVE_ACTION)
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

            /// An action row (`None` for a kind or state this build does not know).
            fn action_row(r: &<$db as sqlx::Database>::Row) -> Option<FleetAction> {
                let kind: String = r.get(3);
                Some(FleetAction {
                    id: r.get(0),
                    batch: r.get(1),
                    host: r.get(2),
                    kind: serde_json::from_value::<ActionKind>(serde_json::Value::String(kind))
                        .ok()?,
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

            fn host_row(r: &<$db as sqlx::Database>::Row) -> HostRow {
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

            /// A health change from `offset` on (`None` for a status this build does not know).
            fn health_row(r: &<$db as sqlx::Database>::Row, offset: usize) -> Option<HealthCheck> {
                Some(HealthCheck {
                    at_ms: r.get(offset),
                    status: Health::parse(r.get::<&str, _>(offset + 1))?,
                    latency_ms: r.get::<Option<i64>, _>(offset + 2).map(|l| l as u32),
                    reason: r.get(offset + 3),
                })
            }
        }

        #[async_trait]
        impl FleetDb for $ty {
            fn engine(&self) -> &'static str {
                $engine
            }

            async fn add(&self, host: &str, address: Option<&str>) -> Result<String, FleetError> {
                if !valid_name(host) {
                    return Err(FleetError::BadName(host.to_string()));
                }
                let mut tx = self.0.begin().await?;
                let inserted = sqlx::query(INSERT_HOST)
                    .bind(host)
                    .bind(now_ms())
                    .bind(address)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if inserted == 0 {
                    return Err(FleetError::Exists(host.to_string()));
                }
                let token = Self::insert_token(&mut tx, host).await?;
                tx.commit().await?;
                Ok(token)
            }

            async fn rotate(&self, host: &str, grace_ms: i64) -> Result<String, FleetError> {
                let now = now_ms();
                // The first statement writes, so the transaction takes SQLite's write lock at
                // once: a read first could not be upgraded once another connection wrote
                // (SQLITE_BUSY_SNAPSHOT).
                let mut tx = self.0.begin().await?;
                let (sql, at) = if grace_ms > 0 {
                    (EXPIRE_TOKENS, now + grace_ms)
                } else {
                    (REVOKE_TOKENS, now)
                };
                sqlx::query(sql)
                    .bind(at)
                    .bind(host)
                    .execute(&mut *tx)
                    .await?;
                let exists: Option<String> = sqlx::query_scalar(HOST_EXISTS)
                    .bind(host)
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_none() {
                    return Err(FleetError::NoHost(host.to_string()));
                }
                let token = Self::insert_token(&mut tx, host).await?;
                tx.commit().await?;
                Ok(token)
            }

            async fn revoke(&self, host: &str) -> Result<u64, FleetError> {
                let n = sqlx::query(REVOKE_TOKENS)
                    .bind(now_ms())
                    .bind(host)
                    .execute(&self.0)
                    .await?
                    .rows_affected();
                if n == 0 && !self.exists(host).await? {
                    return Err(FleetError::NoHost(host.to_string()));
                }
                Ok(n)
            }

            async fn delete(&self, host: &str) -> Result<(), FleetError> {
                let n = sqlx::query(DELETE_HOST)
                    .bind(host)
                    .execute(&self.0)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(FleetError::NoHost(host.to_string()));
                }
                Ok(())
            }

            async fn check(&self, token: &str) -> Result<TokenCheck, FleetError> {
                let digest = token_digest(token);
                let row = sqlx::query(TOKEN)
                    .bind(&digest)
                    .fetch_optional(&self.0)
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
                        sqlx::query(COUNT_REFUSED)
                            .bind(&host)
                            .execute(&self.0)
                            .await?;
                        Ok(TokenCheck::Refused { host, why })
                    }
                }
            }

            async fn record(
                &self,
                updates: &[HostUpdate],
                actions: &[FleetAction],
                latest: &[LatestRow],
            ) -> Result<(), FleetError> {
                let mut tx = self.0.begin().await?;
                for a in actions {
                    Self::save_action(&mut tx, a).await?;
                }
                $record_hosts(&mut tx, updates).await?;
                $record_latest(&mut tx, &newest_states(latest)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn latest_since(
                &self,
                since_ms: i64,
                except: &str,
            ) -> Result<Vec<LatestRow>, FleetError> {
                let rows = sqlx::query(LATEST_SINCE)
                    .bind(since_ms)
                    .bind(except)
                    .fetch_all(&self.0)
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| LatestRow {
                        host: r.get(0),
                        collected_ms: r.get(1),
                        writer: r.get(2),
                        state: r.get(3),
                    })
                    .collect())
            }

            async fn hosts(&self) -> Result<Vec<HostRow>, FleetError> {
                let rows = sqlx::query(&format!("{HOST_COLUMNS} ORDER BY host"))
                    .fetch_all(&self.0)
                    .await?;
                Ok(rows.iter().map(Self::host_row).collect())
            }

            async fn host(&self, host: &str) -> Result<Option<HostRow>, FleetError> {
                let row = sqlx::query(&format!("{HOST_COLUMNS} WHERE host = $1"))
                    .bind(host)
                    .fetch_optional(&self.0)
                    .await?;
                Ok(row.as_ref().map(Self::host_row))
            }

            async fn set_address(
                &self,
                host: &str,
                address: Option<&str>,
            ) -> Result<(), FleetError> {
                let n = sqlx::query(SET_ADDRESS)
                    .bind(address)
                    .bind(host)
                    .execute(&self.0)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(FleetError::NoHost(host.to_string()));
                }
                Ok(())
            }

            async fn record_health(
                &self,
                changes: &[(String, HealthCheck)],
            ) -> Result<(), FleetError> {
                if changes.is_empty() {
                    return Ok(());
                }
                let mut tx = self.0.begin().await?;
                for (host, c) in changes {
                    sqlx::query(INSERT_HEALTH)
                        .bind(host)
                        .bind(c.at_ms)
                        .bind(c.status.key())
                        .bind(c.latency_ms.map(i64::from))
                        .bind(&c.reason)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(TRIM_HEALTH)
                        .bind(host)
                        .bind(KEEP_HEALTH_CHANGES)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn health_changes(
                &self,
                host: &str,
                limit: i64,
            ) -> Result<Vec<HealthCheck>, FleetError> {
                let rows = sqlx::query(HEALTH_CHANGES)
                    .bind(host)
                    .bind(limit)
                    .fetch_all(&self.0)
                    .await?;
                Ok(rows.iter().filter_map(|r| Self::health_row(r, 0)).collect())
            }

            async fn latest_health(&self) -> Result<Vec<(String, HealthCheck)>, FleetError> {
                let rows = sqlx::query(LATEST_HEALTH).fetch_all(&self.0).await?;
                Ok(rows
                    .iter()
                    .filter_map(|r| Some((r.get(0), Self::health_row(r, 1)?)))
                    .collect())
            }

            async fn groups(&self) -> Result<Vec<String>, FleetError> {
                Ok(sqlx::query_scalar(GROUPS).fetch_all(&self.0).await?)
            }

            async fn create_group(&self, name: &str) -> Result<(), FleetError> {
                if !valid_group_name(name) {
                    return Err(FleetError::BadGroup(name.to_string()));
                }
                let n = sqlx::query(CREATE_GROUP)
                    .bind(name)
                    .bind(now_ms())
                    .execute(&self.0)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(FleetError::GroupExists(name.to_string()));
                }
                Ok(())
            }

            async fn rename_group(&self, name: &str, to: &str) -> Result<(), FleetError> {
                if !valid_group_name(to) {
                    return Err(FleetError::BadGroup(to.to_string()));
                }
                let n = sqlx::query(RENAME_GROUP)
                    .bind(to)
                    .bind(name)
                    .execute(&self.0)
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

            async fn delete_group(&self, name: &str) -> Result<(), FleetError> {
                let n = sqlx::query(DELETE_GROUP)
                    .bind(name)
                    .execute(&self.0)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(FleetError::NoGroup(name.to_string()));
                }
                Ok(())
            }

            async fn assign(
                &self,
                hosts: &[String],
                group: Option<&str>,
            ) -> Result<u64, FleetError> {
                let mut tx = self.0.begin().await?;
                for host in hosts {
                    let changed = sqlx::query(ASSIGN)
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

            async fn tokens(&self, host: &str) -> Result<Vec<TokenView>, FleetError> {
                let rows = sqlx::query(TOKENS).bind(host).fetch_all(&self.0).await?;
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

            async fn save_unknown_tokens(&self, total: u64) -> Result<(), FleetError> {
                sqlx::query(SAVE_UNKNOWN)
                    .bind(total as i64)
                    .execute(&self.0)
                    .await?;
                Ok(())
            }

            async fn unknown_tokens(&self) -> Result<u64, FleetError> {
                let n: Option<i64> = sqlx::query_scalar(UNKNOWN).fetch_optional(&self.0).await?;
                Ok(n.unwrap_or(0) as u64)
            }

            async fn insert_actions(&self, actions: &[FleetAction]) -> Result<(), FleetError> {
                let mut tx = self.0.begin().await?;
                for a in actions {
                    sqlx::query(INSERT_ACTION)
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
                    sqlx::query(TRIM_ACTIONS)
                        .bind(&a.host)
                        .bind(KEEP_ACTIONS)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn recent_actions(&self) -> Result<Vec<FleetAction>, FleetError> {
                let rows = sqlx::query(&format!(
                    "{ACTION_COLUMNS} WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER
                     (PARTITION BY host ORDER BY requested_ms DESC) AS n FROM fleet_actions)
                     AS ranked WHERE n <= $1) ORDER BY host, requested_ms DESC"
                ))
                .bind(RECENT_ACTIONS)
                .fetch_all(&self.0)
                .await?;
                Ok(rows.iter().filter_map(Self::action_row).collect())
            }

            async fn batch(&self, batch: &str) -> Result<Vec<FleetAction>, FleetError> {
                let rows = sqlx::query(&format!("{ACTION_COLUMNS} WHERE batch = $1 ORDER BY host"))
                    .bind(batch)
                    .fetch_all(&self.0)
                    .await?;
                Ok(rows.iter().filter_map(Self::action_row).collect())
            }

            async fn actions_since(&self, since_ms: i64) -> Result<Vec<FleetAction>, FleetError> {
                let rows = sqlx::query(&format!(
                    "{ACTION_COLUMNS} WHERE updated_ms >= $1 ORDER BY requested_ms"
                ))
                .bind(since_ms)
                .fetch_all(&self.0)
                .await?;
                Ok(rows.iter().filter_map(Self::action_row).collect())
            }
        }
    };
}

/// The host rows of committed heartbeats on SQLite, in two statements for the whole batch
/// (the batch as a JSON array read by `json_each`): one statement per row cost ~45 µs each
/// through sqlx's SQLite worker, 46 ms for 500 heartbeats. Newest wins: a late commit never
/// moves a host's last heartbeat back.
async fn record_hosts_sqlite(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    updates: &[HostUpdate],
) -> Result<(), FleetError> {
    if updates.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = fold_updates(updates)
        .into_iter()
        .map(|f| {
            (
                f.host,
                f.received_ms,
                f.seq,
                f.agent_version,
                f.agent_status,
                f.n,
                f.rejected,
                f.clamped,
                f.agent_dropped,
            )
        })
        .collect();
    sqlx::query(
        "UPDATE fleet_hosts SET
         last_heartbeat_ms = max(coalesce(fleet_hosts.last_heartbeat_ms, 0), u.received_ms),
         last_seq = max(coalesce(fleet_hosts.last_seq, 0), u.seq),
         agent_version = u.version, agent_status = u.status,
         heartbeats_total = fleet_hosts.heartbeats_total + u.n,
         rejected_fields = fleet_hosts.rejected_fields + u.rejected,
         clamped_fields = fleet_hosts.clamped_fields + u.clamped, agent_dropped = u.dropped
         FROM (SELECT value ->> 0 AS host, value ->> 1 AS received_ms, value ->> 2 AS seq,
                      value ->> 3 AS version, value ->> 4 AS status, value ->> 5 AS n,
                      value ->> 6 AS rejected, value ->> 7 AS clamped, value ->> 8 AS dropped
               FROM json_each($1)) AS u
         WHERE fleet_hosts.host = u.host",
    )
    .bind(serde_json::to_string(&rows).unwrap_or_default())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE agent_tokens SET
         last_used_ms = max(coalesce(agent_tokens.last_used_ms, 0), u.at)
         FROM (SELECT value ->> 0 AS digest, value ->> 1 AS at FROM json_each($1)) AS u
         WHERE agent_tokens.token_hash = u.digest",
    )
    .bind(serde_json::to_string(&token_uses(updates)).unwrap_or_default())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The same on PostgreSQL, the batch as arrays read by `UNNEST` (a round trip per row cost
/// 0.2 ms each: 200 ms for 500 heartbeats). On both engines `UPDATE … FROM` updates a row once
/// per statement, so the batch is first folded to one entry per host ([`fold_updates`]).
async fn record_hosts_pg(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    updates: &[HostUpdate],
) -> Result<(), FleetError> {
    if updates.is_empty() {
        return Ok(());
    }
    let folded = fold_updates(updates);
    let col = |f: fn(&FoldedUpdate) -> i64| folded.iter().map(f).collect::<Vec<i64>>();
    sqlx::query(
        "UPDATE fleet_hosts AS h SET
         last_heartbeat_ms = GREATEST(COALESCE(h.last_heartbeat_ms, 0), u.received_ms),
         last_seq = GREATEST(COALESCE(h.last_seq, 0), u.seq),
         agent_version = u.version, agent_status = u.status,
         heartbeats_total = h.heartbeats_total + u.n,
         rejected_fields = h.rejected_fields + u.rejected,
         clamped_fields = h.clamped_fields + u.clamped, agent_dropped = u.dropped
         FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[],
                     $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
              AS u(host, received_ms, seq, version, status, n, rejected, clamped, dropped)
         WHERE h.host = u.host",
    )
    .bind(folded.iter().map(|f| f.host).collect::<Vec<&str>>())
    .bind(col(|f| f.received_ms))
    .bind(col(|f| f.seq))
    .bind(
        folded
            .iter()
            .map(|f| f.agent_version)
            .collect::<Vec<&str>>(),
    )
    .bind(folded.iter().map(|f| f.agent_status).collect::<Vec<&str>>())
    .bind(col(|f| f.n))
    .bind(col(|f| f.rejected))
    .bind(col(|f| f.clamped))
    .bind(col(|f| f.agent_dropped))
    .execute(&mut **tx)
    .await?;
    let (digests, ats): (Vec<&str>, Vec<i64>) = token_uses(updates).into_iter().unzip();
    sqlx::query(
        "UPDATE agent_tokens AS t SET last_used_ms = GREATEST(COALESCE(t.last_used_ms, 0), u.at)
         FROM UNNEST($1::text[], $2::bigint[]) AS u(digest, at) WHERE t.token_hash = u.digest",
    )
    .bind(digests)
    .bind(ats)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Each token's newest use in a batch.
fn token_uses(updates: &[HostUpdate]) -> Vec<(&str, i64)> {
    let mut used: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for u in updates {
        let at = used.entry(u.digest.as_str()).or_insert(u.received_ms);
        *at = (*at).max(u.received_ms);
    }
    used.into_iter().collect()
}

/// A hub on the SQLite file alone shares no state, so this runs in the store's suite only:
/// a statement per host is enough.
async fn record_latest_sqlite(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    latest: &[&LatestRow],
) -> Result<(), FleetError> {
    let stored = now_ms();
    for l in latest {
        sqlx::query(&format!(
            "INSERT INTO fleet_latest (host, collected_ms, stored_ms, writer, state)
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM fleet_hosts WHERE host = $1)
             {UPSERT_LATEST}"
        ))
        .bind(&l.host)
        .bind(l.collected_ms)
        .bind(stored)
        .bind(&l.writer)
        .bind(&l.state)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The batch's states in one statement (`UNNEST`, as the host rows).
async fn record_latest_pg(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    latest: &[&LatestRow],
) -> Result<(), FleetError> {
    if latest.is_empty() {
        return Ok(());
    }
    let text = |f: fn(&LatestRow) -> &str| latest.iter().map(|l| f(l)).collect::<Vec<&str>>();
    sqlx::query(&format!(
        "INSERT INTO fleet_latest (host, collected_ms, stored_ms, writer, state)
         SELECT u.host, u.collected_ms, $5, u.writer, u.state
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[])
              AS u(host, collected_ms, writer, state)
         WHERE EXISTS (SELECT 1 FROM fleet_hosts h WHERE h.host = u.host)
         {UPSERT_LATEST}"
    ))
    .bind(text(|l| &l.host))
    .bind(latest.iter().map(|l| l.collected_ms).collect::<Vec<i64>>())
    .bind(text(|l| &l.writer))
    .bind(text(|l| &l.state))
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The newest state per host in a batch, in the order hosts first appear (pure): an upsert
/// may touch a row once per statement.
fn newest_states(latest: &[LatestRow]) -> Vec<&LatestRow> {
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut out: Vec<&LatestRow> = Vec::with_capacity(latest.len());
    for l in latest {
        match at.get(l.host.as_str()) {
            Some(&i) if out[i].collected_ms <= l.collected_ms => out[i] = l,
            Some(_) => {}
            None => {
                at.insert(&l.host, out.len());
                out.push(l);
            }
        }
    }
    out
}

/// One host's heartbeats in a batch, folded into one row update.
#[derive(Debug, PartialEq, Eq)]
struct FoldedUpdate<'a> {
    host: &'a str,
    received_ms: i64,
    seq: i64,
    /// From the host's last heartbeat in the batch.
    agent_version: &'a str,
    agent_status: &'a str,
    agent_dropped: i64,
    /// Heartbeats and field counts summed.
    n: i64,
    rejected: i64,
    clamped: i64,
}

/// Folds a batch to one entry per host, in the order hosts first appear (pure).
fn fold_updates(updates: &[HostUpdate]) -> Vec<FoldedUpdate<'_>> {
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut out: Vec<FoldedUpdate<'_>> = Vec::with_capacity(updates.len());
    for u in updates {
        match at.get(u.host.as_str()) {
            Some(&i) => {
                let f = &mut out[i];
                f.received_ms = f.received_ms.max(u.received_ms);
                f.seq = f.seq.max(u.seq as i64);
                f.agent_version = &u.agent_version;
                f.agent_status = u.agent_status;
                f.agent_dropped = u.agent_dropped as i64;
                f.n += 1;
                f.rejected += u.rejected as i64;
                f.clamped += u.clamped as i64;
            }
            None => {
                at.insert(&u.host, out.len());
                out.push(FoldedUpdate {
                    host: &u.host,
                    received_ms: u.received_ms,
                    seq: u.seq as i64,
                    agent_version: &u.agent_version,
                    agent_status: u.agent_status,
                    agent_dropped: u.agent_dropped as i64,
                    n: 1,
                    rejected: u.rejected as i64,
                    clamped: u.clamped as i64,
                });
            }
        }
    }
    out
}

fleet_db!(
    SqliteFleet,
    sqlx::Sqlite,
    "sqlite",
    record_hosts_sqlite,
    record_latest_sqlite
);
fleet_db!(
    PgFleet,
    sqlx::Postgres,
    "postgresql",
    record_hosts_pg,
    record_latest_pg
);

#[cfg(test)]
mod tests {
    use super::*;

    fn update(host: &str, received_ms: i64, seq: u64, version: &str) -> HostUpdate {
        HostUpdate {
            host: host.into(),
            digest: format!("d-{host}"),
            received_ms,
            seq,
            agent_version: version.into(),
            agent_status: "ready",
            rejected: 1,
            clamped: 2,
            agent_dropped: seq,
        }
    }

    #[test]
    fn a_batch_keeps_each_hosts_newest_state_once() {
        let row = |host: &str, collected_ms: i64| LatestRow {
            host: host.into(),
            collected_ms,
            writer: "r1".into(),
            state: format!("{host}@{collected_ms}"),
        };
        // A replayed older heartbeat after a newer one does not win.
        let batch = [row("a", 2), row("b", 1), row("a", 1), row("a", 3)];
        let kept: Vec<&str> = newest_states(&batch)
            .iter()
            .map(|l| l.state.as_str())
            .collect();
        assert_eq!(kept, ["a@3", "b@1"]);
    }

    #[test]
    fn a_batch_folds_to_one_update_per_host() {
        let batch = [
            update("a", 2_000, 5, "1.0"),
            update("b", 1_000, 1, "1.0"),
            // A replayed older heartbeat after a newer one, from an upgraded agent.
            update("a", 1_500, 4, "1.1"),
        ];
        let folded = fold_updates(&batch);
        assert_eq!(folded.len(), 2);
        assert_eq!(
            folded[0],
            FoldedUpdate {
                host: "a",
                received_ms: 2_000,
                seq: 5,
                agent_version: "1.1",
                agent_status: "ready",
                agent_dropped: 4,
                n: 2,
                rejected: 2,
                clamped: 4,
            }
        );
        assert_eq!((folded[1].host, folded[1].n), ("b", 1));
    }
}
