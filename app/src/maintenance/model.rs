//! The maintenance panel's types, shared by the server and the browser.

use serde::{Deserialize, Serialize};

/// Where a job in the table comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobSource {
    /// A line of a system or user crontab.
    Crontab,
    /// A line inside the managed block (the configured marker comment).
    Managed,
    /// A systemd timer.
    Timer,
    /// A job that reports its runs to Steward (a dead man's switch).
    Heartbeat,
    /// Steward's own scheduled cleanup.
    Cleanup,
}

impl JobSource {
    pub fn label(self) -> &'static str {
        match self {
            JobSource::Crontab => "crontab",
            JobSource::Managed => "managed crontab",
            JobSource::Timer => "systemd timer",
            JobSource::Heartbeat => "heartbeat",
            JobSource::Cleanup => "Steward cleanup",
        }
    }
}

/// A job's state as the table shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Ok,
    /// Started and not finished yet, within its grace time.
    Running,
    /// Created, no run expected yet.
    Waiting,
    /// Discovered on the host but it reports nowhere: Steward cannot know whether it ran.
    Unmonitored,
    /// A run was due and has not reported; still within the grace time.
    Late,
    /// The grace time passed without a report.
    Missed,
    /// The last run reported failure.
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Ok => "ok",
            JobStatus::Running => "running",
            JobStatus::Waiting => "waiting",
            JobStatus::Unmonitored => "unmonitored",
            JobStatus::Late => "late",
            JobStatus::Missed => "missed",
            JobStatus::Failed => "failed",
        }
    }

    /// The table's order: problems first, jobs that report next, discovered ones last.
    pub fn rank(self) -> u8 {
        match self {
            JobStatus::Failed => 0,
            JobStatus::Missed => 1,
            JobStatus::Late => 2,
            JobStatus::Running => 3,
            JobStatus::Ok => 4,
            JobStatus::Waiting => 5,
            JobStatus::Unmonitored => 6,
        }
    }

    /// Whether the overview should name the job as a problem.
    pub fn is_problem(self) -> bool {
        matches!(self, JobStatus::Missed | JobStatus::Failed)
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunResult {
    Running,
    Ok,
    /// Some steps failed, the others ran.
    Partial,
    Failed,
}

impl RunResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Running => "running",
            RunResult::Ok => "ok",
            RunResult::Partial => "partial",
            RunResult::Failed => "failed",
        }
    }
}

/// One step of a cleanup run, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: String,
    /// Bytes the step freed (or would free, in a dry run); `None` when it cannot be told.
    pub freed_bytes: Option<u64>,
    /// Things removed or truncated (images, containers, files).
    pub items: u32,
    pub error: Option<String>,
    /// What the step did or would do, in a line.
    pub detail: String,
    pub duration_ms: i64,
}

/// What started a cleanup run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Manual,
    Scheduled,
    /// Read from the existing cleanup script's log.
    Imported,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Scheduled => "scheduled",
            Trigger::Imported => "imported",
        }
    }
}

/// One cleanup run: the seed's `{timestamp, mode, diskBefore, diskAfter, freedMB, steps[], success}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CleanupRun {
    pub id: i64,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    /// `standard`, `full`, … as the script or the config names it.
    pub mode: String,
    pub trigger: Trigger,
    /// Who started it (an admin, `schedule`, or the imported file).
    pub actor: String,
    pub disk_before_bytes: Option<u64>,
    pub disk_after_bytes: Option<u64>,
    pub freed_bytes: u64,
    pub steps: Vec<StepRecord>,
    pub result: RunResult,
    /// Why the run could not start or stopped, if it did.
    pub error: Option<String>,
}

/// One report of a heartbeat job (a ping pair: start, then ok or fail).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    pub id: i64,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub result: RunResult,
    pub exit_code: Option<i32>,
    /// The last lines the job sent with its report.
    pub log_tail: Option<String>,
}

impl JobRun {
    /// When the run last said something.
    pub fn last_ms(&self) -> i64 {
        self.ended_ms.or(self.started_ms).unwrap_or(0)
    }

    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.ended_ms? - self.started_ms?)
    }
}

