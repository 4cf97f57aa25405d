//! Named trends read from SQLite history or Prometheus: allow-listed series, downsampled for
//! the screen, with a least-squares projection of the primary series over the visible window,
//! and the admin-only "explore" query.

pub mod prometheus;

use app::shared::downsample::lttb_indices;
use app::shared::range::Resolution;
use app::trends::projection::{project, Projection, ProjectionRules};
use app::trends::{
    anomaly_flags, Trend, TrendLevel, TrendSeries, TrendSource, Window, WindowError, MAX_POINTS,
    TREND_NAMES,
};
use app::vitals::metric_def::MetricId;
use app::vitals::{HistoryPoint, Unit};

use crate::config::{Config, HistoryConfig};
use crate::store::history::task::CONTAINER_WRITE_PREFIX;
use crate::store::history::{HistoryError, HostHistory};
use crate::trends::prometheus::parse::{choose_step, Series};
use crate::trends::prometheus::{PromError, PrometheusClient};

/// History keys of the disk culprits (`disk_culprit_bytes:{item}`).
const DISK_ITEM_PREFIX: &str = "disk_culprit_bytes:";

/// A chart shows at most this many lines; the rest are named in the trend's note.
pub const MAX_SERIES: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum TrendError {
    #[error("unknown trend {0:?}; known trends: {names}", names = TREND_NAMES.join(", "))]
    Unknown(String),
    #[error(transparent)]
    Window(#[from] WindowError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    Prometheus(#[from] PromError),
    #[error("{0}")]
    Explore(String),
    #[error("trend {0:?} is not kept for fleet hosts; their trends: {names}", names = HOST_TRENDS.join(", "))]
    NotForHosts(String),
    #[error("no fleet host {0:?}")]
    UnknownHost(String),
}

/// The trends a fleet host's heartbeats feed (its vitals, GPUs and model servers; agents send
/// no container or disk-item series).
pub const HOST_TRENDS: [&str; 9] = [
    "disk",
    "memory",
    "steal",
    "io",
    "gpu_util",
    "gpu_vram",
    "model_latency",
    "model_queue",
    "model_tokens",
];

/// Where one line (or, for a prefix, a family of lines) of a trend is stored.
pub enum Stored {
    /// One series key.
    Key(String),
    /// Every series whose key starts with this; each line is labelled with the rest of its key.
    Prefix(&'static str),
}

/// One line of a trend: where SQLite keeps it and the PromQL that reads it from Prometheus.
pub struct SeriesDef {
    pub stored: Stored,
    pub label: &'static str,
    pub unit: Unit,
    /// PromQL over node_exporter's or Steward's own `/metrics` names.
    pub promql: String,
    /// For a query returning many series: the label that names each line.
    pub prom_label: Option<&'static str>,
}

/// One trend's definition: its lines and the levels the first one is projected to.
pub struct TrendDef {
    pub name: &'static str,
    pub title: &'static str,
    pub series: Vec<SeriesDef>,
    pub levels: Vec<TrendLevel>,
    /// Days above this many bytes (for rate series) are flagged.
    pub flag_limit_per_day: Option<f64>,
    /// Whether the first line is projected (levels or a leak signal make sense for it).
    pub project: bool,
}

impl TrendDef {
    /// The collector whose rounds feed this trend (its first line's metric).
    pub fn source(&self) -> app::vitals::metric_def::Source {
        let key = match self.series.first().map(|s| &s.stored) {
            Some(Stored::Key(k)) => k.as_str(),
            Some(Stored::Prefix(p)) => p,
            None => "",
        };
        app::vitals::metric_def::by_series_key(key)
            .map_or(app::vitals::metric_def::Source::Vitals, |d| d.source)
    }
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
fn levels(extra: Vec<TrendLevel>, t: app::vitals::thresholds::Threshold) -> Vec<TrendLevel> {
    extra
        .into_iter()
        .chain(level("warn", t.warn))
        .chain(level("crit", t.crit))
        .collect()
}

/// One line: a metric (with its label, if any), named `label` on the chart.
fn one(
    metric: MetricId,
    metric_label: Option<&str>,
    label: &'static str,
    promql: impl Into<String>,
) -> SeriesDef {
    SeriesDef {
        stored: Stored::Key(metric.series_key(metric_label)),
        label,
        unit: metric.def().unit,
        promql: promql.into(),
        prom_label: None,
    }
}

/// The definition of a named trend, from the configured thresholds and score mount.
pub fn definition(name: &str, config: &Config) -> Result<TrendDef, TrendError> {
    definition_on(name, config, &config.score.disk_mount)
}

/// The definition of a named trend of the fleet host `host` whose score reads `disk_mount`:
/// its stored series, and PromQL over the families the remote writer sends with its `host`
/// label (not node_exporter's names: a fleet host's samples come from its heartbeats).
pub fn host_definition(
    name: &str,
    config: &Config,
    host: &str,
    disk_mount: &str,
) -> Result<TrendDef, TrendError> {
    if !HOST_TRENDS.contains(&name) {
        definition(name, config)?;
        return Err(TrendError::NotForHosts(name.to_string()));
    }
    let mut def = definition_on(name, config, disk_mount)?;
    for s in &mut def.series {
        s.promql = host_promql(&s.stored, host);
    }
    Ok(def)
}

/// The PromQL reading a stored series of `host` back from remote-written samples, in the
/// metric's own unit. `max` joins the series a host leaves when it changes group.
fn host_promql(stored: &Stored, host: &str) -> String {
    let key = match stored {
        Stored::Key(k) => k.as_str(),
        Stored::Prefix(p) => p,
    };
    let Some(def) = app::vitals::metric_def::by_series_key(key) else {
        return String::new();
    };
    let label = def.label.export_label();
    let mut selector = format!("host=\"{}\"", promql_string(host));
    let wrap = match (stored, key.split_once(':')) {
        (Stored::Key(_), Some((_, l))) => {
            selector.push_str(&format!(",{label}=\"{}\"", promql_string(l)));
            "max".to_string()
        }
        (Stored::Prefix(_), _) => format!("max by ({label})"),
        _ => "max".to_string(),
    };
    def.promql(&selector, &wrap)
}

fn definition_on(name: &str, config: &Config, disk_mount: &str) -> Result<TrendDef, TrendError> {
    let t = &config.thresholds;
    let def = |name, title, series, levels| TrendDef {
        name,
        title,
        series,
        levels,
        flag_limit_per_day: None,
        project: true,
    };
    Ok(match name {
        "disk" => def(
            "disk",
            "Disk used",
            vec![one(
                MetricId::DiskUsedPct,
                Some(disk_mount),
                "used",
                format!(
                    "max(100 * (1 - node_filesystem_avail_bytes{{mountpoint=\"{m}\"}} / node_filesystem_size_bytes{{mountpoint=\"{m}\"}}))",
                    m = promql_string(disk_mount)
                ),
            )],
            // 55 % is where the score's disk dimension drops to 5 points (seed §4.2).
            levels(level("score band", Some(55.0)).into_iter().collect(), t.disk_used_pct),
        ),
        // Swap first: its slope is the leak signal the projection reads.
        "memory" => def(
            "memory",
            "Swap used and memory available",
            vec![
                one(
                    MetricId::SwapUsedBytes,
                    None,
                    "swap used",
                    "sum(node_memory_SwapTotal_bytes - node_memory_SwapFree_bytes)",
                ),
                one(
                    MetricId::MemAvailableBytes,
                    None,
                    "available",
                    "sum(node_memory_MemAvailable_bytes)",
                ),
            ],
            Vec::new(),
        ),
        "steal" => def(
            "steal",
            "CPU steal",
            vec![one(
                MetricId::CpuStealPct,
                None,
                "steal",
                "100 * sum(rate(node_cpu_seconds_total{mode=\"steal\"}[5m])) / sum(rate(node_cpu_seconds_total[5m]))",
            )],
            levels(Vec::new(), t.cpu_steal_pct),
        ),
        "io" => def(
            "io",
            "Block writes (host)",
            vec![one(
                MetricId::DiskWriteBps,
                None,
                "written",
                "sum(rate(node_disk_written_bytes_total[5m]))",
            )],
            Vec::new(),
        ),
        "containers" => TrendDef {
            project: false,
            ..def(
                "containers",
                "Unhealthy containers",
                vec![one(
                    MetricId::ContainersUnhealthy,
                    None,
                    "unhealthy",
                    "max(steward_containers_unhealthy)",
                )],
                Vec::new(),
            )
        },
        "container_io" => TrendDef {
            project: false,
            flag_limit_per_day: Some(config.docker.block_write_limit_per_day as f64),
            ..def(
                "container_io",
                "Block writes per container",
                vec![SeriesDef {
                    stored: Stored::Prefix(CONTAINER_WRITE_PREFIX),
                    label: "written",
                    unit: MetricId::ContainerWriteBps.def().unit,
                    promql: format!(
                        "topk({MAX_SERIES}, rate(steward_container_block_write_bytes_total[5m]))"
                    ),
                    prom_label: Some("container"),
                }],
                Vec::new(),
            )
        },
        "disk_items" => TrendDef {
            project: false,
            ..def(
                "disk_items",
                "Disk use by item",
                vec![SeriesDef {
                    stored: Stored::Prefix(DISK_ITEM_PREFIX),
                    label: "item",
                    unit: MetricId::DiskCulpritBytes.def().unit,
                    promql: format!("topk({MAX_SERIES}, steward_disk_item_bytes)"),
                    prom_label: Some("item"),
                }],
                Vec::new(),
            )
        },
        "model_latency" => per_label(
            "model_latency",
            "Model backend check latency",
            "model_check_ms:",
            MetricId::ModelCheckMs,
            "1000 * steward_model_backend_check_seconds",
            "backend",
        ),
        "model_queue" => per_label(
            "model_queue",
            "Model requests waiting",
            "model_requests_waiting:",
            MetricId::ModelRequestsWaiting,
            "steward_model_backend_requests_waiting",
            "backend",
        ),
        "model_tokens" => per_label(
            "model_tokens",
            "Generated tokens per second",
            "model_tokens_per_s:",
            MetricId::ModelTokensPerSecond,
            "steward_model_backend_tokens_per_second",
            "backend",
        ),
        "gpu_util" => per_label(
            "gpu_util",
            "GPU utilisation",
            "gpu_util_pct:",
            MetricId::GpuUtilPct,
            "100 * steward_gpu_utilization_ratio",
            "gpu",
        ),
        "gpu_vram" => per_label(
            "gpu_vram",
            "GPU memory used",
            "gpu_vram_used_bytes:",
            MetricId::GpuVramUsedBytes,
            "steward_gpu_memory_used_bytes",
            "gpu",
        ),
        other => return Err(TrendError::Unknown(other.to_string())),
    })
}

/// A trend with one line per label of a stored prefix (a backend, a GPU), no projection.
fn per_label(
    name: &'static str,
    title: &'static str,
    prefix: &'static str,
    metric: MetricId,
    promql: &str,
    prom_label: &'static str,
) -> TrendDef {
    TrendDef {
        name,
        title,
        series: vec![SeriesDef {
            stored: Stored::Prefix(prefix),
            label: prom_label,
            unit: metric.def().unit,
            promql: format!("topk({MAX_SERIES}, {promql})"),
            prom_label: Some(prom_label),
        }],
        levels: Vec::new(),
        flag_limit_per_day: None,
        project: false,
    }
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

/// How long each stored resolution is kept (`None`: forever).
fn kept_ms(resolution: Resolution, h: &HistoryConfig) -> Option<i64> {
    let days = |d: u64| (d > 0).then_some(d as i64 * 86_400_000);
    match resolution {
        Resolution::Raw => Some(h.raw_retention_hours as i64 * 3_600_000),
        Resolution::Minute => days(h.minute_retention_days),
        Resolution::Hour => days(h.hour_retention_days),
        Resolution::Day => days(h.day_retention_days),
    }
}

/// The finest resolution for the window's length whose retention still covers its start, so a
/// zoom into last month reads hourly rollups once the raw samples are gone.
pub fn resolution_for(window: &Window, now_ms: i64, history: &HistoryConfig) -> Resolution {
    let order = [
        Resolution::Raw,
        Resolution::Minute,
        Resolution::Hour,
        Resolution::Day,
    ];
    let first = window.resolution();
    order
        .into_iter()
        .skip_while(|r| *r != first)
        .find(|r| kept_ms(*r, history).is_none_or(|kept| window.start_ms >= now_ms - kept))
        .unwrap_or(Resolution::Day)
}

/// Orders lines by their mean (largest first), keeps [`MAX_SERIES`], and says what was left out.
fn cap_series(mut series: Vec<TrendSeries>) -> (Vec<TrendSeries>, Option<String>) {
    if series.len() <= MAX_SERIES {
        return (series, None);
    }
    let mean = |s: &TrendSeries| {
        s.points.iter().map(|p| p.avg).sum::<f64>() / s.points.len().max(1) as f64
    };
    series.sort_by(|a, b| mean(b).total_cmp(&mean(a)));
    let left: Vec<String> = series
        .split_off(MAX_SERIES)
        .into_iter()
        .map(|s| s.label)
        .collect();
    let note = format!(
        "showing the {MAX_SERIES} largest of {} lines; not drawn: {}",
        MAX_SERIES + left.len(),
        left.join(", ")
    );
    (series, Some(note))
}

/// Projects the first series and assembles the answer.
fn finish(
    def: TrendDef,
    window: &Window,
    source: TrendSource,
    resolution: Resolution,
    step_secs: Option<u64>,
    series: Vec<TrendSeries>,
) -> Trend {
    let (series, note) = cap_series(series);
    let projection = if def.project {
        let primary: Vec<(i64, f64)> = series
            .first()
            .map(|s| s.points.iter().map(|p| (p.ts_ms, p.avg)).collect())
            .unwrap_or_default();
        let values: Vec<f64> = def.levels.iter().map(|l| l.value).collect();
        project(
            &primary,
            &values,
            window.end_ms,
            &ProjectionRules::default(),
        )
    } else {
        Projection::NoTrend {
            reason: "not projected".into(),
            fit: None,
        }
    };
    let flags = def
        .flag_limit_per_day
        .map(|limit| anomaly_flags(&series, limit))
        .unwrap_or_default();
    Trend {
        name: def.name.to_string(),
        title: def.title.to_string(),
        range: if window.relative {
            app::shared::format::duration(window.span_secs())
        } else {
            "custom".into()
        },
        source,
        resolution,
        start_ms: window.start_ms,
        end_ms: window.end_ms,
        step_secs,
        series,
        levels: def.levels,
        projection,
        flags,
        note,
        history_since_ms: None,
        source_down: None,
        fitted: false,
        growth: None,
    }
}

/// One line per Prometheus result series, named by `label` (or the series' own labels).
fn prom_lines(result: Vec<Series>, def: &SeriesDef) -> Vec<TrendSeries> {
    let many = result.len() > 1;
    result
        .into_iter()
        .map(|s| {
            let name = def.prom_label.and_then(|l| {
                s.labels
                    .iter()
                    .find(|(k, _)| k == l)
                    .map(|(_, v)| v.clone())
            });
            let label = match name {
                Some(n) => n,
                None if many => series_name(&s.labels),
                None => def.label.to_string(),
            };
            TrendSeries {
                key: match &def.stored {
                    Stored::Key(k) => k.clone(),
                    Stored::Prefix(p) => format!("{p}{label}"),
                },
                label,
                unit: def.unit,
                points: downsample(s.points),
            }
        })
        .collect()
}

/// A result series' name in PromQL's own notation, e.g. `{instance="a", job="node"}`.
pub fn series_name(labels: &[(String, String)]) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Reads a trend from Prometheus-compatible storage: one `query_range` per line, with a step
/// that gives about [`MAX_POINTS`] points and never breaks Prometheus's 11,000-point limit.
pub async fn prometheus_trend(
    client: &PrometheusClient,
    def: TrendDef,
    window: &Window,
    min_step_secs: u64,
) -> Result<Trend, TrendError> {
    // span / step + 1 points must fit in MAX_POINTS, so nothing is downsampled away.
    let step = choose_step(window.span_secs(), MAX_POINTS as u64 - 1, min_step_secs);
    let (start, end) = (window.start_ms / 1000, window.end_ms / 1000);
    let mut series = Vec::with_capacity(def.series.len());
    for line in &def.series {
        let result = client.query_range(&line.promql, start, end, step).await?;
        series.extend(prom_lines(result, line));
    }
    let window = Window {
        start_ms: start * 1000,
        end_ms: end * 1000,
        ..*window
    };
    let resolution = window.resolution();
    Ok(finish(
        def,
        &window,
        TrendSource::Prometheus,
        resolution,
        Some(step),
        series,
    ))
}

/// Reads one series at `resolution`, then fills the tail the rollups have not reached yet
/// (the current hour, the current minute) from the finer levels, so a 7-day chart ends now and
/// grows as samples arrive instead of once an hour.
pub async fn stitched(
    store: &dyn HostHistory,
    host: &str,
    key: &str,
    resolution: Resolution,
    window: &Window,
) -> Result<Vec<HistoryPoint>, HistoryError> {
    let mut points = store
        .query_host_between(host, key, resolution, window.start_ms, window.end_ms)
        .await?;
    let finer: &[Resolution] = match resolution {
        Resolution::Day => &[Resolution::Hour, Resolution::Minute, Resolution::Raw],
        Resolution::Hour => &[Resolution::Minute, Resolution::Raw],
        Resolution::Minute => &[Resolution::Raw],
        Resolution::Raw => &[],
    };
    // The last point covers its whole bucket; a finer level starts after it.
    let mut covered = points.last().map_or(window.start_ms, |p| {
        p.ts_ms + resolution.bucket_ms().unwrap_or(1)
    });
    for next in finer {
        if covered > window.end_ms {
            break;
        }
        let tail = store
            .query_host_between(host, key, *next, covered, window.end_ms)
            .await?;
        if let Some(p) = tail.last() {
            covered = p.ts_ms + next.bucket_ms().unwrap_or(1);
        }
        points.extend(tail);
    }
    Ok(points)
}

/// Reads a trend of `host` (this machine: `platform::bus::LOCAL_HOST`) from the stored history
/// (the SQLite file, or PostgreSQL for fleet hosts of replicas). A defined series with nothing
/// stored yet is an empty line.
pub async fn stored_trend(
    store: &dyn HostHistory,
    host: &str,
    history: &HistoryConfig,
    def: TrendDef,
    window: &Window,
    now_ms: i64,
) -> Result<Trend, TrendError> {
    let resolution = resolution_for(window, now_ms, history);
    let mut series = Vec::with_capacity(def.series.len());
    for line in &def.series {
        let keys: Vec<(String, String)> = match &line.stored {
            Stored::Key(k) => vec![(k.clone(), line.label.to_string())],
            Stored::Prefix(p) => store
                .host_series_with_prefix(host, p)
                .await?
                .into_iter()
                .map(|k| {
                    let label = k[p.len()..].to_string();
                    (k, label)
                })
                .collect(),
        };
        for (key, label) in keys {
            let points = match stitched(store, host, &key, resolution, window).await {
                Ok(p) => p,
                Err(HistoryError::UnknownMetric(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            // A container with nothing in this window is not a line on this chart.
            if points.is_empty() && matches!(line.stored, Stored::Prefix(_)) {
                continue;
            }
            series.push(TrendSeries {
                key,
                label,
                unit: line.unit,
                points: downsample(points),
            });
        }
    }
    let step = resolution.bucket_ms().map(|ms| ms as u64 / 1000);
    let source = match store.engine() {
        "postgresql" => TrendSource::Postgres,
        _ => TrendSource::Sqlite,
    };
    Ok(finish(def, window, source, resolution, step, series))
}

/// An admin's own PromQL: validated, run with the proxy's timeout, drawn like a trend.
pub struct Explore<'a> {
    pub query: &'a str,
    pub window: Window,
    /// The longest window allowed, in seconds.
    pub max_range_secs: u64,
    pub min_step_secs: u64,
}

/// The longest PromQL the explore box accepts.
pub const MAX_QUERY_LEN: usize = 2_000;

/// Runs an explore query. Refuses an empty or huge query and a window over the limit; draws at
/// most [`MAX_SERIES`] lines of at most [`MAX_POINTS`] points (the step is chosen for that).
pub async fn explore(client: &PrometheusClient, e: Explore<'_>) -> Result<Trend, TrendError> {
    let query = e.query.trim();
    if query.is_empty() {
        return Err(TrendError::Explore("the query is empty".into()));
    }
    if query.len() > MAX_QUERY_LEN {
        return Err(TrendError::Explore(format!(
            "the query is {} characters long; at most {MAX_QUERY_LEN} are accepted",
            query.len()
        )));
    }
    if e.window.span_secs() > e.max_range_secs {
        return Err(TrendError::Explore(format!(
            "the window is {}; explore allows at most {} (prometheus.explore_max_range_days)",
            app::shared::format::duration(e.window.span_secs()),
            app::shared::format::duration(e.max_range_secs)
        )));
    }
    let def = TrendDef {
        name: "explore",
        title: "Explore",
        series: vec![SeriesDef {
            stored: Stored::Key("explore".into()),
            label: "value",
            unit: Unit::Count,
            promql: query.to_string(),
            prom_label: None,
        }],
        levels: Vec::new(),
        flag_limit_per_day: None,
        project: false,
    };
    prometheus_trend(client, def, &e.window, e.min_step_secs).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::bus::LOCAL_HOST;
    use crate::store::history::HistoryStore;

    #[test]
    fn each_trend_knows_the_collector_that_feeds_it() {
        use app::vitals::metric_def::Source;
        let config = Config::default();
        for (name, source) in [
            ("disk", Source::Vitals),
            ("memory", Source::Vitals),
            ("containers", Source::Docker),
            ("container_io", Source::Docker),
            ("disk_items", Source::Maintenance),
            ("model_queue", Source::Models),
            ("gpu_vram", Source::Models),
        ] {
            assert_eq!(
                definition(name, &config).unwrap().source(),
                source,
                "{name}"
            );
        }
    }
    use crate::store::history::Sample;

    #[test]
    fn names_are_allow_listed() {
        let c = Config::default();
        for name in TREND_NAMES {
            assert!(definition(name, &c).is_ok(), "{name}");
        }
        let e = definition("rm -rf", &c).err().unwrap().to_string();
        assert!(
            e.contains(
                "known trends: disk, memory, steal, io, containers, container_io, disk_items, model_latency, model_queue, model_tokens, gpu_util, gpu_vram"
            ),
            "{e}"
        );
        let disk = definition("disk", &c).unwrap();
        assert!(matches!(&disk.series[0].stored, Stored::Key(k) if k == "disk_used_pct:/"));
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
        let last =
            |range: &str| app::trends::resolve_window(Some(range), None, None, "7d", now).unwrap();
        let year = stored_trend(
            &store,
            LOCAL_HOST,
            &c.history,
            definition("disk", &c).unwrap(),
            &last("1y"),
            now,
        )
        .await
        .unwrap();
        assert_eq!(year.resolution, Resolution::Day);
        assert!(year.series[0].points.len() <= MAX_POINTS);
        assert!(
            year.series[0].points.len() >= 360,
            "{}",
            year.series[0].points.len()
        );
        let month = stored_trend(
            &store,
            LOCAL_HOST,
            &c.history,
            definition("disk", &c).unwrap(),
            &last("30d"),
            now,
        )
        .await
        .unwrap();
        assert_eq!(month.resolution, Resolution::Hour);
        // 30 days of hourly rollups: 720 (or 721 with the bucket at the window's start).
        assert!((720..=721).contains(&month.series[0].points.len()));
        assert_eq!(month.range, "30d 0h");
        match month.projection {
            app::trends::projection::Projection::Rising {
                fit,
                crossings,
                horizon_ms,
            } => {
                assert!((fit.slope_per_day - 0.05).abs() < 1e-6, "{fit:?}");
                // Now at 50 %: 55 % in 100 days. 85 % would be 700 days away, beyond 4 × the
                // 30 days of history, so it is not stated.
                assert!((crossings[0].in_days - 100.0).abs() < 0.1, "{crossings:?}");
                assert_eq!(crossings.len(), 1, "{crossings:?}");
                let days = horizon_ms as f64 / 86_400_000.0;
                assert!((116.0..=120.5).contains(&days), "{days}");
            }
            other => panic!("{other:?}"),
        }
        // A known series with no data yet is an empty line and "too few points".
        let steal = stored_trend(
            &store,
            LOCAL_HOST,
            &c.history,
            definition("steal", &c).unwrap(),
            &last("7d"),
            now,
        )
        .await
        .unwrap();
        assert!(steal.series[0].points.is_empty());
        assert!(matches!(
            steal.projection,
            app::trends::projection::Projection::NoTrend { .. }
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

    #[tokio::test]
    async fn the_tail_not_yet_rolled_up_comes_from_finer_levels() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::open(&dir.path().join("s.db")).await.unwrap();
        const MIN: i64 = 60_000;
        let t0 = 1_700_000_000_000_i64 / 3_600_000 * 3_600_000;
        // Three hours of samples every 10 s; rollups only complete up to 2 h 30 min.
        let samples: Vec<Sample> = (0..3 * 360)
            .map(|i| Sample {
                series: "cpu_steal_pct".into(),
                ts_ms: t0 + i * 10_000,
                value: 1.0,
            })
            .collect();
        store.write(&samples).await.unwrap();
        store.rollup(t0 + 150 * MIN).await.unwrap();
        let now = t0 + 180 * MIN;
        let w = app::trends::resolve_window(Some("7d"), None, None, "7d", now).unwrap();
        let p = stitched(&store, LOCAL_HOST, "cpu_steal_pct", Resolution::Hour, &w)
            .await
            .unwrap();
        // Two whole hours, 30 one-minute rollups, then the raw samples of the last 30 minutes.
        assert_eq!(p.len(), 2 + 30 + 180, "{}", p.len());
        assert_eq!(p[1].ts_ms, t0 + 60 * MIN);
        assert_eq!(p[2].ts_ms, t0 + 120 * MIN);
        assert_eq!(p[32].ts_ms, t0 + 150 * MIN);
        assert!(
            p.windows(2).all(|w| w[0].ts_ms < w[1].ts_ms),
            "in order, no overlap"
        );
    }

    #[test]
    fn zooms_past_retention_read_coarser_rollups() {
        let h = HistoryConfig::default(); // raw 48 h, minutes 30 d, hours 730 d
        const HOUR: i64 = 3_600_000;
        let now = 1_800_000_000_000;
        let w = |from_h: i64, to_h: i64| Window {
            start_ms: now - from_h * HOUR,
            end_ms: now - to_h * HOUR,
            relative: false,
        };
        // One hour, recent: raw. One hour, three days ago: raw is gone, minutes serve.
        assert_eq!(resolution_for(&w(1, 0), now, &h), Resolution::Raw);
        assert_eq!(resolution_for(&w(72, 71), now, &h), Resolution::Minute);
        // One hour forty days ago: hourly rollups. Three years ago: days (kept forever).
        assert_eq!(resolution_for(&w(960, 959), now, &h), Resolution::Hour);
        assert_eq!(resolution_for(&w(26_280, 26_279), now, &h), Resolution::Day);
    }

    #[test]
    fn many_lines_keep_the_largest_and_say_so() {
        let line = |label: &str, v: f64| TrendSeries {
            key: format!("k:{label}"),
            label: label.into(),
            unit: Unit::BytesPerSecond,
            points: vec![HistoryPoint {
                ts_ms: 0,
                avg: v,
                min: v,
                max: v,
            }],
        };
        let lines: Vec<TrendSeries> = (0..10).map(|i| line(&format!("c{i}"), i as f64)).collect();
        let (kept, note) = cap_series(lines);
        assert_eq!(kept.len(), MAX_SERIES);
        assert_eq!(kept[0].label, "c9");
        assert_eq!(
            note.as_deref(),
            Some("showing the 8 largest of 10 lines; not drawn: c1, c0")
        );
        assert_eq!(
            series_name(&[("job".into(), "node".into()), ("i".into(), "a\"b".into())]),
            "{job=\"node\", i=\"a\\\"b\"}"
        );
    }

    #[tokio::test]
    async fn a_fleet_hosts_trend_reads_its_own_series_on_its_own_mount() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::open(&dir.path().join("s.db")).await.unwrap();
        let t0 = 1_700_000_000_000_i64;
        let sample = |series: &str, v: f64| Sample {
            series: series.into(),
            ts_ms: t0,
            value: v,
        };
        let local = [sample("disk_used_pct:/data", 10.0)];
        let edge = [
            sample("disk_used_pct:/data", 80.0),
            sample("gpu_util_pct:0", 40.0),
            sample("gpu_util_pct:1", 60.0),
        ];
        store.write(&local).await.unwrap();
        let host: crate::platform::bus::HostId = "edge-01".into();
        store.write_hosts(&[(host, &edge[..])]).await.unwrap();
        let c = Config::default();
        let w = app::trends::resolve_window(Some("1h"), None, None, "7d", t0 + 60_000).unwrap();
        let read = |host: &'static str, name: &'static str| {
            let (store, c, w) = (&store, &c, &w);
            async move {
                stored_trend(
                    store,
                    host,
                    &c.history,
                    host_definition(name, c, host, "/data").unwrap(),
                    w,
                    t0 + 60_000,
                )
                .await
                .unwrap()
            }
        };
        let disk = read("edge-01", "disk").await;
        assert_eq!(
            disk.series[0].key, "disk_used_pct:/data",
            "the host's mount"
        );
        assert_eq!(disk.series[0].points[0].avg, 80.0, "the host's own sample");
        assert_eq!(read(LOCAL_HOST, "disk").await.series[0].points[0].avg, 10.0);
        let gpus = read("edge-01", "gpu_util").await;
        let labels: Vec<&str> = gpus.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["0", "1"], "its GPUs, not this machine's");
        let promql = |name| {
            host_definition(name, &c, "edge-\"01", "/data")
                .unwrap()
                .series
                .into_iter()
                .map(|s| (s.promql, s.prom_label))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            promql("disk"),
            [(
                r#"max(steward_disk_used_percent{host="edge-\"01",mountpoint="/data"})"#.into(),
                None
            )]
        );
        assert_eq!(
            promql("gpu_util"),
            [(
                r#"100 * max by (gpu)(steward_gpu_utilization_ratio{host="edge-\"01"})"#.into(),
                Some("gpu")
            )]
        );
        assert_eq!(promql("memory").len(), 2);
        assert!(matches!(
            host_definition("container_io", &c, "edge-01", "/"),
            Err(TrendError::NotForHosts(_))
        ));
        assert!(matches!(
            host_definition("nope", &c, "edge-01", "/"),
            Err(TrendError::Unknown(_))
        ));
    }

    #[tokio::test]
    async fn container_lines_and_anomaly_days_from_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::open(&dir.path().join("s.db")).await.unwrap();
        const HOUR: i64 = 3_600_000;
        let t0 = 1_700_000_000_000_i64 / 86_400_000 * 86_400_000;
        // "db" writes 200 kB/s (17.3 GB/day, over the 10 GB default) on its second day only.
        let mut samples = Vec::new();
        for h in 0..72 {
            let db = if (24..48).contains(&h) { 200e3 } else { 1e3 };
            for (name, v) in [("db", db), ("web", 5e3)] {
                samples.push(Sample {
                    series: format!("{CONTAINER_WRITE_PREFIX}{name}"),
                    ts_ms: t0 + h * HOUR,
                    value: v,
                });
            }
            samples.push(Sample {
                series: MetricId::ContainersUnhealthy.name().into(),
                ts_ms: t0 + h * HOUR,
                value: (h % 3) as f64,
            });
        }
        store.write(&samples).await.unwrap();
        let now = t0 + 72 * HOUR;
        store.rollup(now).await.unwrap();
        let c = Config::default();
        let w = app::trends::resolve_window(Some("7d"), None, None, "7d", now).unwrap();
        let t = stored_trend(
            &store,
            LOCAL_HOST,
            &c.history,
            definition("container_io", &c).unwrap(),
            &w,
            now,
        )
        .await
        .unwrap();
        let labels: Vec<&str> = t.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["db", "web"]);
        assert_eq!(t.flags.len(), 1, "{:?}", t.flags);
        assert_eq!(t.flags[0].start_ms, t0 + 86_400_000);
        assert_eq!(t.flags[0].series, "db");
        let u = stored_trend(
            &store,
            LOCAL_HOST,
            &c.history,
            definition("containers", &c).unwrap(),
            &w,
            now,
        )
        .await
        .unwrap();
        assert_eq!(u.series[0].points.len(), 72);
        assert_eq!(
            u.series[0].points.iter().map(|p| p.max).fold(0.0, f64::max),
            2.0
        );
    }
}
