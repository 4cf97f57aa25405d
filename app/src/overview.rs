//! Pages, one per file.

pub mod audit;
pub mod containers;
pub mod login;
pub mod overview;
pub mod trends;
