//! The overview: the score card, the vital cards, collectors' status and the live stream that
//! keeps them current.

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod change;
pub mod dimension_card;
pub mod drilldown;
pub mod gpu_cards;
pub mod live;
pub mod page;
pub mod readout;
pub mod score;
pub mod score_gauge;
pub mod top_processes;
pub mod verdict;
pub mod vital_card;
