//! Heartbeat jobs and their reports behind one trait, in the SQLite file (the embedded default)
//! or on PostgreSQL (`[database] url`), where every hub replica reads and writes them: a job
//! made on one replica takes pings on any, and each replica judges it from every report. The
//! SQL is written once and expanded for each pool type, like the other shared stores. (Cleanup
//! runs stay in each replica's SQLite file: they are its own machine's.)

use app::maintenance::JobRun;
use async_trait::async_trait;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, SqlitePool};

use super::store::{parse_result, tail, MAX_LOG_TAIL};

/// A heartbeat job as stored (its token only as a digest).
#[derive(Clone, Debug)]
pub struct HeartbeatJob {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub schedule: String,
    pub grace_secs: u64,
    pub created_ms: i64,
}

/// What a ping says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ping {
    Start,
    Ok,
    Fail,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Whether other replicas write here too (then a token is checked against the database on
    /// every ping, since another replica may have rotated or deleted it).
    fn shared(&self) -> bool;
    /// Every job's slug, id and token digest (the ping check's cache).
    async fn tokens(&self) -> Result<Vec<(String, i64, String)>, sqlx::Error>;
    /// Every job, by slug.
    async fn jobs(&self) -> Result<Vec<HeartbeatJob>, sqlx::Error>;
    /// Creates a job; `Ok(false)` when the slug is taken.
    async fn create_job(
        &self,
        job: &HeartbeatJob,
        token_digest: &str,
        by: &str,
    ) -> Result<bool, sqlx::Error>;
    /// Replaces a job's token; `Ok(false)` when there is no such job.
    async fn rotate_token(&self, slug: &str, token_digest: &str) -> Result<bool, sqlx::Error>;
    /// Deletes a job and its reports; `Ok(false)` when there is no such job.
    async fn delete_job(&self, slug: &str) -> Result<bool, sqlx::Error>;
    /// The job whose slug and token digest match, if any.
    async fn job_by_token(&self, slug: &str, digest: &str) -> Result<Option<i64>, sqlx::Error>;
    /// Records a ping: a start opens a run; an end closes the job's open run (when it started
    /// within `open_ms`), else it is a run of its own without a start.
    async fn ping(
        &self,
        job_id: i64,
        ping: Ping,
        at_ms: i64,
        end: End<'_>,
        open_ms: i64,
    ) -> Result<(), sqlx::Error>;
    /// A job's newest runs first.
    async fn runs(&self, job_id: i64, limit: usize) -> Result<Vec<JobRun>, sqlx::Error>;
    /// Keeps the job's newest `keep` reports (at least one); returns how many went. Pings
    /// write a row each, so without this a chatty job (or a leaked token) would grow the store
    /// without end. Run by the replica that took the ping, for that job only: no periodic
    /// sweep over every job's reports on every replica.
    async fn trim_job(&self, job_id: i64, keep: usize) -> Result<u64, sqlx::Error>;
}

/// What a ping carries besides its kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct End<'a> {
    pub exit_code: Option<i32>,
    pub log: Option<&'a str>,
}

const TOKENS: &str = "SELECT slug, id, token_digest FROM heartbeat_jobs";
const JOBS: &str =
    "SELECT id, slug, name, schedule, grace_secs, created_ms FROM heartbeat_jobs ORDER BY slug";
const CREATE: &str = "INSERT INTO heartbeat_jobs
     (slug, name, schedule, grace_secs, token_digest, created_ms, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (slug) DO NOTHING";
const ROTATE: &str = "UPDATE heartbeat_jobs SET token_digest = $1 WHERE slug = $2";
const DELETE_RUNS: &str =
    "DELETE FROM job_runs WHERE job_id = (SELECT id FROM heartbeat_jobs WHERE slug = $1)";
const DELETE_JOB: &str = "DELETE FROM heartbeat_jobs WHERE slug = $1";
const BY_TOKEN: &str = "SELECT id FROM heartbeat_jobs WHERE slug = $1 AND token_digest = $2";
const START: &str =
    "INSERT INTO job_runs (job_id, started_ms, result, log_tail) VALUES ($1, $2, 'running', $3)";
// Only the job's latest run can be the open one: one index probe, however many runs the job
// has (a scan for any running row grew with every ping).
const CLOSE: &str = "UPDATE job_runs
     SET ended_ms = $1, result = $2, exit_code = $3, log_tail = COALESCE($4, log_tail)
     WHERE id = (SELECT id FROM job_runs WHERE job_id = $5 ORDER BY id DESC LIMIT 1)
       AND result = 'running' AND started_ms >= $6";
const ENDED: &str = "INSERT INTO job_runs (job_id, ended_ms, result, exit_code, log_tail)
     VALUES ($1, $2, $3, $4, $5)";
const RUNS: &str = "SELECT id, started_ms, ended_ms, result, exit_code, log_tail FROM job_runs
     WHERE job_id = $1 ORDER BY id DESC LIMIT $2";
// The job's `keep`-th newest report bounds what goes (none while it has fewer): a walk of
// `keep` entries of the (job_id, id) index.
const TRIM_JOB: &str = "DELETE FROM job_runs WHERE job_id = $1 AND id < (
       SELECT id FROM job_runs WHERE job_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)";

