//! The fleet's slice of the server's [`crate::shared::backend::Backend`].

use crate::fleet::{FleetFilter, FleetHost, FleetPage};

pub trait FleetBackend: Send + Sync + 'static {
    /// A page of host cards ([`FleetHost::for_card`]) from the hub's in-memory fleet state
    /// (never waits for the database).
    fn fleet_cards(&self, filter: &FleetFilter) -> FleetPage;
    /// One host as the hub last heard it (in memory; `None`: no such host).
    fn fleet_host(&self, host: &str) -> Option<FleetHost>;
}
