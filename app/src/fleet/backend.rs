//! The fleet's slice of the server's [`crate::shared::backend::Backend`].

use crate::fleet::{FleetFilter, FleetPage};

pub trait FleetBackend: Send + Sync + 'static {
    /// A page of hosts from the hub's in-memory fleet state (never waits for the database).
    fn fleet(&self, filter: &FleetFilter) -> FleetPage;
}
