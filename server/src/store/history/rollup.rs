//! Pure rules of the rollup levels: bucket widths, which buckets are complete, and retention.

use app::shared::range::Resolution;

use super::block::MinuteRow;
use crate::config::HistoryConfig;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// A rollup level: its table, width, and the table it is computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    pub name: &'static str,
    pub table: &'static str,
    pub width_ms: i64,
    /// The table this level is computed from, and whether that table holds raw samples.
    pub source: &'static str,
    pub source_is_raw: bool,
}

/// Levels in the order they must be computed (each reads the one before).
pub const LEVELS: [Level; 3] = [
    Level {
        name: "1m",
        table: "rollup_1m",
        width_ms: MINUTE_MS,
        source: "samples_raw",
        source_is_raw: true,
    },
    Level {
        name: "1h",
        table: "rollup_1h",
        width_ms: HOUR_MS,
        source: "rollup_1m",
        source_is_raw: false,
    },
    Level {
        name: "1d",
        table: "rollup_1d",
        width_ms: DAY_MS,
        source: "rollup_1h",
        source_is_raw: false,
    },
];

/// The start of the bucket that holds `ts` (floors toward −∞ for negative times).
pub fn bucket_start(ts_ms: i64, width_ms: i64) -> i64 {
    ts_ms.div_euclid(width_ms) * width_ms
}

