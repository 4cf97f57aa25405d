//! Trends: the trend model, projections, the chart renderer, the page and its components.

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod chart;
pub mod chart_view;
pub mod explore;
pub mod model;
pub mod page;
pub mod projection;
pub mod trend_chart;

pub use model::*;
