//! Pages, one per file.

pub mod overview;