/// The query reading one series' points at `resolution`: time, mean, min, max, bound as $1
/// the series id, $2 and $3 the first and last time (inclusive), oldest first. `table` names
/// the engine's table for each SQLite table name (both engines read through this one text).
pub fn points_sql(resolution: Resolution, table: impl Fn(&'static str) -> &'static str) -> String {
    let (name, time, values) = match resolution {
        Resolution::Raw => ("samples_raw", "ts", "value, value, value"),
        Resolution::Minute => ("rollup_1m", "bucket", "avg, min, max"),
        Resolution::Hour => ("rollup_1h", "bucket", "avg, min, max"),
        Resolution::Day => ("rollup_1d", "bucket", "avg, min, max"),
    };
    format!(
        "SELECT {time}, {values} FROM {t} WHERE series_id = $1 AND {time} >= $2 \
         AND {time} <= $3 ORDER BY {time}",
        t = table(name)
    )
}

/// The range of buckets to compute next: from the level's watermark up to the last bucket that
/// its source has completely covered. `None` when nothing new is complete.
///
/// `source_complete_until` is where the source's data is final: for raw samples, now minus a lag
/// that lets in-flight samples land; for a rollup, that rollup's own watermark.
pub fn next_window(
    done_until: i64,
    source_complete_until: i64,
    width_ms: i64,
) -> Option<(i64, i64)> {
    let end = bucket_start(source_complete_until, width_ms);
    (end > done_until).then_some((done_until, end))
}

/// Cut-off times (ms) before which each table's rows are deleted; `None` keeps them forever.
pub fn retention_cutoffs(config: &HistoryConfig, now_ms: i64) -> [(&'static str, Option<i64>); 4] {
    let hours = |h: u64| (h as i64).saturating_mul(HOUR_MS);
    let days = |d: u64| (d as i64).saturating_mul(DAY_MS);
    let cut = |age: i64| Some(now_ms.saturating_sub(age));
    [
        ("samples_raw", cut(hours(config.raw_retention_hours))),
        ("rollup_1m", cut(days(config.minute_retention_days))),
        ("rollup_1h", cut(days(config.hour_retention_days))),
        (
            "rollup_1d",
            (config.day_retention_days > 0)
                .then(|| now_ms.saturating_sub(days(config.day_retention_days))),
        ),
    ]
}

/// The `(series, minute)` pairs of `(series, ts)` samples older than the minute level's
/// watermark `done_until`: minutes already rolled up without them (a replayed buffer).
/// Sorted, each pair once.
pub fn late_minutes(
    samples: impl IntoIterator<Item = (i64, i64)>,
    done_until: i64,
) -> Vec<(i64, i64)> {
    let mut late: Vec<(i64, i64)> = samples
        .into_iter()
        .filter(|&(_, ts)| ts < done_until)
        .map(|(id, ts)| (id, bucket_start(ts, MINUTE_MS)))
        .collect();
    late.sort_unstable();
    late.dedup();
    late
}

/// The rollup at `bucket` of `minutes` as the hour level computes it: the count-weighted mean,
/// the lowest minimum, the highest maximum, the summed count. `None` for no minutes.
pub fn combine(bucket: i64, minutes: &[MinuteRow]) -> Option<MinuteRow> {
    let first = minutes.first()?;
    let count: i64 = minutes.iter().map(|m| m.count).sum();
    let weighted: f64 = minutes.iter().map(|m| m.avg * m.count as f64).sum();
    Some(MinuteRow {
        bucket,
        avg: if count > 0 {
            weighted / count as f64
        } else {
            first.avg
        },
        min: minutes.iter().map(|m| m.min).fold(f64::INFINITY, f64::min),
        max: minutes
            .iter()
            .map(|m| m.max)
            .fold(f64::NEG_INFINITY, f64::max),
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_samples_name_their_minutes_once() {
        let done = 10 * HOUR_MS;
        let late = late_minutes(
            [
                (2, done - 1),
                (1, done - MINUTE_MS + 5),
                (2, done - 30_000),
                (1, done),
                (1, done + 5_000),
                (1, 5 * HOUR_MS + 1),
            ],
            done,
        );
        assert_eq!(
            late,
            vec![
                (1, 5 * HOUR_MS),
                (1, done - MINUTE_MS),
                (2, done - MINUTE_MS)
            ]
        );
        assert!(late_minutes([(1, done)], done).is_empty());
    }

    #[test]
    fn minutes_combine_as_the_hour_level_does() {
        let m = |bucket, avg, min, max, count| MinuteRow {
            bucket,
            avg,
            min,
            max,
            count,
        };
        let hour = combine(
            HOUR_MS,
            &[
                m(HOUR_MS, 5.5, 0.0, 11.0, 12),
                m(HOUR_MS + MINUTE_MS, 105.5, 100.0, 111.0, 12),
                m(HOUR_MS + 2 * MINUTE_MS, 1.0, 1.0, 1.0, 0),
            ],
        );
        assert_eq!(hour, Some(m(HOUR_MS, 55.5, 0.0, 111.0, 24)));
        assert_eq!(combine(HOUR_MS, &[]), None);
    }

    #[test]
    fn buckets_floor() {
        assert_eq!(bucket_start(119_999, MINUTE_MS), 60_000);
        assert_eq!(bucket_start(120_000, MINUTE_MS), 120_000);
        assert_eq!(bucket_start(-1, MINUTE_MS), -60_000);
    }

    #[test]
    fn only_complete_buckets_are_rolled_up() {
        // Source final up to 10:02:30 → buckets 10:00 and 10:01 are complete.
        let ten = 10 * HOUR_MS;
        assert_eq!(
            next_window(ten, ten + 2 * MINUTE_MS + 30_000, MINUTE_MS),
            Some((ten, ten + 2 * MINUTE_MS))
        );
        // Nothing new.
        assert_eq!(
            next_window(ten + 2 * MINUTE_MS, ten + 2 * MINUTE_MS + 59_999, MINUTE_MS),
            None
        );
        // Hours follow the minute watermark.
        assert_eq!(next_window(ten, ten + 59 * MINUTE_MS, HOUR_MS), None);
        assert_eq!(
            next_window(ten, ten + HOUR_MS, HOUR_MS),
            Some((ten, ten + HOUR_MS))
        );
    }

    #[test]
    fn retention_defaults() {
        let now = 1_000 * DAY_MS;
        let c = retention_cutoffs(&HistoryConfig::default(), now);
        assert_eq!(c[0], ("samples_raw", Some(now - 48 * HOUR_MS)));
        assert_eq!(c[1], ("rollup_1m", Some(now - 30 * DAY_MS)));
        assert_eq!(c[2], ("rollup_1h", Some(now - 730 * DAY_MS)));
        assert_eq!(c[3], ("rollup_1d", None));
    }
}
