//! SQLite history: batched writes of raw samples, incremental rollups, retention, queries.

pub mod block;
pub mod rollup;
pub mod store;
pub mod task;

pub use store::{HistoryError, HistoryStore, Sample};
