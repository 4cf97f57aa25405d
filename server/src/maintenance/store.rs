//! Maintenance records in SQLite: heartbeat jobs and their reports, and cleanup runs.

use app::maintenance::{CleanupRun, JobRun, RunResult, StepRecord, Trigger};
use sqlx::{Row, SqlitePool};

/// Longest log tail kept per report.
pub const MAX_LOG_TAIL: usize = 4096;

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

#[derive(Clone)]
pub struct MaintenanceStore {
    pool: SqlitePool,
}

fn result_str(r: RunResult) -> &'static str {
    r.as_str()
}

fn parse_result(s: &str) -> RunResult {
    match s {
        "running" => RunResult::Running,
        "ok" => RunResult::Ok,
        "partial" => RunResult::Partial,
        _ => RunResult::Failed,
    }
}

fn parse_trigger(s: &str) -> Trigger {
    match s {
        "scheduled" => Trigger::Scheduled,
        "imported" => Trigger::Imported,
        _ => Trigger::Manual,
    }
}

/// The last `max` bytes of `s`, cut at a character boundary.
pub fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

impl MaintenanceStore {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Every job's slug, id and token digest (the ping check's cache).
    pub async fn tokens(&self) -> Result<Vec<(String, i64, String)>, sqlx::Error> {
        let rows = sqlx::query("SELECT slug, id, token_digest FROM heartbeat_jobs")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    pub async fn jobs(&self) -> Result<Vec<HeartbeatJob>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, slug, name, schedule, grace_secs, created_ms FROM heartbeat_jobs ORDER BY slug",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| HeartbeatJob {
                id: r.get(0),
                slug: r.get(1),
                name: r.get(2),
                schedule: r.get(3),
                grace_secs: r.get::<i64, _>(4).max(0) as u64,
                created_ms: r.get(5),
            })
            .collect())
    }

    /// Creates a job; `Ok(false)` when the slug is taken.
    pub async fn create_job(
        &self,
        job: &HeartbeatJob,
        token_digest: &str,
        by: &str,
    ) -> Result<bool, sqlx::Error> {
        let r = sqlx::query(
            "INSERT INTO heartbeat_jobs (slug, name, schedule, grace_secs, token_digest, created_ms, created_by)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO NOTHING",
        )
        .bind(&job.slug)
        .bind(&job.name)
        .bind(&job.schedule)
        .bind(job.grace_secs as i64)
        .bind(token_digest)
        .bind(job.created_ms)
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Replaces a job's token; `Ok(false)` when there is no such job.
    pub async fn rotate_token(&self, slug: &str, token_digest: &str) -> Result<bool, sqlx::Error> {
        let r = sqlx::query("UPDATE heartbeat_jobs SET token_digest = ? WHERE slug = ?")
            .bind(token_digest)
            .bind(slug)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Deletes a job and its reports; `Ok(false)` when there is no such job.
    pub async fn delete_job(&self, slug: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM job_runs WHERE job_id = (SELECT id FROM heartbeat_jobs WHERE slug = ?)",
        )
        .bind(slug)
        .execute(&mut *tx)
        .await?;
        let r = sqlx::query("DELETE FROM heartbeat_jobs WHERE slug = ?")
            .bind(slug)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// The job whose slug and token digest match, if any.
    pub async fn job_by_token(&self, slug: &str, digest: &str) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query("SELECT id FROM heartbeat_jobs WHERE slug = ? AND token_digest = ?")
            .bind(slug)
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Records a ping: a start opens a run; an end closes the open run (when it started within
    /// `open_ms`), else it is a run of its own without a start.
    pub async fn ping(
        &self,
        job_id: i64,
        ping: Ping,
        at_ms: i64,
        exit_code: Option<i32>,
        log: Option<&str>,
        open_ms: i64,
    ) -> Result<(), sqlx::Error> {
        let log = log.map(|l| tail(l, MAX_LOG_TAIL));
        if ping == Ping::Start {
            sqlx::query(
                "INSERT INTO job_runs (job_id, started_ms, result, log_tail) VALUES (?, ?, 'running', ?)",
            )
            .bind(job_id)
            .bind(at_ms)
            .bind(log)
            .execute(&self.pool)
            .await?;
            return Ok(());
        }
        let result = if ping == Ping::Ok { "ok" } else { "failed" };
        let updated = sqlx::query(
            // Only the job's latest run can be the open one: one index probe, however many
            // runs the job has (a scan for any running row grew with every ping).
            "UPDATE job_runs SET ended_ms = ?, result = ?, exit_code = ?, log_tail = COALESCE(?, log_tail)
             WHERE id = (SELECT id FROM job_runs WHERE job_id = ? ORDER BY id DESC LIMIT 1)
               AND result = 'running' AND started_ms >= ?",
        )
        .bind(at_ms)
        .bind(result)
        .bind(exit_code)
        .bind(log)
        .bind(job_id)
        .bind(at_ms - open_ms)
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO job_runs (job_id, ended_ms, result, exit_code, log_tail) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(job_id)
            .bind(at_ms)
            .bind(result)
            .bind(exit_code)
            .bind(log)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// A job's newest runs first.
    pub async fn runs(&self, job_id: i64, limit: usize) -> Result<Vec<JobRun>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, started_ms, ended_ms, result, exit_code, log_tail FROM job_runs
             WHERE job_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(job_id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| JobRun {
                id: r.get(0),
                started_ms: r.get(1),
                ended_ms: r.get(2),
                result: parse_result(r.get::<&str, _>(3)),
                exit_code: r.get(4),
                log_tail: r.get(5),
            })
            .collect())
    }

    /// Inserts a cleanup run (its id is assigned) and returns the id; an imported run that is
    /// already there is left alone (`Ok(None)`).
    pub async fn insert_cleanup(
        &self,
        run: &CleanupRun,
        dry_run: bool,
    ) -> Result<Option<i64>, sqlx::Error> {
        let steps = serde_json::to_string(&run.steps).unwrap_or_else(|_| "[]".into());
        let r = sqlx::query(
            "INSERT INTO cleanup_runs (started_ms, ended_ms, mode, trigger, actor, dry_run, disk_before_bytes,
                disk_after_bytes, freed_bytes, steps, result, error)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(run.started_ms)
        .bind(run.ended_ms)
        .bind(&run.mode)
        .bind(run.trigger.as_str())
        .bind(&run.actor)
        .bind(dry_run)
        .bind(run.disk_before_bytes.map(|b| b as i64))
        .bind(run.disk_after_bytes.map(|b| b as i64))
        .bind(run.freed_bytes as i64)
        .bind(steps)
        .bind(result_str(run.result))
        .bind(&run.error)
        .execute(&self.pool)
        .await?;
        Ok((r.rows_affected() == 1).then(|| r.last_insert_rowid()))
    }

    /// Updates a run as it progresses and when it ends.
    pub async fn update_cleanup(&self, run: &CleanupRun) -> Result<(), sqlx::Error> {
        let steps = serde_json::to_string(&run.steps).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "UPDATE cleanup_runs SET ended_ms = ?, disk_before_bytes = ?, disk_after_bytes = ?, freed_bytes = ?,
                steps = ?, result = ?, error = ? WHERE id = ?",
        )
        .bind(run.ended_ms)
        .bind(run.disk_before_bytes.map(|b| b as i64))
        .bind(run.disk_after_bytes.map(|b| b as i64))
        .bind(run.freed_bytes as i64)
        .bind(steps)
        .bind(result_str(run.result))
        .bind(&run.error)
        .bind(run.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest real (not dry) cleanup runs first.
    pub async fn cleanups(&self, limit: usize) -> Result<Vec<CleanupRun>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, started_ms, ended_ms, mode, trigger, actor, disk_before_bytes, disk_after_bytes,
                    freed_bytes, steps, result, error
             FROM cleanup_runs WHERE dry_run = 0 ORDER BY started_ms DESC, id DESC LIMIT ?",
        )
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(cleanup_from_row).collect())
    }

    /// A dry run by id (to confirm the real run against what it promised).
    pub async fn dry_run(&self, id: i64) -> Result<Option<CleanupRun>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, started_ms, ended_ms, mode, trigger, actor, disk_before_bytes, disk_after_bytes,
                    freed_bytes, steps, result, error
             FROM cleanup_runs WHERE dry_run = 1 AND id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(cleanup_from_row))
    }

    /// Keeps each job's newest `keep` reports and the newest `keep_dry` dry runs; returns how
    /// many rows went. Pings write a row each, so without this a chatty job (or a leaked
    /// token) would grow the file without end.
    pub async fn trim(&self, keep: usize, keep_dry: usize) -> Result<u64, sqlx::Error> {
        let runs = sqlx::query(
            "DELETE FROM job_runs WHERE id IN (
               SELECT id FROM (
                 SELECT id, ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY id DESC) AS n FROM job_runs
               ) WHERE n > ?)",
        )
        .bind(keep as i64)
        .execute(&self.pool)
        .await?;
        let dry = sqlx::query(
            "DELETE FROM cleanup_runs WHERE dry_run = 1 AND id NOT IN (
               SELECT id FROM cleanup_runs WHERE dry_run = 1 ORDER BY id DESC LIMIT ?)",
        )
        .bind(keep_dry as i64)
        .execute(&self.pool)
        .await?;
        Ok(runs.rows_affected() + dry.rows_affected())
    }

    /// Marks runs left `running` by a previous process as failed (Steward stopped mid-run).
    pub async fn close_abandoned(&self, now_ms: i64) -> Result<u64, sqlx::Error> {
        let r = sqlx::query(
            "UPDATE cleanup_runs SET result = 'failed', ended_ms = ?, error = 'Steward stopped during the run'
             WHERE result = 'running'",
        )
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }
}

