//! The alerts' slice of the server's [`crate::shared::backend::Backend`].

use crate::alerts::Alerts;

/// What the badge and the alerts page read from the server.
pub trait AlertsBackend: Send + Sync + 'static {
    /// The latest evaluation's snapshot (never waits for one).
    fn alerts(&self) -> Alerts;
}
