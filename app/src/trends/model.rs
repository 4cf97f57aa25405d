//! Trends: named, allow-listed charts (disk, memory, steal, I/O, containers) with their series,
//! where they were read from, and a projection of the primary series. Also the window rules
//! (`range=7d` or `from`/`to`) and the anomaly-day flags, as pure functions.

use serde::{Deserialize, Serialize};

use crate::shared::range::{parse_range, RangeError, Resolution, MAX_RANGE_SECS};
use crate::trends::projection::Projection;
use crate::vitals::{HistoryPoint, Unit};

/// At most this many points per series reach the screen (downsampled with LTTB).
pub const MAX_POINTS: usize = 1_000;

/// The narrowest window a chart zooms to; a narrower one is widened around its middle.
pub const MIN_WINDOW_MS: i64 = 60_000;

/// Where a trend's points came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrendSource {
    Sqlite,
    /// Fleet hosts' history shared by hub replicas on PostgreSQL.
    Postgres,
    Prometheus,
}

impl TrendSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TrendSource::Sqlite => "SQLite history",
            TrendSource::Postgres => "PostgreSQL history",
            TrendSource::Prometheus => "Prometheus",
        }
    }
}

/// One line of a trend chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrendSeries {
    /// The stored series key, e.g. `disk_used_pct:/`.
    pub key: String,
    pub label: String,
    pub unit: Unit,
    pub points: Vec<HistoryPoint>,
}

/// A level drawn on the chart and projected to, e.g. "warn 85 %".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrendLevel {
    pub name: String,
    pub value: f64,
}

/// A marked stretch of the chart, e.g. a day on which a container wrote more than the limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrendFlag {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Which series it concerns (its label).
    pub series: String,
    pub text: String,
    /// An anomaly (a shaded stretch) or an event (a marked moment, such as a cleanup run).
    #[serde(default)]
    pub kind: FlagKind,
}

/// What a flag marks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    #[default]
    Anomaly,
    Event,
}

/// A trend chart's data: `GET /api/v1/trend/{name}?range=…` (or `?from=…&to=…`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub name: String,
    pub title: String,
    /// The range asked for (`7d`), or `custom` for a from/to window.
    pub range: String,
    pub source: TrendSource,
    pub resolution: Resolution,
    /// The window drawn, ms since the epoch.
    pub start_ms: i64,
    pub end_ms: i64,
    /// Seconds between points: the Prometheus step, or the rollup width (`None` for raw
    /// samples, one per collection interval).
    pub step_secs: Option<u64>,
    pub series: Vec<TrendSeries>,
    pub levels: Vec<TrendLevel>,
    /// Projection of the first series toward `levels` over the visible window.
    pub projection: Projection,
    /// Marked stretches (anomaly days); empty for most trends.
    #[serde(default)]
    pub flags: Vec<TrendFlag>,
    /// Why some of the data is not drawn (e.g. more series than a chart shows).
    #[serde(default)]
    pub note: Option<String>,
    /// When Steward started keeping history (SQLite source): windows before it hold nothing.
    #[serde(default)]
    pub history_since_ms: Option<i64>,
    /// The collector behind this trend is down, in words with since when (e.g. "Docker
    /// unreachable since …"): why new points are missing.
    #[serde(default)]
    pub source_down: Option<String>,
    /// The range started before the history, so the window was fitted to it.
    #[serde(default)]
    pub fitted: bool,
    /// What grows fastest, for the disk trend ("container logs of api grow 1.8 GB/day — 74 %
    /// of the growth"), with the cleanup step that frees it.
    #[serde(default)]
    pub growth: Option<String>,
}

/// The shortest window a range is fitted down to.
pub const FIT_MIN_MS: i64 = 10 * 60_000;

/// Fits a range window ("last 7d") to the history: when Steward is younger than the range,
/// the window starts where its history starts (keeping at least [`FIT_MIN_MS`]), so the data is
/// not a sliver at the right edge. From/to windows are what the user asked for and stay.
pub fn fit_to_history(w: Window, since_ms: Option<i64>) -> Window {
    match since_ms {
        Some(since) if w.relative && since > w.start_ms => Window {
            start_ms: since.min(w.end_ms - FIT_MIN_MS).max(w.start_ms),
            ..w
        },
        _ => w,
    }
}

/// Why a trend's window holds no points, in words: the collector is down, the window lies
/// before Steward's history, or the history is still filling.
pub fn empty_reason(t: &Trend, zone: crate::shared::zone::Zone) -> String {
    if let Some(down) = &t.source_down {
        return format!("No data: {down}.");
    }
    match t.history_since_ms {
        Some(since) if t.end_ms <= since => format!(
            "No data: this window is before Steward started keeping history on {}.",
            zone.datetime(since)
        ),
        Some(since) if t.start_ms < since => format!(
            "No data yet: Steward has kept history since {}, and this trend has no point since then.",
            zone.datetime(since)
        ),
        _ => "No data in this window yet (the collector is running; history fills as rounds are stored).".into(),
    }
}

