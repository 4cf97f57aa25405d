//! Maintenance: scheduled jobs (discovered crontabs and timers, job heartbeats), Steward's
//! cleanup runs (dry run, live progress, history) and the maintenance-hygiene score.

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod cleanup_panel;
pub mod culprit_list;
pub mod growth;
pub mod job_table;
pub mod model;
pub mod page;

pub use model::*;
