//! The overview's slice of the server's [`crate::shared::backend::Backend`].

use std::sync::Arc;

use crate::vitals::Overview;

/// What the overview reads from the server.
pub trait OverviewBackend: Send + Sync + 'static {
    /// The latest overview, as collected last (never waits for a collector).
    fn overview(&self) -> Arc<Overview>;
}
