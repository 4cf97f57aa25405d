//! Named trends read from SQLite history: allow-listed series, downsampled for the screen, with
//! a least-squares projection of the primary series over the visible window.

use app::downsample::lttb_indices;
use app::model::{HistoryPoint, Unit};
use app::projection::{project, ProjectionRules};
use app::range::{parse_range, Resolution};
use app::trend::{Trend, TrendLevel, TrendSeries, TrendSource, MAX_POINTS, TREND_NAMES};

use crate::config::Config;
use crate::history::{HistoryError, HistoryStore};
use crate::prometheus::parse::choose_step;
use crate::prometheus::{PromError, PrometheusClient};

#[derive(Debug, thiserror::Error)]
pub enum TrendError {
    #[error("unknown trend {0:?}; known trends: {names}", names = TREND_NAMES.join(", "))]
    Unknown(String),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    Prometheus(#[from] PromError),
}

/// One trend's definition: which stored series it draws and which levels it projects to.
pub struct TrendDef {
    pub name: &'static str,
    pub title: &'static str,
    pub series: Vec<(String, &'static str, Unit)>,
    /// The PromQL for each series (node_exporter's metric names), in the same order.
    pub promql: Vec<String>,
    pub levels: Vec<TrendLevel>,
}

/// Escapes a value for a PromQL string literal.
fn promql_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn level(name: &str, value: Option<f64>) -> Option<TrendLevel> {
    value.map(|value| TrendLevel {
        name: name.to_string(),
        value,
    })
}

/// The warn and crit levels of a threshold, with any extra levels before them.
fn levels(extra: Vec<TrendLevel>, t: app::thresholds::Threshold) -> Vec<TrendLevel> {
    extra
        .into_iter()
        .chain(level("warn", t.warn))
        .chain(level("crit", t.crit))
        .collect()
}

/// The definition of a named trend, from the configured thresholds and score mount.
pub fn definition(name: &str, config: &Config) -> Result<TrendDef, TrendError> {
    let t = &config.thresholds;
    Ok(match name {
        "disk" => TrendDef {
            name: "disk",
            title: "Disk used",
            series: vec![(
                app::model::series_key("disk_used_pct", Some(&config.score.disk_mount)),
                "used %",
                Unit::Percent,
            )],
            promql: vec![format!(
                "max(100 * (1 - node_filesystem_avail_bytes{{mountpoint=\"{m}\"}} / node_filesystem_size_bytes{{mountpoint=\"{m}\"}}))",
                m = promql_string(&config.score.disk_mount)
            )],
            // 55 % is where the score's disk dimension drops to 5 points (seed §4.2).
            levels: levels(level("score band", Some(55.0)).into_iter().collect(), t.disk_used_pct),
        },
        "memory" => TrendDef {
            name: "memory",
            title: "Swap used and memory available",
            // Swap first: its slope is the leak signal the projection reads.
            series: vec![
                ("swap_used_bytes".into(), "swap used", Unit::Bytes),
                ("mem_available_bytes".into(), "available", Unit::Bytes),
            ],
            promql: vec![
                "sum(node_memory_SwapTotal_bytes - node_memory_SwapFree_bytes)".into(),
                "sum(node_memory_MemAvailable_bytes)".into(),
            ],
            levels: Vec::new(),
        },
        "steal" => TrendDef {
            name: "steal",
            title: "CPU steal",
            series: vec![("cpu_steal_pct".into(), "steal %", Unit::Percent)],
            promql: vec![
                "100 * sum(rate(node_cpu_seconds_total{mode=\"steal\"}[5m])) / sum(rate(node_cpu_seconds_total[5m]))".into(),
            ],
            levels: levels(Vec::new(), t.cpu_steal_pct),
        },
        "io" => TrendDef {
            name: "io",
            title: "Block writes",
            series: vec![("disk_write_bps".into(), "write B/s", Unit::BytesPerSecond)],
            promql: vec!["sum(rate(node_disk_written_bytes_total[5m]))".into()],
            levels: Vec::new(),
        },
        other => return Err(TrendError::Unknown(other.to_string())),
    })
}

/// Keeps at most [`MAX_POINTS`] points, chosen by LTTB on the averages.
pub fn downsample(points: Vec<HistoryPoint>) -> Vec<HistoryPoint> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let xy: Vec<(i64, f64)> = points.iter().map(|p| (p.ts_ms, p.avg)).collect();
    lttb_indices(&xy, MAX_POINTS)
        .into_iter()
        .map(|i| points[i])
        .collect()
}

/// Where and how a trend's points were read.
struct Window {
    source: TrendSource,
    resolution: Resolution,
    start_ms: i64,
    end_ms: i64,
    step_secs: Option<u64>,
}

/// Projects the first series and assembles the answer.
fn finish(def: TrendDef, range: &str, window: Window, series: Vec<TrendSeries>) -> Trend {
    let primary: Vec<(i64, f64)> = series
        .first()
        .map(|s| s.points.iter().map(|p| (p.ts_ms, p.avg)).collect())
        .unwrap_or_default();
    let values: Vec<f64> = def.levels.iter().map(|l| l.value).collect();
    let projection = project(
        &primary,
        &values,
        window.end_ms,
        &ProjectionRules::default(),
    );
    Trend {
        name: def.name.to_string(),
        title: def.title.to_string(),
        range: range.trim().to_string(),
        source: window.source,
        resolution: window.resolution,
        start_ms: window.start_ms,
        end_ms: window.end_ms,
        step_secs: window.step_secs,
        series,
        levels: def.levels,
        projection,
    }
}

/// Reads a trend from Prometheus-compatible storage: one `query_range` per series, with a step
/// that gives about [`MAX_POINTS`] points and never breaks Prometheus's 11,000-point limit.
pub async fn prometheus_trend(
    client: &PrometheusClient,
    mut def: TrendDef,
    range: &str,
    now_ms: i64,
    min_step_secs: u64,
) -> Result<Trend, TrendError> {
    let secs = parse_range(range).map_err(HistoryError::from)?;
    // range / step + 1 points must fit in MAX_POINTS, so nothing is downsampled away.
    let step = choose_step(secs, MAX_POINTS as u64 - 1, min_step_secs);
    let end = now_ms / 1000;
    let start = end - secs as i64;
    let mut series = Vec::with_capacity(def.series.len());
    let promql = std::mem::take(&mut def.promql);
    for ((key, label, unit), promql) in std::mem::take(&mut def.series).into_iter().zip(&promql) {
        let result = client.query_range(promql, start, end, step).await?;
        let points = result
            .into_iter()
            .next()
            .map(|s| s.points)
            .unwrap_or_default();
        series.push(TrendSeries {
            key,
            label: label.to_string(),
            unit,
            points: downsample(points),
        });
    }
    let window = Window {
        source: TrendSource::Prometheus,
        resolution: Resolution::for_range(secs),
        start_ms: start * 1000,
        end_ms: end * 1000,
        step_secs: Some(step),
    };
    Ok(finish(def, range, window, series))
}

/// Reads a trend from SQLite. A defined series with nothing stored yet is an empty line.
pub async fn sqlite_trend(
    store: &HistoryStore,
    mut def: TrendDef,
    range: &str,
    now_ms: i64,
) -> Result<Trend, TrendError> {
    let secs = parse_range(range).map_err(HistoryError::from)?;
    let resolution = Resolution::for_range(secs);
    let mut series = Vec::with_capacity(def.series.len());
    for (key, label, unit) in std::mem::take(&mut def.series) {
        let points = match store.query(&key, range, now_ms).await {
            Ok(h) => h.points,
            Err(HistoryError::UnknownMetric(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        series.push(TrendSeries {
            key,
            label: label.to_string(),
            unit,
            points: downsample(points),
        });
    }
    let window = Window {
        source: TrendSource::Sqlite,
        resolution,
        start_ms: now_ms - secs as i64 * 1000,
        end_ms: now_ms,
        step_secs: resolution.bucket_ms().map(|ms| ms as u64 / 1000),
    };
    Ok(finish(def, range, window, series))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Sample;

    #[test]
    fn names_are_allow_listed() {
        let c = Config::default();
        for name in TREND_NAMES {
            assert!(definition(name, &c).is_ok(), "{name}");
        }
        let e = definition("rm -rf", &c).err().unwrap().to_string();
        assert!(e.contains("known trends: disk, memory, steal, io"), "{e}");
        let disk = definition("disk", &c).unwrap();
        assert_eq!(disk.series[0].0, "disk_used_pct:/");
        let levels: Vec<f64> = disk.levels.iter().map(|l| l.value).collect();
        assert_eq!(levels, [55.0, 85.0, 95.0]);
    }

    #[tokio::test]
    async fn year_of_history_is_downsampled_and_projected() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::open(&dir.path().join("s.db")).await.unwrap();
        // 400 days of hourly disk samples rising 0.05 %/day from 30 %.
        const HOUR: i64 = 3_600_000;
        let t0 = 1_700_000_000_000_i64 / HOUR * HOUR;
        let samples: Vec<Sample> = (0..400 * 24)
            .map(|h| Sample {
                series: "disk_used_pct:/".into(),
                ts_ms: t0 + h * HOUR,
                value: 30.0 + 0.05 * h as f64 / 24.0,
            })
            .collect();
        store.write(&samples).await.unwrap();
        let now = t0 + 400 * 24 * HOUR;
        store.rollup(now).await.unwrap();

        let c = Config::default();
        let year = sqlite_trend(&store, definition("disk", &c).unwrap(), "1y", now)
            .await
            .unwrap();
        assert_eq!(year.resolution, Resolution::Day);
        assert!(year.series[0].points.len() <= MAX_POINTS);
        assert!(
            year.series[0].points.len() >= 360,
            "{}",
            year.series[0].points.len()
        );
        let month = sqlite_trend(&store, definition("disk", &c).unwrap(), "30d", now)
            .await
            .unwrap();
        assert_eq!(month.resolution, Resolution::Hour);
        // 30 days of hourly rollups = 720 points: under the cap, kept as they are.
        assert_eq!(month.series[0].points.len(), 720);
        match month.projection {
            app::projection::Projection::Rising { fit, crossings } => {
                assert!((fit.slope_per_day - 0.05).abs() < 1e-6, "{fit:?}");
                // Now at 50 %: 55 % in 100 days, 85 % in 700 days.
                assert!((crossings[0].in_days - 100.0).abs() < 0.1, "{crossings:?}");
                assert!((crossings[1].in_days - 700.0).abs() < 0.5, "{crossings:?}");
            }
            other => panic!("{other:?}"),
        }
        // A known series with no data yet is an empty line and "too few points".
        let steal = sqlite_trend(&store, definition("steal", &c).unwrap(), "7d", now)
            .await
            .unwrap();
        assert!(steal.series[0].points.is_empty());
        assert!(matches!(
            steal.projection,
            app::projection::Projection::NoTrend { .. }
        ));
    }

    #[test]
    fn downsampling_caps_points() {
        let pts: Vec<HistoryPoint> = (0..5_000)
            .map(|i| HistoryPoint {
                ts_ms: i,
                avg: i as f64,
                min: 0.0,
                max: 0.0,
            })
            .collect();
        let out = downsample(pts);
        assert_eq!(out.len(), MAX_POINTS);
        assert_eq!(out[0].ts_ms, 0);
        assert_eq!(out[MAX_POINTS - 1].ts_ms, 4_999);
    }
}
