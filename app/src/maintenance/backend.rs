//! The maintenance page's slice of the server's [`crate::shared::backend::Backend`].

use crate::maintenance::Maintenance;

/// What the maintenance page reads from the server.
pub trait MaintenanceBackend: Send + Sync + 'static {
    /// Jobs, cleanup runs and findings as refreshed last (never waits for discovery).
    fn maintenance(&self) -> Maintenance;
}
