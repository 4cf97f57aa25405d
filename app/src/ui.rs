//! UI components, one per file.

pub mod bulk_restart;
pub mod chart_view;
pub mod collector_panel;
pub mod container_alerts;
pub mod container_row;
pub mod dimension_card;
pub mod drilldown;
pub mod explore;
pub mod score_gauge;
pub mod sparkline;
pub mod top_processes;
pub mod trend_chart;
pub mod user_menu;
pub mod vital_card;