fn cleanup_from_row(r: &sqlx::sqlite::SqliteRow) -> CleanupRun {
    let steps: Vec<StepRecord> = serde_json::from_str(r.get::<&str, _>(9)).unwrap_or_default();
    CleanupRun {
        id: r.get(0),
        started_ms: r.get(1),
        ended_ms: r.get(2),
        mode: r.get(3),
        trigger: parse_trigger(r.get::<&str, _>(4)),
        actor: r.get(5),
        disk_before_bytes: r.get::<Option<i64>, _>(6).map(|b| b.max(0) as u64),
        disk_after_bytes: r.get::<Option<i64>, _>(7).map(|b| b.max(0) as u64),
        freed_bytes: r.get::<i64, _>(8).max(0) as u64,
        steps,
        result: parse_result(r.get::<&str, _>(10)),
        error: r.get(11),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trimming_keeps_each_jobs_newest_reports_and_the_newest_dry_runs() {
        let dir = tempfile::tempdir().unwrap();
        let history = crate::store::history::HistoryStore::open(&dir.path().join("t.db"))
            .await
            .unwrap();
        let store = MaintenanceStore::new(history.pool().clone());
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
            store.ping(a, Ping::Ok, t, None, None, 1).await.unwrap();
        }
        store.ping(b, Ping::Ok, 9, None, None, 1).await.unwrap();
        let dry = CleanupRun {
            id: 0,
            started_ms: 0,
            ended_ms: Some(1),
            mode: "standard".into(),
            trigger: Trigger::Manual,
            actor: "t".into(),
            disk_before_bytes: None,
            disk_after_bytes: None,
            freed_bytes: 0,
            steps: vec![],
            result: RunResult::Ok,
            error: None,
        };
        for _ in 0..3 {
            store.insert_cleanup(&dry, true).await.unwrap();
        }
        let mut real = dry.clone();
        real.started_ms = 5;
        store.insert_cleanup(&real, false).await.unwrap();
        assert_eq!(store.trim(2, 1).await.unwrap(), 3 + 2);
        let kept: Vec<Option<i64>> = store
            .runs(a, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.ended_ms)
            .collect();
        assert_eq!(kept, [Some(4), Some(3)], "the newest two of a");
        assert_eq!(store.runs(b, 10).await.unwrap().len(), 1, "b is untouched");
        assert_eq!(store.cleanups(10).await.unwrap().len(), 1, "real runs stay");
        assert_eq!(store.trim(2, 1).await.unwrap(), 0);
    }

    #[test]
    fn tails_cut_at_character_boundaries() {
        assert_eq!(tail("abc", 10), "abc");
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("aé", 1), "");
        assert_eq!(tail("aéb", 2), "b");
    }
}
