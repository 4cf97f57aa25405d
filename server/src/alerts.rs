//! Alerts (issue 15, in progress): for now the pure state machine every rule instance runs
//! through (`engine`); the rules, their evaluation on each collection round, the notifiers and
//! the alerts page build on it.

pub mod engine;
