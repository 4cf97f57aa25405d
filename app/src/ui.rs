//! Small components more than one feature shows.

pub mod collector_panel;
pub mod sparkline;
