//! UI components, one per file.

pub mod collector_panel;
pub mod dimension_card;
pub mod drilldown;
pub mod score_gauge;
pub mod sparkline;
pub mod top_processes;
pub mod vital_card;
