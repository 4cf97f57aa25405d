//! Hosts' history: batched writes of raw samples, incremental rollups, retention, queries; in
//! the SQLite file, and for fleet hosts on PostgreSQL when hub replicas share one.

pub mod block;
pub mod hosts;
pub mod postgres;
pub mod rollup;
pub mod store;
pub mod task;

pub use hosts::HostHistory;
pub use store::{HistoryError, HistoryStore, Sample};
