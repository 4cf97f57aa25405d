//! The alerts' slice of the server's [`crate::shared::backend::Backend`].

use crate::alerts::{Alerts, Badge};

/// What the badge and the alerts page read from the server.
pub trait AlertsBackend: Send + Sync + 'static {
    /// The latest evaluation's snapshot (never waits for one).
    fn alerts(&self) -> Alerts;
    /// The top bar's count; nothing for a visitor who may not read (the sign-in page renders
    /// the top bar too).
    fn alert_badge(&self, signed_in: bool) -> Badge;
    /// The weekly digest as last drawn (its figures are read in the background, every few
    /// minutes and before each send); `None` until the first is drawn.
    fn digest(&self) -> Option<crate::digest::Digest>;
}
