//! Work that must run on one replica at a time (the fleet's health sweep, the fleet's alert
//! rules, the shared audit log's retention, the fleet history's rollups) is leased through a
//! PostgreSQL session-level advisory lock, held on a connection of its own for as long as the
//! replica leads. A replica that dies takes its connection with it, PostgreSQL releases the
//! lock, and the next replica to ask (each asks once per round) takes the work over within one
//! interval. On the SQLite file there is one replica: it always leads.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool};

use super::hub_state::HubState;

/// Longest wait for PostgreSQL when asking for or checking the lease.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("cannot ask PostgreSQL for the {name} lease: {source}")]
    Db {
        name: &'static str,
        source: sqlx::Error,
    },
    #[error("PostgreSQL did not answer within {} s about the {name} lease", ASK_TIMEOUT.as_secs())]
    Timeout { name: &'static str },
}

/// Who runs a lease's work, as this replica sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// One replica only (the SQLite file): it runs the work.
    Alone,
    /// This replica holds the lock.
    This,
    /// Another replica holds it.
    Other,
}

pub struct Lease {
    name: &'static str,
    key: i64,
    pool: Option<PgPool>,
    /// The connection holding the lock while this replica leads.
    conn: tokio::sync::Mutex<Option<PgConnection>>,
    holder: AtomicU8,
}

/// The lock's key for `name`: FNV-1a, stable across builds and Rust versions, so replicas
/// of different versions agree during a rolling upgrade.
pub fn key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "steward:".bytes().chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

impl Lease {
    pub fn new(state: &HubState, name: &'static str) -> Self {
        let pool = state.postgres().cloned();
        let holder = if pool.is_some() {
            Holder::Other
        } else {
            Holder::Alone
        };
        Self {
            name,
            key: key(name),
            pool,
            conn: tokio::sync::Mutex::new(None),
            holder: AtomicU8::new(holder as u8),
        }
    }

    /// Who ran the work at the last [`Lease::hold`].
    pub fn holder(&self) -> Holder {
        match self.holder.load(Ordering::Relaxed) {
            0 => Holder::Alone,
            1 => Holder::This,
            _ => Holder::Other,
        }
    }

    /// Whether this replica leads now: keeps the lock while its connection lives, else tries
    /// to take it (never waits for another replica). An error means "do not run the work".
    pub async fn hold(&self) -> Result<bool, LeaseError> {
        let Some(pool) = &self.pool else {
            return Ok(true);
        };
        let mut conn = self.conn.lock().await;
        let result = tokio::time::timeout(ASK_TIMEOUT, self.ask(pool, &mut conn))
            .await
            .unwrap_or(Err(LeaseError::Timeout { name: self.name }));
        if result.is_err() {
            // A connection in doubt is closed: the lock, if it still held one, goes with it.
            if let Some(c) = conn.take() {
                let _ = tokio::time::timeout(ASK_TIMEOUT, c.close()).await;
            }
        }
        let leads = matches!(result, Ok(true));
        let holder = if leads { Holder::This } else { Holder::Other };
        let was = self.holder.swap(holder as u8, Ordering::Relaxed);
        if was != holder as u8 {
            match holder {
                Holder::This => tracing::info!("this replica now runs the {}", self.name),
                _ if was == Holder::This as u8 => {
                    tracing::warn!("this replica no longer runs the {}", self.name)
                }
                _ => {}
            }
        }
        result
    }

    async fn ask(
        &self,
        pool: &PgPool,
        conn: &mut Option<PgConnection>,
    ) -> Result<bool, LeaseError> {
        let db = |source| LeaseError::Db {
            name: self.name,
            source,
        };
        if let Some(c) = conn.as_mut() {
            if self.holder() == Holder::This {
                // Ours while the session that took it lives.
                sqlx::query("SELECT 1").execute(&mut *c).await.map_err(db)?;
                return Ok(true);
            }
        } else {
            // Detached from the pool: a pooled connection would carry the lock to other work.
            *conn = Some(pool.acquire().await.map_err(db)?.detach());
        }
        let c = conn.as_mut().expect("set above");
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(self.key)
            .fetch_one(c)
            .await
            .map_err(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        // Pinned: a change would let two versions of Steward run the same work at once.
        assert_eq!(key("fleet sweep"), key("fleet sweep"));
        assert_eq!(key("fleet sweep"), 5_954_520_400_085_093_473);
        assert_eq!(key("fleet alerts"), 3_916_584_830_478_637_544);
        assert_ne!(key("fleet sweep"), key("fleet alerts"));
        assert_ne!(key("audit retention"), key("fleet alerts"));
        assert_ne!(key("fleet sweep"), key("rollups"));
        assert_ne!(key("fleet history"), key("fleet sweep"));
        assert_ne!(key("fleet history"), key("fleet alerts"));
        assert_ne!(key("fleet history"), key("audit retention"));
    }
}