type JobRow = (i64, String, String, String, i64, i64);
type RunRow = (
    i64,
    Option<i64>,
    Option<i64>,
    String,
    Option<i32>,
    Option<String>,
);

fn job((id, slug, name, schedule, grace_secs, created_ms): JobRow) -> HeartbeatJob {
    HeartbeatJob {
        id,
        slug,
        name,
        schedule,
        grace_secs: grace_secs.max(0) as u64,
        created_ms,
    }
}

fn run((id, started_ms, ended_ms, result, exit_code, log_tail): RunRow) -> JobRun {
    JobRun {
        id,
        started_ms,
        ended_ms,
        result: parse_result(&result),
        exit_code,
        log_tail,
    }
}

/// The PostgreSQL channel on which a replica says it changed a job or recorded a report, so the
/// others refresh at once instead of at their next interval.
pub const CHANNEL: &str = "steward_jobs";

/// Listens on [`CHANNEL`] (a connection of its own from the pool).
pub async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Tells the other replicas that the jobs changed (nothing to tell on SQLite). What was
/// written is committed already: a failed announcement is logged, not returned, and the
/// others see the change at their next refresh.
#[async_trait]
trait Announce {
    async fn announce(&self);
}

#[async_trait]
impl Announce for SqlitePool {
    async fn announce(&self) {}
}

#[async_trait]
impl Announce for PgPool {
    async fn announce(&self) {
        if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(self)
            .await
        {
            tracing::warn!("heartbeat jobs: could not tell the other replicas of a change: {e}");
        }
    }
}

/// Announces a write that changed something and passes on whether it did (a refused create,
/// rotation or deletion changed nothing, so nothing is announced).
async fn announced<P: Announce + Sync>(pool: &P, changed: bool) -> bool {
    if changed {
        pool.announce().await;
    }
    changed
}

/// The jobs in the SQLite file.
#[derive(Clone)]
pub struct SqliteJobs(pub SqlitePool);

/// The jobs on PostgreSQL, shared by replicas.
#[derive(Clone)]
pub struct PgJobs(pub PgPool);

