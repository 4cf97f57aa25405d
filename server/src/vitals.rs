//! Host vitals: the procfs parsers (pure), the collector that runs them each round, and
//! `steward check`, which prints one round in a terminal.

pub mod check;
pub mod collector;
pub mod procfs;