/// A row of the job table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Unique in the table: the heartbeat slug, or a name derived from the file and line.
    pub slug: String,
    pub name: String,
    pub source: JobSource,
    /// The cron expression (or the timer's `OnCalendar=`), as written.
    pub schedule: Option<String>,
    /// The schedule in words.
    pub schedule_words: Option<String>,
    /// The command, for discovered jobs.
    pub command: Option<String>,
    /// The crontab user, for discovered jobs.
    pub user: Option<String>,
    /// Where it was found (file path), for discovered jobs.
    pub origin: Option<String>,
    pub grace_secs: Option<u64>,
    pub next_run_ms: Option<i64>,
    pub status: JobStatus,
    /// Why the status is what it is, in a sentence.
    pub reason: String,
    /// The newest runs first (heartbeat reports or cleanup runs), at most [`RUNS_PER_JOB`].
    pub runs: Vec<JobRun>,
    /// Bytes freed by the last run, for cleanups.
    pub freed_bytes: Option<u64>,
}

/// How many runs each job carries to the page.
pub const RUNS_PER_JOB: usize = 10;

impl Job {
    pub fn last_run(&self) -> Option<&JobRun> {
        self.runs.first()
    }
}

/// A discovery or import problem (an unreadable crontab, a bad line), shown above the table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub origin: String,
    pub message: String,
}

/// One configured cleanup step with what it does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepInfo {
    pub name: String,
    pub description: String,
}

/// Everything the maintenance page and `GET /api/v1/maintenance` show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Maintenance {
    pub jobs: Vec<Job>,
    /// The newest cleanup runs first, at most [`CLEANUP_HISTORY`].
    pub cleanups: Vec<CleanupRun>,
    pub steps: Vec<StepInfo>,
    /// The cleanup schedule from the config, if any, and its next run.
    pub cleanup_schedule: Option<String>,
    pub cleanup_next_ms: Option<i64>,
    /// The cleanup run in progress, if one is.
    pub running: Option<i64>,
    pub findings: Vec<Finding>,
    /// When the jobs were last discovered and judged.
    pub as_of_ms: i64,
    /// Disk use broken down by what Steward can name, largest first.
    pub culprits: Vec<Culprit>,
    /// Set when only the first jobs are here ([`Maintenance::first_rows`]): how many there are.
    #[serde(default)]
    pub partial: Option<usize>,
}

/// How many jobs the server renders before the browser fetches the rest.
pub const PAGE_JOBS: usize = 50;

/// How many cleanup runs the page carries (the sparkline shows the last 30).
pub const CLEANUP_HISTORY: usize = 30;

impl Maintenance {
    /// The latest cleanup that finished with something done (ok or partial), for the score.
    pub fn last_successful_cleanup(&self) -> Option<&CleanupRun> {
        self.cleanups.iter().find(|r| {
            matches!(r.result, RunResult::Ok | RunResult::Partial) && r.ended_ms.is_some()
        })
    }

    /// The first `n` jobs (problems first), each with its latest run only, for the first
    /// render; the browser fetches the whole list once loaded (as the container page does).
    pub fn first_rows(&self, n: usize) -> Maintenance {
        let mut m = self.clone();
        if m.jobs.len() > n {
            m.partial = Some(m.jobs.len());
            m.jobs.truncate(n);
        }
        for j in &mut m.jobs {
            j.runs.truncate(1);
        }
        m
    }

    /// Jobs the overview should name: missed or failed.
    pub fn problems(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter().filter(|j| j.status.is_problem())
    }
}

/// One thing that takes disk space, with its growth when history allows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Culprit {
    /// Stable key (`docker_images`, `container_logs:api`, `dir:/var/lib/x`).
    pub key: String,
    pub label: String,
    pub bytes: u64,
    /// Growth in bytes per day over the last days, when at least two samples exist.
    pub growth_per_day: Option<f64>,
    /// The cleanup step that frees it, if one is configured.
    pub step: Option<String>,
}

/// The phase of one cleanup step in a live run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepPhase {
    Running,
    Done,
    Failed,
    /// The last event of a run; its message sums it up.
    Finished,
}