macro_rules! job_store {
    ($ty:ty, $shared:literal) => {
        #[async_trait]
        impl JobStore for $ty {
            fn shared(&self) -> bool {
                $shared
            }

            async fn tokens(&self) -> Result<Vec<(String, i64, String)>, sqlx::Error> {
                sqlx::query_as(TOKENS).fetch_all(&self.0).await
            }

            async fn jobs(&self) -> Result<Vec<HeartbeatJob>, sqlx::Error> {
                let rows: Vec<JobRow> = sqlx::query_as(JOBS).fetch_all(&self.0).await?;
                Ok(rows.into_iter().map(job).collect())
            }

            async fn create_job(
                &self,
                job: &HeartbeatJob,
                token_digest: &str,
                by: &str,
            ) -> Result<bool, sqlx::Error> {
                let r = sqlx::query(CREATE)
                    .bind(&job.slug)
                    .bind(&job.name)
                    .bind(&job.schedule)
                    .bind(job.grace_secs as i64)
                    .bind(token_digest)
                    .bind(job.created_ms)
                    .bind(by)
                    .execute(&self.0)
                    .await?;
                Ok(announced(&self.0, r.rows_affected() == 1).await)
            }

            async fn rotate_token(
                &self,
                slug: &str,
                token_digest: &str,
            ) -> Result<bool, sqlx::Error> {
                let r = sqlx::query(ROTATE)
                    .bind(token_digest)
                    .bind(slug)
                    .execute(&self.0)
                    .await?;
                Ok(announced(&self.0, r.rows_affected() == 1).await)
            }

            async fn delete_job(&self, slug: &str) -> Result<bool, sqlx::Error> {
                let mut tx = self.0.begin().await?;
                sqlx::query(DELETE_RUNS)
                    .bind(slug)
                    .execute(&mut *tx)
                    .await?;
                let r = sqlx::query(DELETE_JOB).bind(slug).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(announced(&self.0, r.rows_affected() == 1).await)
            }

            async fn job_by_token(
                &self,
                slug: &str,
                digest: &str,
            ) -> Result<Option<i64>, sqlx::Error> {
                let row: Option<(i64,)> = sqlx::query_as(BY_TOKEN)
                    .bind(slug)
                    .bind(digest)
                    .fetch_optional(&self.0)
                    .await?;
                Ok(row.map(|r| r.0))
            }

            async fn ping(
                &self,
                job_id: i64,
                ping: Ping,
                at_ms: i64,
                end: End<'_>,
                open_ms: i64,
            ) -> Result<(), sqlx::Error> {
                let log = end.log.map(|l| tail(l, MAX_LOG_TAIL));
                if ping == Ping::Start {
                    sqlx::query(START)
                        .bind(job_id)
                        .bind(at_ms)
                        .bind(log)
                        .execute(&self.0)
                        .await?;
                    self.0.announce().await;
                    return Ok(());
                }
                let result = if ping == Ping::Ok { "ok" } else { "failed" };
                let updated = sqlx::query(CLOSE)
                    .bind(at_ms)
                    .bind(result)
                    .bind(end.exit_code)
                    .bind(log)
                    .bind(job_id)
                    .bind(at_ms - open_ms)
                    .execute(&self.0)
                    .await?;
                if updated.rows_affected() == 0 {
                    sqlx::query(ENDED)
                        .bind(job_id)
                        .bind(at_ms)
                        .bind(result)
                        .bind(end.exit_code)
                        .bind(log)
                        .execute(&self.0)
                        .await?;
                }
                self.0.announce().await;
                Ok(())
            }

            async fn runs(&self, job_id: i64, limit: usize) -> Result<Vec<JobRun>, sqlx::Error> {
                let rows: Vec<RunRow> = sqlx::query_as(RUNS)
                    .bind(job_id)
                    .bind(limit as i64)
                    .fetch_all(&self.0)
                    .await?;
                Ok(rows.into_iter().map(run).collect())
            }

            async fn trim_job(&self, job_id: i64, keep: usize) -> Result<u64, sqlx::Error> {
                let r = sqlx::query(TRIM_JOB)
                    .bind(job_id)
                    .bind(keep.max(1) as i64 - 1)
                    .execute(&self.0)
                    .await?;
                Ok(r.rows_affected())
            }
        }
    };
}

job_store!(SqliteJobs, false);
job_store!(PgJobs, true);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trimming_keeps_each_jobs_newest_reports() {
        let dir = tempfile::tempdir().unwrap();
        let history = crate::store::history::HistoryStore::open(&dir.path().join("t.db"))
            .await
            .unwrap();
        let store = SqliteJobs(history.pool().clone());
        for (slug, digest) in [("a", "da"), ("b", "db")] {
            let job = HeartbeatJob {
                id: 0,
                slug: slug.into(),
                name: slug.into(),
                schedule: "* * * * *".into(),
                grace_secs: 60,
                created_ms: 0,
            };
            assert!(store.create_job(&job, digest, "t").await.unwrap());
        }
        let a = store.job_by_token("a", "da").await.unwrap().unwrap();
        let b = store.job_by_token("b", "db").await.unwrap().unwrap();
        for t in 0..5 {
            store.ping(a, Ping::Ok, t, End::default(), 1).await.unwrap();
        }
        store.ping(b, Ping::Ok, 9, End::default(), 1).await.unwrap();
        assert_eq!(store.trim_job(a, 2).await.unwrap(), 3);
        let kept: Vec<Option<i64>> = store
            .runs(a, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.ended_ms)
            .collect();
        assert_eq!(kept, [Some(4), Some(3)], "the newest two of a");
        assert_eq!(store.runs(b, 10).await.unwrap().len(), 1, "b is untouched");
        assert_eq!(store.trim_job(a, 2).await.unwrap(), 0);
        assert_eq!(store.trim_job(b, 2).await.unwrap(), 0, "fewer than kept");
    }
}
