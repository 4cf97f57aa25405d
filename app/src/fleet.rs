//! Fleet: the hosts that push heartbeats to this hub (`steward agent`). The server's `fleet`
//! module authenticates, validates and stores them; this is what its API (and the fleet panel)
//! share: each host's latest state, its badge and its score.

pub mod action;
pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod backend_table;
pub mod container_table;
pub mod host_page;
pub mod model;
pub mod page;
pub mod restart;
pub mod spark;

pub use model::*;