/// A live progress event of a cleanup run (Server-Sent Events).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CleanupEvent {
    pub run: i64,
    /// The step's name (empty for the final event).
    pub step: String,
    pub phase: StepPhase,
    pub freed_bytes: Option<u64>,
    pub message: String,
    pub ts_ms: i64,
}

/// The dry run an admin sees before confirming: per step what would be freed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CleanupPlan {
    pub steps: Vec<StepRecord>,
    pub total_bytes: u64,
    /// The dry run's record id, passed back to confirm the real run.
    pub dry_run: i64,
}

/// A new heartbeat job's token, shown once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobToken {
    pub slug: String,
    pub token: String,
}

/// Whether a slug is acceptable: 1–64 of `a-z 0-9 - _`, starting with a letter or digit.
pub fn valid_slug(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The `curl` lines a job runs to report itself, as shown in the UI.
pub fn ping_commands(base_url: &str, slug: &str, token_file: &str) -> String {
    let url = format!("{}/api/v1/jobs/{slug}/ping", base_url.trim_end_matches('/'));
    let auth = format!("-H \"Authorization: Bearer $(cat {token_file})\"");
    format!(
        "curl -fsS -m 10 -X POST {auth} {url}/start\n\
         your-command; rc=$?\n\
         curl -fsS -m 10 -X POST {auth} --data-binary \"exit $rc\" \"{url}/$([ $rc = 0 ] && echo ok || echo fail)?exit_code=$rc\""
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(valid_slug("nightly-backup_2"));
        assert!(!valid_slug(""));
        assert!(!valid_slug("-x"));
        assert!(!valid_slug("Backup"));
        assert!(!valid_slug("a/b"));
        assert!(!valid_slug(&"a".repeat(65)));
    }

    #[test]
    fn the_last_successful_cleanup_skips_failed_and_running_runs() {
        let run = |id, result, ended: Option<i64>| CleanupRun {
            id,
            started_ms: id * 1000,
            ended_ms: ended,
            mode: "standard".into(),
            trigger: Trigger::Manual,
            actor: "a".into(),
            disk_before_bytes: None,
            disk_after_bytes: None,
            freed_bytes: 1,
            steps: vec![],
            result,
            error: None,
        };
        let m = Maintenance {
            cleanups: vec![
                run(3, RunResult::Running, None),
                run(2, RunResult::Failed, Some(2500)),
                run(1, RunResult::Partial, Some(1500)),
            ],
            ..Default::default()
        };
        assert_eq!(m.last_successful_cleanup().map(|r| r.id), Some(1));
    }

    #[test]
    fn first_rows_keep_the_first_jobs_with_their_latest_run() {
        let job = |slug: &str| Job {
            slug: slug.into(),
            name: slug.into(),
            source: JobSource::Heartbeat,
            schedule: None,
            schedule_words: None,
            command: None,
            user: None,
            origin: None,
            grace_secs: None,
            next_run_ms: None,
            status: JobStatus::Ok,
            reason: String::new(),
            runs: (0..3)
                .map(|id| JobRun {
                    id,
                    started_ms: None,
                    ended_ms: Some(id),
                    result: RunResult::Ok,
                    exit_code: None,
                    log_tail: None,
                })
                .collect(),
            freed_bytes: None,
        };
        let m = Maintenance {
            jobs: vec![job("a"), job("b"), job("c")],
            ..Default::default()
        };
        let first = m.first_rows(2);
        assert_eq!(first.partial, Some(3));
        assert_eq!(first.jobs.len(), 2);
        assert!(first
            .jobs
            .iter()
            .all(|j| j.runs.len() == 1 && j.runs[0].id == 0));
        assert_eq!(m.first_rows(5).partial, None);
    }

    #[test]
    fn ping_commands_name_the_url_and_token_file() {
        let c = ping_commands(
            "https://ops.example/",
            "backup",
            "/etc/steward/backup.token",
        );
        assert!(c.contains("https://ops.example/api/v1/jobs/backup/ping/start"));
        assert!(c.contains("$(cat /etc/steward/backup.token)"));
        assert!(c.contains("exit_code=$rc"));
    }
}
