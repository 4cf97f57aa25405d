//! The fleet's slice of the server's [`crate::shared::backend::Backend`].

use crate::fleet::{Badge, FleetPage};

pub trait FleetBackend: Send + Sync + 'static {
    /// A page of hosts from the hub's in-memory fleet state (never waits for the database).
    fn fleet(&self, query: &str, badge: Option<Badge>, offset: usize, limit: usize) -> FleetPage;
}
