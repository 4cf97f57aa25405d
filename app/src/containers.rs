//! Containers: the panel's types and rules, its page, rows, alerts and the bulk restart.

pub mod alerts;
pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod bulk_restart;
pub mod log_view;
pub mod logs;
pub mod model;
pub mod page;
pub mod row;

pub use model::*;
