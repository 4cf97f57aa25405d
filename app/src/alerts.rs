//! Alerts: what fires, what fired recently, silences, and how each notifier is doing. The
//! server's `alerts` module evaluates the rules and sends; this is what its API and pages share,
//! the top bar's badge and the alerts page.

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod badge;
pub mod model;
pub mod page;

pub use model::*;
