//! Steward's SQLite file: metric history (samples, rollups, retention) and the audit log with
//! Steward's own record of container events.

pub mod audit;
pub mod history;
