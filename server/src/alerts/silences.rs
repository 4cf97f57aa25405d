//! Silences behind one trait, on the SQLite file (the embedded default) or on PostgreSQL
//! (`[database] url`), where every hub replica reads them: a silence made on one replica quiets
//! the alert on whichever replica judges it (the fleet's rules run on the lease holder only).
//! The SQL is written once and expanded for each pool type, like the other shared stores.

use async_trait::async_trait;
use sqlx::{PgPool, SqlitePool};

use app::alerts::SilenceView;

#[async_trait]
pub trait SilenceDb: Send + Sync {
    /// Whether other replicas write here too (then each re-reads the silences every round).
    fn shared(&self) -> bool;
    /// The silences in force at `now_ms`, oldest first. A row whose matchers do not parse is
    /// skipped and said.
    async fn active(&self, now_ms: i64) -> Result<Vec<SilenceView>, sqlx::Error>;
    /// Stores a silence; returns its id.
    async fn insert(&self, s: &SilenceView) -> Result<i64, sqlx::Error>;
    /// Ends silence `id` at `now_ms`; false when no silence in force has that id.
    async fn end(&self, id: i64, now_ms: i64) -> Result<bool, sqlx::Error>;
}

const ACTIVE: &str = "SELECT id, matchers, starts_ms, ends_ms, comment, created_by
     FROM alert_silences WHERE ends_ms > $1 ORDER BY id";
const INSERT: &str =
    "INSERT INTO alert_silences (matchers, starts_ms, ends_ms, comment, created_by)
     VALUES ($1, $2, $3, $4, $5) RETURNING id";
const END: &str = "UPDATE alert_silences SET ends_ms = $1 WHERE id = $2 AND ends_ms > $3";

type Row = (i64, String, i64, i64, String, String);

fn view((id, matchers, starts_ms, ends_ms, comment, created_by): Row) -> Option<SilenceView> {
    match serde_json::from_str(&matchers) {
        Ok(matchers) => Some(SilenceView {
            id,
            matchers,
            starts_ms,
            ends_ms,
            comment,
            created_by,
        }),
        Err(e) => {
            tracing::error!("silence {id} skipped: its matchers do not parse ({e})");
            None
        }
    }
}

/// Silences in the SQLite file.
#[derive(Clone)]
pub struct SqliteSilences(pub SqlitePool);

/// Silences in PostgreSQL, shared by replicas.
#[derive(Clone)]
pub struct PgSilences(pub PgPool);

macro_rules! silence_db {
    ($ty:ty, $shared:literal) => {
        #[async_trait]
        impl SilenceDb for $ty {
            fn shared(&self) -> bool {
                $shared
            }

            async fn active(&self, now_ms: i64) -> Result<Vec<SilenceView>, sqlx::Error> {
                let rows: Vec<Row> = sqlx::query_as(ACTIVE)
                    .bind(now_ms)
                    .fetch_all(&self.0)
                    .await?;
                Ok(rows.into_iter().filter_map(view).collect())
            }

            async fn insert(&self, s: &SilenceView) -> Result<i64, sqlx::Error> {
                sqlx::query_scalar(INSERT)
                    .bind(serde_json::to_string(&s.matchers).unwrap_or_default())
                    .bind(s.starts_ms)
                    .bind(s.ends_ms)
                    .bind(&s.comment)
                    .bind(&s.created_by)
                    .fetch_one(&self.0)
                    .await
            }

            async fn end(&self, id: i64, now_ms: i64) -> Result<bool, sqlx::Error> {
                let done = sqlx::query(END)
                    .bind(now_ms)
                    .bind(id)
                    .bind(now_ms)
                    .execute(&self.0)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

silence_db!(SqliteSilences, false);
silence_db!(PgSilences, true);
