//! The dead man's switch: whether a job that reports its runs is ok, running, late, missed or
//! failed, from its schedule, its grace time, its latest report and the time. Pure.
//!
//! A run is due at each scheduled time; a report (start or end) at or after that time, or up
//! to [`EARLY_MS`] before it, covers it. Uncovered, the job is `late` until the grace time has
//! passed, then `missed`. A run that started and has not ended is `running` within the grace
//! time and `missed` after it. A failure stays until the next report.

use app::maintenance::{JobRun, JobStatus, RunResult};
use chrono::TimeZone;

use super::schedule::Schedule;

/// How early a report may come and still cover a scheduled time (clocks differ).
pub const EARLY_MS: i64 = 60_000;

/// A heartbeat job's expectations.
pub struct Expectation<'a, Tz: TimeZone> {
    pub schedule: &'a Schedule,
    pub zone: &'a Tz,
    pub grace_ms: i64,
    /// Runs due before the job existed are not expected.
    pub created_ms: i64,
}

/// The job's status and why, at `now_ms`.
pub fn judge<Tz: TimeZone>(
    e: &Expectation<'_, Tz>,
    latest: Option<&JobRun>,
    now_ms: i64,
) -> (JobStatus, String) {
    let at = |ms: i64| app::shared::format::rfc3339_ms(ms);
    if let Some(run) = latest {
        match run.result {
            RunResult::Running => {
                let started = run.started_ms.unwrap_or(0);
                return if now_ms - started <= e.grace_ms {
                    (JobStatus::Running, format!("started {}", at(started)))
                } else {
                    (
                        JobStatus::Missed,
                        format!(
                            "started {} and did not report its end within the grace time ({})",
                            at(started),
                            secs(e.grace_ms)
                        ),
                    )
                };
            }
            RunResult::Failed => {
                let code = run
                    .exit_code
                    .map(|c| format!(" with exit code {c}"))
                    .unwrap_or_default();
                return (
                    JobStatus::Failed,
                    format!("the run of {} failed{code}", at(run.last_ms())),
                );
            }
            RunResult::Ok | RunResult::Partial => {}
        }
    }
    let due = e
        .schedule
        .previous_ms(now_ms, e.zone)
        .filter(|&d| d >= e.created_ms);
    let Some(due) = due else {
        if let Some(run) = latest {
            // It reported before its first scheduled run (a test run, or an early start).
            return (JobStatus::Ok, format!("reported {}", at(run.last_ms())));
        }
        let next = e.schedule.next_after_ms(now_ms, e.zone);
        return (
            JobStatus::Waiting,
            match next {
                Some(n) => format!("first run expected {}", at(n)),
                None => "no run is ever due on this schedule".into(),
            },
        );
    };
    match latest {
        Some(run) if run.last_ms() >= due - EARLY_MS => {
            (JobStatus::Ok, format!("reported {}", at(run.last_ms())))
        }
        _ if now_ms < due + e.grace_ms => (
            JobStatus::Late,
            format!(
                "due {}, no report yet; missed after {}",
                at(due),
                at(due + e.grace_ms)
            ),
        ),
        _ => (
            JobStatus::Missed,
            format!(
                "due {}, no report within the grace time ({})",
                at(due),
                secs(e.grace_ms)
            ),
        ),
    }
}

fn secs(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    const H: i64 = 3_600_000;

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    fn run(started: Option<&str>, ended: Option<&str>, result: RunResult) -> JobRun {
        JobRun {
            id: 1,
            started_ms: started.map(ms),
            ended_ms: ended.map(ms),
            result,
            exit_code: (result == RunResult::Failed).then_some(3),
            log_tail: None,
        }
    }

    /// A nightly backup at 02:00 UTC with one hour of grace, created the day before.
    fn check(latest: Option<JobRun>, now: &str) -> JobStatus {
        let schedule: Schedule = "0 2 * * *".parse().unwrap();
        let e = Expectation {
            schedule: &schedule,
            zone: &Utc,
            grace_ms: H,
            created_ms: ms("2026-05-25T12:00:00Z"),
        };
        judge(&e, latest.as_ref(), ms(now)).0
    }

    #[test]
    fn the_whole_day_of_a_nightly_job() {
        use JobStatus::*;
        // Before its first 02:00 it waits, unless it already reported.
        assert_eq!(check(None, "2026-05-25T23:00:00Z"), Waiting);
        let test_run = run(None, Some("2026-05-25T22:00:00Z"), RunResult::Ok);
        assert_eq!(check(Some(test_run), "2026-05-25T23:00:00Z"), Ok);
        // 02:00 came, no report: late for the grace hour, then missed.
        assert_eq!(check(None, "2026-05-26T02:30:00Z"), Late);
        assert_eq!(check(None, "2026-05-26T03:00:01Z"), Missed);
        // It started at 02:00 and is still running: running within grace, then missed.
        let started = run(Some("2026-05-26T02:00:05Z"), None, RunResult::Running);
        assert_eq!(
            check(Some(started.clone()), "2026-05-26T02:40:00Z"),
            Running
        );
        assert_eq!(check(Some(started), "2026-05-26T03:10:00Z"), Missed);
        // It reported ok: ok all day, until the next night's 02:00 makes it due again.
        let ok = run(
            Some("2026-05-26T02:00:05Z"),
            Some("2026-05-26T02:20:00Z"),
            RunResult::Ok,
        );
        assert_eq!(check(Some(ok.clone()), "2026-05-26T02:20:01Z"), Ok);
        assert_eq!(check(Some(ok.clone()), "2026-05-27T01:59:59Z"), Ok);
        assert_eq!(check(Some(ok.clone()), "2026-05-27T02:10:00Z"), Late);
        assert_eq!(check(Some(ok), "2026-05-27T04:00:00Z"), Missed);
        // A report a few seconds early (clock skew) still covers the run.
        let early = run(None, Some("2026-05-26T01:59:30Z"), RunResult::Ok);
        assert_eq!(check(Some(early), "2026-05-26T05:00:00Z"), Ok);
        // A failure stays failed until the next report, whatever the time.
        let failed = run(None, Some("2026-05-26T02:05:00Z"), RunResult::Failed);
        assert_eq!(check(Some(failed.clone()), "2026-05-26T02:06:00Z"), Failed);
        assert_eq!(check(Some(failed), "2026-05-28T09:00:00Z"), Failed);
    }

    #[test]
    fn reasons_say_when() {
        let schedule: Schedule = "0 2 * * *".parse().unwrap();
        let e = Expectation {
            schedule: &schedule,
            zone: &Utc,
            grace_ms: H,
            created_ms: 0,
        };
        let (_, why) = judge(&e, None, ms("2026-05-26T04:00:00Z"));
        assert!(
            why.contains("2026-05-26T02:00:00") && why.contains("1 h"),
            "{why}"
        );
    }
}
