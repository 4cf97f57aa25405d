//! Trends: named, allow-listed charts (disk, memory, steal, I/O) with their series, where they
//! were read from, and a projection of the primary series.

use serde::{Deserialize, Serialize};

use crate::model::{HistoryPoint, Unit};
use crate::projection::Projection;
use crate::range::Resolution;

/// At most this many points per series reach the screen (downsampled with LTTB).
pub const MAX_POINTS: usize = 1_000;

/// Where a trend's points came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrendSource {
    Sqlite,
    Prometheus,
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

/// A trend chart's data: `GET /api/v1/trend/{name}?range=…`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub name: String,
    pub title: String,
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
}

/// The allow-listed trend names.
pub const TREND_NAMES: &[&str] = &["disk", "memory", "steal", "io"];
