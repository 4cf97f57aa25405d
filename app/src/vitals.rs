//! Host vitals: the shared types (overview, vitals, metrics, collector status), the metric
//! definitions and the thresholds that judge them.

pub mod metric_def;
pub mod model;
pub mod thresholds;

pub use model::*;
