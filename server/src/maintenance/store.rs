//! This machine's cleanup runs in the SQLite file (manual, scheduled, dry and imported). The
//! heartbeat jobs, which replicas may share, are in [`super::job_store`].

use app::maintenance::{CleanupRun, RunResult, StepRecord, Trigger};
use sqlx::{Row, SqlitePool};

/// Longest log tail kept per report.
pub const MAX_LOG_TAIL: usize = 4096;

#[derive(Clone)]
pub struct MaintenanceStore {
    pool: SqlitePool,
}

fn result_str(r: RunResult) -> &'static str {
    r.as_str()
}

pub(super) fn parse_result(s: &str) -> RunResult {
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

    /// Keeps the newest `keep` dry runs; returns how many went (every dry run writes a row).
    pub async fn trim_dry_runs(&self, keep: usize) -> Result<u64, sqlx::Error> {
        let dry = sqlx::query(
            "DELETE FROM cleanup_runs WHERE dry_run = 1 AND id NOT IN (
               SELECT id FROM cleanup_runs WHERE dry_run = 1 ORDER BY id DESC LIMIT ?)",
        )
        .bind(keep as i64)
        .execute(&self.pool)
        .await?;
        Ok(dry.rows_affected())
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
    async fn trimming_keeps_the_newest_dry_runs_and_every_real_run() {
        let dir = tempfile::tempdir().unwrap();
        let history = crate::store::history::HistoryStore::open(&dir.path().join("t.db"))
            .await
            .unwrap();
        let store = MaintenanceStore::new(history.pool().clone());
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
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(store.insert_cleanup(&dry, true).await.unwrap().unwrap());
        }
        let mut real = dry.clone();
        real.started_ms = 5;
        store.insert_cleanup(&real, false).await.unwrap();
        assert_eq!(store.trim_dry_runs(1).await.unwrap(), 2);
        assert!(
            store.dry_run(ids[2]).await.unwrap().is_some(),
            "the newest stays"
        );
        assert!(store.dry_run(ids[0]).await.unwrap().is_none());
        assert_eq!(store.cleanups(10).await.unwrap().len(), 1, "real runs stay");
        assert_eq!(store.trim_dry_runs(1).await.unwrap(), 0);
    }

    #[test]
    fn tails_cut_at_character_boundaries() {
        assert_eq!(tail("abc", 10), "abc");
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("aé", 1), "");
        assert_eq!(tail("aéb", 2), "b");
    }
}