/// The allow-listed trend names, in the order the trends page shows them.
pub const TREND_NAMES: &[&str] = &[
    "disk",
    "memory",
    "steal",
    "io",
    "containers",
    "container_io",
    "disk_items",
    "model_latency",
    "model_queue",
    "model_tokens",
    "gpu_util",
    "gpu_vram",
];

/// The trend a score dimension's drill-down links to.
pub fn trend_for_dimension(id: crate::overview::score::DimensionId) -> Option<&'static str> {
    use crate::overview::score::DimensionId::*;
    match id {
        CpuEfficiency => Some("steal"),
        MemoryPressure => Some("memory"),
        DiskHealth => Some("disk"),
        ServiceHealth => Some("containers"),
        MaintenanceHygiene | LlmReadiness => None,
    }
}

/// The window a trend covers: the last `range` before now, or an absolute from/to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
    /// False for a from/to window (zoomed or custom), which does not follow "now".
    pub relative: bool,
}

impl Window {
    pub fn span_secs(&self) -> u64 {
        ((self.end_ms - self.start_ms) / 1000).max(1) as u64
    }

    /// The stored resolution for this window's length.
    pub fn resolution(&self) -> Resolution {
        Resolution::for_range(self.span_secs())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WindowError {
    #[error(transparent)]
    Range(#[from] RangeError),
    #[error("give both `from` and `to` (ms since the epoch), or neither")]
    HalfOpen,
    #[error("`from` ({from}) must be before `to` ({to})")]
    Backwards { from: i64, to: i64 },
    #[error("`from`/`to` span more than the maximum of 10y")]
    TooLong,
    #[error("`from`/`to` lie in the future")]
    Future,
    #[error("`from` ({0}) is before 1970-01-01; `from`/`to` are ms since the Unix epoch")]
    BeforeEpoch(i64),
}

/// Resolves a trend query's window. Rules: `from` and `to` (ms) together, else `range`
/// (default `default_range`) ending now. `to` after now is clamped to now; a window narrower
/// than [`MIN_WINDOW_MS`] is widened around its middle; longer than 10 years, or starting
/// before the Unix epoch, is refused.
pub fn resolve_window(
    range: Option<&str>,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    default_range: &str,
    now_ms: i64,
) -> Result<Window, WindowError> {
    match (from_ms, to_ms) {
        (None, None) => {
            let secs = parse_range(range.unwrap_or(default_range))?;
            Ok(Window {
                start_ms: now_ms - secs as i64 * 1000,
                end_ms: now_ms,
                relative: true,
            })
        }
        (Some(from), Some(to)) => {
            // Negative times would overflow the arithmetic below; nothing is recorded there.
            if from < 0 {
                return Err(WindowError::BeforeEpoch(from));
            }
            if from >= to {
                return Err(WindowError::Backwards { from, to });
            }
            if from >= now_ms {
                return Err(WindowError::Future);
            }
            let to = to.min(now_ms);
            if (to - from) as u64 > MAX_RANGE_SECS * 1000 {
                return Err(WindowError::TooLong);
            }
            let (mut start, mut end) = (from, to);
            if end - start < MIN_WINDOW_MS {
                let mid = start + (end - start) / 2;
                start = mid - MIN_WINDOW_MS / 2;
                end = start + MIN_WINDOW_MS;
                if end > now_ms {
                    end = now_ms;
                    start = end - MIN_WINDOW_MS;
                }
            }
            Ok(Window {
                start_ms: start,
                end_ms: end,
                relative: false,
            })
        }
        _ => Err(WindowError::HalfOpen),
    }
}

const DAY_MS: i64 = 86_400_000;

/// UTC days on which a rate series (bytes/s) averaged more than `limit_per_day` bytes per day.
/// Each point's average counts for the time until the next point; a day's total is its average
/// rate over the time covered × one day, so a partly covered day is judged on what is known.
pub fn anomaly_days(points: &[HistoryPoint], limit_per_day: f64) -> Vec<(i64, f64)> {
    let mut days: Vec<(i64, f64, i64)> = Vec::new(); // (day start, bytes, ms covered)
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let dt = b.ts_ms - a.ts_ms;
        if dt <= 0 || !a.avg.is_finite() {
            continue;
        }
        let day = a.ts_ms.div_euclid(DAY_MS) * DAY_MS;
        match days.last_mut() {
            Some(d) if d.0 == day => {
                d.1 += a.avg * dt as f64 / 1000.0;
                d.2 += dt;
            }
            _ => days.push((day, a.avg * dt as f64 / 1000.0, dt)),
        }
    }
    days.into_iter()
        .filter(|d| d.2 > 0)
        .map(|(day, bytes, covered)| (day, bytes * DAY_MS as f64 / covered as f64))
        .filter(|(_, per_day)| *per_day > limit_per_day)
        .collect()
}

/// Flags for every series' anomaly days.
pub fn anomaly_flags(series: &[TrendSeries], limit_per_day: f64) -> Vec<TrendFlag> {
    series
        .iter()
        .flat_map(|s| {
            anomaly_days(&s.points, limit_per_day)
                .into_iter()
                .map(|(day, per_day)| TrendFlag {
                    start_ms: day,
                    end_ms: day + DAY_MS,
                    series: s.label.clone(),
                    text: format!(
                        "{} wrote {} that day (limit {})",
                        s.label,
                        crate::shared::format::bytes(per_day),
                        crate::shared::format::bytes(limit_per_day)
                    ),
                    kind: FlagKind::Anomaly,
                })
        })
        .collect()
}

/// The point of `points` nearest to `ts_ms` (points sorted by time), for the hover readout.
pub fn nearest(points: &[HistoryPoint], ts_ms: i64) -> Option<HistoryPoint> {
    let i = points.partition_point(|p| p.ts_ms < ts_ms);
    let before = i.checked_sub(1).and_then(|j| points.get(j));
    match (before, points.get(i)) {
        (Some(a), Some(b)) => Some(if ts_ms - a.ts_ms <= b.ts_ms - ts_ms {
            *a
        } else {
            *b
        }),
        (a, b) => a.or(b).copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_fits_a_young_history_and_custom_windows_stay() {
        let hour = 3_600_000;
        let week = Window {
            start_ms: 0,
            end_ms: 168 * hour,
            relative: true,
        };
        let since = Some(166 * hour);
        assert_eq!(
            fit_to_history(week, since).start_ms,
            166 * hour,
            "two hours, not a sliver"
        );
        let just_started = Some(168 * hour - 1000);
        assert_eq!(
            fit_to_history(week, just_started).start_ms,
            168 * hour - FIT_MIN_MS,
            "at least ten minutes"
        );
        assert_eq!(
            fit_to_history(week, Some(-5)),
            week,
            "older history: the whole range"
        );
        let custom = Window {
            relative: false,
            ..week
        };
        assert_eq!(fit_to_history(custom, since), custom);
    }

    fn empty_reason_utc(t: &Trend) -> String {
        empty_reason(t, crate::shared::zone::Zone::UTC)
    }

    #[test]
    fn an_empty_window_says_why() {
        let t = |start_ms, end_ms, since: Option<i64>, down: Option<&str>| Trend {
            name: "disk".into(),
            title: "Disk".into(),
            range: "custom".into(),
            source: TrendSource::Sqlite,
            resolution: Resolution::Raw,
            start_ms,
            end_ms,
            step_secs: None,
            series: vec![],
            levels: vec![],
            projection: crate::trends::projection::Projection::NoTrend {
                reason: String::new(),
                fit: None,
            },
            flags: vec![],
            note: None,
            history_since_ms: since,
            source_down: down.map(str::to_string),
            fitted: false,
            growth: None,
        };
        let day = 86_400_000;
        assert!(
            empty_reason_utc(&t(0, day, Some(2 * day), None)).starts_with(
                "No data: this window is before Steward started keeping history on 1970-01-03"
            )
        );
        assert!(empty_reason_utc(&t(0, 3 * day, Some(2 * day), None)).starts_with("No data yet"));
        assert_eq!(
            empty_reason_utc(&t(
                0,
                day,
                None,
                Some("Docker unreachable since 1970-01-01 00:00:00 UTC")
            )),
            "No data: Docker unreachable since 1970-01-01 00:00:00 UTC."
        );
        assert!(empty_reason_utc(&t(3 * day, 4 * day, Some(day), None))
            .contains("collector is running"));
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn window_from_range_or_from_to() {
        let w = resolve_window(None, None, None, "7d", NOW).unwrap();
        assert_eq!((w.end_ms - w.start_ms, w.relative), (7 * DAY_MS, true));
        let w = resolve_window(Some("1h"), None, None, "7d", NOW).unwrap();
        assert_eq!(w.resolution(), Resolution::Raw);
        let w =
            resolve_window(None, Some(NOW - 3 * DAY_MS), Some(NOW - DAY_MS), "7d", NOW).unwrap();
        assert_eq!(
            w,
            Window {
                start_ms: NOW - 3 * DAY_MS,
                end_ms: NOW - DAY_MS,
                relative: false
            }
        );
        assert_eq!(w.resolution(), Resolution::Minute);
        // A `to` in the future is clamped to now.
        let w = resolve_window(None, Some(NOW - 1_000_000), Some(NOW + DAY_MS), "7d", NOW).unwrap();
        assert_eq!(w.end_ms, NOW);
    }

    #[test]
    fn narrow_windows_are_widened_and_bad_ones_refused() {
        let w = resolve_window(None, Some(NOW - 100_000), Some(NOW - 90_000), "7d", NOW).unwrap();
        assert_eq!(w.end_ms - w.start_ms, MIN_WINDOW_MS);
        assert_eq!(w.start_ms + MIN_WINDOW_MS / 2, NOW - 95_000);
        // Widening never reaches past now.
        let w = resolve_window(None, Some(NOW - 10_000), Some(NOW), "7d", NOW).unwrap();
        assert_eq!((w.start_ms, w.end_ms), (NOW - MIN_WINDOW_MS, NOW));

        assert_eq!(
            resolve_window(None, Some(5), None, "7d", NOW),
            Err(WindowError::HalfOpen)
        );
        assert!(matches!(
            resolve_window(None, Some(NOW - 5), Some(NOW - 10), "7d", NOW),
            Err(WindowError::Backwards { .. })
        ));
        assert_eq!(
            resolve_window(None, Some(NOW + 5), Some(NOW + 10), "7d", NOW),
            Err(WindowError::Future)
        );
        assert_eq!(
            resolve_window(None, Some(0), Some(NOW - 1), "7d", NOW),
            Err(WindowError::TooLong)
        );
        assert!(matches!(
            resolve_window(Some("7x"), None, None, "7d", NOW),
            Err(WindowError::Range(_))
        ));
        // Extreme values are refused, never wrapped into a window that ends before it starts.
        assert_eq!(
            resolve_window(None, Some(i64::MIN), Some(i64::MIN + 100), "7d", NOW),
            Err(WindowError::BeforeEpoch(i64::MIN))
        );
        let w = resolve_window(None, Some(NOW - 1_000), Some(i64::MAX), "7d", NOW).unwrap();
        assert!(w.start_ms < w.end_ms && w.end_ms == NOW);
    }

    fn rate(points: &[(i64, f64)]) -> Vec<HistoryPoint> {
        points
            .iter()
            .map(|&(ts_ms, avg)| HistoryPoint {
                ts_ms,
                avg,
                min: avg,
                max: avg,
            })
            .collect()
    }

    #[test]
    fn anomaly_days_integrate_the_rate() {
        const HOUR: i64 = 3_600_000;
        let day0 = NOW / DAY_MS * DAY_MS;
        // Day 0 at 100 kB/s (8.64 GB/day), day 1 at 200 kB/s (17.28 GB/day), hourly points.
        let mut pts: Vec<(i64, f64)> = (0..24).map(|h| (day0 + h * HOUR, 100e3)).collect();
        pts.extend((24..48).map(|h| (day0 + h * HOUR, 200e3)));
        pts.push((day0 + 48 * HOUR, 0.0));
        let days = anomaly_days(&rate(&pts), 10e9);
        assert_eq!(days.len(), 1, "{days:?}");
        assert_eq!(days[0].0, day0 + DAY_MS);
        assert!((days[0].1 - 17.28e9).abs() < 1e3, "{days:?}");
        // A day covered for 6 hours at 200 kB/s is judged at its rate: 17.28 GB/day.
        let half = rate(&[(day0, 200e3), (day0 + 6 * HOUR, 200e3)]);
        assert_eq!(anomaly_days(&half, 10e9).len(), 1);
        assert!(
            anomaly_days(&rate(&[(day0, 1e9)]), 10e9).is_empty(),
            "one point covers no time"
        );

        let series = vec![TrendSeries {
            key: "container_write_bps:db".into(),
            label: "db".into(),
            unit: Unit::BytesPerSecond,
            points: rate(&pts),
        }];
        let flags = anomaly_flags(&series, 10e9);
        assert_eq!(flags.len(), 1);
        assert_eq!(flags[0].text, "db wrote 17.3 GB that day (limit 10.0 GB)");
    }

    #[test]
    fn nearest_point_for_hover() {
        let pts = rate(&[(10, 1.0), (20, 2.0), (40, 4.0)]);
        assert_eq!(nearest(&pts, 0).unwrap().avg, 1.0);
        assert_eq!(nearest(&pts, 14).unwrap().avg, 1.0);
        assert_eq!(nearest(&pts, 16).unwrap().avg, 2.0);
        assert_eq!(nearest(&pts, 31).unwrap().avg, 4.0);
        assert_eq!(nearest(&pts, 99).unwrap().avg, 4.0);
        assert!(nearest(&[], 5).is_none());
    }
}
