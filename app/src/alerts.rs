//! Alerts: what fires, what fired recently, and how each notifier is doing. The server's
//! `alerts` module evaluates the rules and sends; these are the shapes its API and pages share.

pub mod model;

pub use model::*;
