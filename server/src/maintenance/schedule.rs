//! Cron schedules: parsing, next and previous runs, and the schedule in words, through the
//! `croner` crate (POSIX/Vixie cron: 5 fields, `@daily` and friends, ranges, steps, names).
//! Pure: every function takes the time it reasons about.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// A parsed 5-field cron schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
    text: String,
}

/// Why a schedule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{0}` runs at boot, not on a schedule")]
    AtBoot(String),
    #[error("`{text}` is not a cron schedule: {message}")]
    Invalid { text: String, message: String },
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let pattern = match text.to_ascii_lowercase().as_str() {
            "@reboot" => return Err(ScheduleError::AtBoot(text.into())),
            // Vixie cron's alias that croner does not know.
            "@midnight" => "@daily".to_string(),
            _ => text.to_string(),
        };
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(&pattern).map_err(|e| ScheduleError::Invalid {
            text: text.into(),
            message: e.to_string(),
        })?;
        Ok(Schedule {
            cron,
            text: text.into(),
        })
    }
}

impl Schedule {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The schedule in words ("At 03:30").
    pub fn words(&self) -> String {
        self.cron.describe()
    }

    /// The first run strictly after `after`, in the zone of `after`.
    pub fn next_after<Tz: TimeZone>(&self, after: &DateTime<Tz>) -> Option<DateTime<Tz>> {
        self.cron.find_next_occurrence(after, false).ok()
    }

    /// The last run at or before `at`.
    pub fn previous_at_or_before<Tz: TimeZone>(&self, at: &DateTime<Tz>) -> Option<DateTime<Tz>> {
        self.cron.find_previous_occurrence(at, true).ok()
    }

    /// [`Self::next_after`] in ms since the epoch, reading the schedule in `zone`.
    pub fn next_after_ms<Tz: TimeZone>(&self, after_ms: i64, zone: &Tz) -> Option<i64> {
        // Whole seconds: croner keeps the fraction of its starting point.
        let t = zone
            .timestamp_millis_opt(after_ms.div_euclid(1000) * 1000)
            .single()?;
        self.next_after(&t).map(|d| d.timestamp_millis())
    }

    /// [`Self::previous_at_or_before`] in ms since the epoch, reading the schedule in `zone`.
    pub fn previous_ms<Tz: TimeZone>(&self, at_ms: i64, zone: &Tz) -> Option<i64> {
        let t = zone
            .timestamp_millis_opt(at_ms.div_euclid(1000) * 1000)
            .single()?;
        self.previous_at_or_before(&t).map(|d| d.timestamp_millis())
    }
}

/// The zone cron reads schedules in: the host's local time (cron's own rule). Tests use UTC.
pub fn host_zone() -> chrono::Local {
    chrono::Local
}

/// UTC, for tests and for schedules Steward itself runs when the host zone is unknown.
pub fn utc() -> Utc {
    Utc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn next(expr: &str, after: &str) -> String {
        let s: Schedule = expr.parse().unwrap();
        let n = s.next_after_ms(ms(after), &Utc).unwrap();
        Utc.timestamp_millis_opt(n).unwrap().to_rfc3339()
    }

    #[test]
    fn next_runs_of_common_and_edge_expressions() {
        assert_eq!(
            next("30 3 * * *", "2026-05-26T03:30:00Z"),
            "2026-05-27T03:30:00+00:00"
        );
        assert_eq!(
            next("30 3 * * *", "2026-05-26T03:29:59Z"),
            "2026-05-26T03:30:00+00:00"
        );
        assert_eq!(
            next("@daily", "2026-05-26T10:00:00Z"),
            "2026-05-27T00:00:00+00:00"
        );
        assert_eq!(
            next("@midnight", "2026-05-26T10:00:00Z"),
            "2026-05-27T00:00:00+00:00"
        );
        assert_eq!(
            next("@weekly", "2026-05-26T10:00:00Z"),
            "2026-05-31T00:00:00+00:00"
        );
        assert_eq!(
            next("@monthly", "2026-12-15T00:00:00Z"),
            "2027-01-01T00:00:00+00:00"
        );
        assert_eq!(
            next("*/15 * * * *", "2026-05-26T10:07:00Z"),
            "2026-05-26T10:15:00+00:00"
        );
        assert_eq!(
            next("0 9-17/4 * * 1-5", "2026-05-29T17:00:00Z"),
            "2026-06-01T09:00:00+00:00"
        );
        assert_eq!(
            next("0 4 * * sun", "2026-05-26T00:00:00Z"),
            "2026-05-31T04:00:00+00:00"
        );
        assert_eq!(
            next("0 0 29 2 *", "2026-03-01T00:00:00Z"),
            "2028-02-29T00:00:00+00:00"
        );
        assert_eq!(
            next("0 0 1,15 * *", "2026-05-02T00:00:00Z"),
            "2026-05-15T00:00:00+00:00"
        );
        // Vixie cron: day of month and day of week are OR-ed when both are restricted.
        assert_eq!(
            next("0 0 13 * 5", "2026-05-26T00:00:00Z"),
            "2026-05-29T00:00:00+00:00"
        );
    }

    #[test]
    fn previous_runs_include_the_instant_itself() {
        let s: Schedule = "30 3 * * *".parse().unwrap();
        assert_eq!(
            s.previous_ms(ms("2026-05-26T03:30:00Z"), &Utc),
            Some(ms("2026-05-26T03:30:00Z"))
        );
        assert_eq!(
            s.previous_ms(ms("2026-05-26T03:29:00Z"), &Utc),
            Some(ms("2026-05-25T03:30:00Z"))
        );
    }

    #[test]
    fn bad_and_boot_schedules_are_told_apart() {
        assert_eq!(
            "@reboot".parse::<Schedule>().unwrap_err(),
            ScheduleError::AtBoot("@reboot".into())
        );
        for bad in [
            "",
            "61 * * * *",
            "* * * *",
            "0 0 * * * *",
            "every day",
            "* * 32 * *",
        ] {
            assert!(
                matches!(bad.parse::<Schedule>(), Err(ScheduleError::Invalid { .. })),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn words() {
        let s: Schedule = "30 3 * * *".parse().unwrap();
        let w = s.words();
        assert!(w.contains("03:30") || w.contains("3:30"), "{w}");
    }
}
