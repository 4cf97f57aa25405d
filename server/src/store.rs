//! Steward's SQLite file: metric history (samples, rollups, retention) and the audit log with
//! Steward's own record of container events; and the stores that may live on PostgreSQL
//! instead (`[database] url`): users and sessions.

pub mod audit;
pub mod history;
pub mod postgres;
pub mod users;
