//! Collectors: each is `parse_*` (pure, in its own module) + `collect_once`, run by the one
//! round loop in [`periodic`], which publishes its data and its own status to the
//! [`crate::state::Hub`].

pub mod docker;
pub mod periodic;
pub mod procfs;
pub mod vitals;
