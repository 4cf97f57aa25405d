//! The hub's state on PostgreSQL (`[database] url`): the pool, and the schema in
//! `migrations/postgres/`, applied at start and versioned like the SQLite file's. It holds users
//! and sessions, the fleet registry, the audit log and alert silences (see ARCHITECTURE.md for what still lives
//! in each replica's SQLite file).

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error("cannot connect to PostgreSQL at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot bring PostgreSQL at {url} to Steward's schema: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
}

/// `url` with any password replaced, for messages and logs.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Connects (waiting at most `timeout` for a connection) and applies the migrations.
pub async fn open(
    url: &str,
    timeout: Duration,
    max_connections: u32,
) -> Result<PgPool, PostgresError> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(timeout)
        .connect(url)
        .await
        .map_err(|source| PostgresError::Connect {
            url: redacted(url),
            source,
        })?;
    // Replicas starting together run the migrations one at a time: sqlx takes an advisory lock.
    sqlx::migrate!("../migrations/postgres")
        .run(&pool)
        .await
        .map_err(|source| PostgresError::Migrate {
            url: redacted(url),
            source,
        })?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redacted("postgres://steward:s3cret@db:5432/steward"),
            "postgres://steward:***@db:5432/steward"
        );
        assert_eq!(
            redacted("postgres://steward@db/steward"),
            "postgres://steward@db/steward"
        );
        assert_eq!(redacted("postgres://db/steward"), "postgres://db/steward");
    }
}
