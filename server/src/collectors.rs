//! Collectors: each is `parse_*` (pure, in its own module) + `collect_once` + a `run` loop that
//! publishes its data and its own status to the [`crate::state::Hub`].

pub mod docker;
pub mod procfs;
pub mod vitals;
