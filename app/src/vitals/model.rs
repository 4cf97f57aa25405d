//! Types shared by the server, its APIs and the WASM client.

use serde::{Deserialize, Serialize};

use crate::overview::score::Score;

/// How healthy one reading is. `Unknown` means the value could not be read: never shown as 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Crit,
    #[default]
    Unknown,
}

impl Level {
    /// Severity order used to combine levels: ok < unknown < warn < crit.
    pub fn severity(self) -> u8 {
        match self {
            Level::Ok => 0,
            Level::Unknown => 1,
            Level::Warn => 2,
            Level::Crit => 3,
        }
    }

    /// The worse of two levels.
    pub fn worst(self, other: Level) -> Level {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Crit => "crit",
            Level::Unknown => "unknown",
        }
    }
}

/// The unit a metric's value is expressed in; the UI formats by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Percent,
    Bytes,
    BytesPerSecond,
    Count,
    Load,
    /// Degrees Celsius (GPU and sensor temperatures).
    Celsius,
    /// Watts (GPU power draw).
    Watts,
    /// Generated tokens per second (model backends).
    TokensPerSecond,
    /// Milliseconds (a backend check's latency).
    Milliseconds,
}

/// One named reading of the host, with its status against its thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Stable machine name, e.g. `cpu_steal_pct`.
    pub name: String,
    /// Distinguishes instances of the same metric, e.g. the mount point of `disk_used_pct`.
    pub label: Option<String>,
    /// `None` when the value could not be read; `note` then says why.
    pub value: Option<f64>,
    pub unit: Unit,
    pub level: Level,
    pub warn: Option<f64>,
    pub crit: Option<f64>,
    /// Why the value is unknown, or how it was derived (e.g. an estimate on old kernels).
    pub note: Option<String>,
}

impl Metric {
    /// The key this metric is stored under in history: `name` or `name:label`.
    pub fn series_key(&self) -> String {
        series_key(&self.name, self.label.as_deref())
    }
}

/// Whether a series key names a metric Steward collects (stored or not yet).
pub fn is_known_series(key: &str) -> bool {
    crate::vitals::metric_def::by_series_key(key).is_some()
}

/// Builds a history series key from a metric name and optional label.
pub fn series_key(name: &str, label: Option<&str>) -> String {
    match label {
        Some(label) => format!("{name}:{label}"),
        None => name.to_string(),
    }
}

/// One process in a top-consumers list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub name: String,
    pub rss_bytes: u64,
    /// CPU use since the previous sample; `None` on the first sample.
    pub cpu_pct: Option<f64>,
    pub runtime_secs: u64,
}

/// The latest host vitals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vitals {
    pub host: String,
    pub cores: u32,
    /// When the sample was taken, in milliseconds since the Unix epoch.
    pub collected_at_ms: i64,
    pub metrics: Vec<Metric>,
    pub top_rss: Vec<ProcessInfo>,
    pub top_cpu: Vec<ProcessInfo>,
}

impl Vitals {
    /// The first metric with this name and label.
    pub fn metric(&self, name: &str, label: Option<&str>) -> Option<&Metric> {
        self.metrics
            .iter()
            .find(|m| m.name == name && m.label.as_deref() == label)
    }

    /// The value of a metric, or why it is unknown.
    pub fn value(&self, name: &str, label: Option<&str>) -> Result<f64, String> {
        match self.metric(name, label) {
            Some(Metric { value: Some(v), .. }) => Ok(*v),
            Some(Metric {
                note: Some(note), ..
            }) => Err(note.clone()),
            Some(_) => Err(format!("{name} could not be read")),
            None => Err(format!("{} is not collected", series_key(name, label))),
        }
    }

    /// The worst level over all metrics.
    pub fn worst_level(&self) -> Level {
        self.metrics
            .iter()
            .fold(Level::Ok, |acc, m| acc.worst(m.level))
    }
}

/// Whether a collector is working.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectorState {
    /// No round has finished yet.
    Starting,
    Ok,
    /// The last round ran but some readings failed; `message` lists them.
    Degraded,
    /// The last round failed as a whole.
    Error,
}

impl CollectorState {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectorState::Starting => "starting",
            CollectorState::Ok => "ok",
            CollectorState::Degraded => "degraded",
            CollectorState::Error => "error",
        }
    }
}

/// What every collector and integration publishes about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CollectorStatus {
    pub name: String,
    pub state: CollectorState,
    pub message: Option<String>,
    pub last_success_ms: Option<i64>,
    pub last_attempt_ms: Option<i64>,
    pub last_duration_ms: Option<u64>,
    pub rounds_total: u64,
    pub errors_total: u64,
}

impl CollectorStatus {
    pub fn starting(name: &str) -> Self {
        Self {
            name: name.to_string(),
            state: CollectorState::Starting,
            message: None,
            last_success_ms: None,
            last_attempt_ms: None,
            last_duration_ms: None,
            rounds_total: 0,
            errors_total: 0,
        }
    }
}

/// Everything the overview page shows, as collected last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// `None` until the first collection round finished (or while it keeps failing).
    pub vitals: Option<Vitals>,
    pub score: Score,
    pub collectors: Vec<CollectorStatus>,
    pub interval_secs: u64,
    /// Containers that need attention; `None` while Docker is not monitored or unreachable.
    pub containers: Option<crate::containers::ContainerSummary>,
    /// The host's GPUs as last read (none: no card, or the models collector is off).
    #[serde(default)]
    pub gpus: Vec<crate::models::GpuSummary>,
}

/// One point of a history series: the average over its bucket with the bucket's extremes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Bucket start (raw samples: sample time), ms since the Unix epoch.
    pub ts_ms: i64,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
}

/// A stored series over a time range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub metric: String,
    pub range: String,
    pub resolution: crate::shared::range::Resolution,
    pub points: Vec<HistoryPoint>,
}
