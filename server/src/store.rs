//! Steward's SQLite file: metric history (samples, rollups, retention) and the audit log with
//! Steward's own record of container events; and the stores that may live on PostgreSQL
//! instead (`[database] url`): users, sessions and the fleet registry ([`hub_state`]).

pub mod audit;
pub mod history;
pub mod hub_state;
pub mod lease;
pub mod postgres;
pub mod users;
