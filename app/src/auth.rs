//! Users and the audit log: session types, sign-in and setup pages, the user menu, the audit
//! page.

pub mod api;
pub mod audit_page;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod login;
pub mod model;
pub mod user_menu;

pub use model::*;
