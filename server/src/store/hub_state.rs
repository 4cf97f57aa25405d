//! Where the hub's shared state lives: the SQLite file (the embedded default) or PostgreSQL
//! (`[database] url`), opened once at start and handed to each store that can live on either.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgPool, SqlitePool};

use super::audit::db::{PgAudit, SqliteAudit};
use super::audit::AuditLog;
use super::postgres::{self, PostgresError};
use super::users::{PgUsers, SqliteUsers, UserStore};
use crate::alerts::history::{AlertHistoryDb, PgAlertHistory, SqliteAlertHistory};
use crate::alerts::shared::SharedAlerts;
use crate::alerts::silences::{PgSilences, SilenceDb, SqliteSilences};
use crate::alerts::Stores;
use crate::config::DatabaseConfig;
use crate::fleet::store::FleetStore;
use crate::maintenance::job_store::{JobStore, PgJobs, SqliteJobs};

#[derive(Clone)]
pub enum HubState {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl HubState {
    /// PostgreSQL when `config.url` is set (connected and migrated), else the SQLite file.
    pub async fn open(config: &DatabaseConfig, sqlite: &SqlitePool) -> Result<Self, PostgresError> {
        Ok(match config.url.as_str() {
            "" => Self::Sqlite(sqlite.clone()),
            url => Self::Postgres(
                postgres::open(
                    url,
                    Duration::from_secs(config.connect_timeout_secs),
                    config.max_connections as u32,
                )
                .await?,
            ),
        })
    }

    /// `sqlite` or `postgresql`, for logs.
    pub fn engine(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgresql",
        }
    }

    pub fn users(&self) -> Arc<dyn UserStore> {
        match self {
            Self::Sqlite(p) => Arc::new(SqliteUsers(p.clone())),
            Self::Postgres(p) => Arc::new(PgUsers(p.clone())),
        }
    }

    /// The audit log: in the SQLite file with no node, or shared on PostgreSQL with each row
    /// naming `node` (this replica's host name). Container events stay in `local`.
    pub fn audit(&self, local: &SqlitePool, node: &str) -> AuditLog {
        match self {
            Self::Sqlite(p) => {
                AuditLog::with_log(local.clone(), Arc::new(SqliteAudit(p.clone())), "")
            }
            Self::Postgres(p) => {
                AuditLog::with_log(local.clone(), Arc::new(PgAudit(p.clone())), node)
            }
        }
    }

    /// Where the alerts keep their history and silences: the SQLite file with no node, or
    /// PostgreSQL shared by replicas, each naming `node` beside the alerts it judges (every
    /// replica's page shows the fleet's resolved alerts; each digest counts its own).
    pub fn alert_stores(&self, audit: AuditLog, node: &str) -> Stores {
        let (history, node): (Arc<dyn AlertHistoryDb>, _) = match self {
            Self::Sqlite(p) => (Arc::new(SqliteAlertHistory(p.clone())), ""),
            Self::Postgres(p) => (Arc::new(PgAlertHistory(p.clone())), node),
        };
        Stores {
            history,
            silences: self.silences(),
            audit,
            node: node.to_string(),
        }
    }

    /// Alert silences (a silence made on one replica quiets the alert on every one).
    pub fn silences(&self) -> Arc<dyn SilenceDb> {
        match self {
            Self::Sqlite(p) => Arc::new(SqliteSilences(p.clone())),
            Self::Postgres(p) => Arc::new(PgSilences(p.clone())),
        }
    }

    /// The fleet's alerts shared by replicas (`None` on the embedded default: one process
    /// judges every rule). `node` names this replica beside the alerts it judges.
    pub fn shared_alerts(&self, node: &str) -> Option<SharedAlerts> {
        self.postgres().map(|p| SharedAlerts::new(p.clone(), node))
    }

    /// The heartbeat jobs and their reports.
    pub fn jobs(&self) -> Arc<dyn JobStore> {
        match self {
            Self::Sqlite(p) => Arc::new(SqliteJobs(p.clone())),
            Self::Postgres(p) => Arc::new(PgJobs(p.clone())),
        }
    }

    pub fn fleet(&self) -> FleetStore {
        match self {
            Self::Sqlite(p) => FleetStore::new(p.clone()),
            Self::Postgres(p) => FleetStore::postgres(p.clone()),
        }
    }

    /// The shared database, when replicas share one.
    pub fn postgres(&self) -> Option<&PgPool> {
        match self {
            Self::Postgres(p) => Some(p),
            Self::Sqlite(_) => None,
        }
    }
}
