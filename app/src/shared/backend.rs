//! The interface through which server functions read the server's state (server side only).
//!
//! The `server` crate implements [`Backend`]; `app` never talks to SQLite, Docker or collectors.

use std::sync::Arc;

use crate::auth::SessionView;

/// Errors a backend query can return to a page or API.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The caller asked for something invalid (unknown metric, bad range, unknown container).
    #[error("{0}")]
    BadRequest(String),
    /// The storage or Docker failed; the details were logged on the server.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// Read access to the latest collected state and stored history: every feature's slice. A
/// new feature adds its slice trait here and implements it in the server.
pub trait Backend:
    crate::overview::backend::OverviewBackend
    + crate::trends::backend::TrendsBackend
    + crate::containers::backend::ContainersBackend
    + crate::maintenance::backend::MaintenanceBackend
    + crate::models::backend::ModelsBackend
    + crate::auth::backend::AuditBackend
    + crate::alerts::backend::AlertsBackend
    + crate::fleet::backend::FleetBackend
{
}

impl<T> Backend for T where
    T: crate::overview::backend::OverviewBackend
        + crate::trends::backend::TrendsBackend
        + crate::containers::backend::ContainersBackend
        + crate::maintenance::backend::MaintenanceBackend
        + crate::models::backend::ModelsBackend
        + crate::auth::backend::AuditBackend
        + crate::alerts::backend::AlertsBackend
        + crate::fleet::backend::FleetBackend
{
}

/// The handle placed in Leptos context for server functions.
#[derive(Clone)]
pub struct BackendHandle(pub Arc<dyn Backend>);

/// The backend from the request's context, or a clear error if the server forgot to provide it.
pub fn backend() -> Result<Arc<dyn Backend>, crate::shared::error::AppError> {
    leptos::prelude::use_context::<BackendHandle>()
        .map(|h| h.0)
        .ok_or_else(|| {
            crate::shared::error::AppError::new(
                crate::shared::error::ErrorKind::Server,
                "backend missing from context",
            )
        })
}

/// The signed-in user, as the server's guard put it into the request.
pub fn current_user() -> Option<SessionView> {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<SessionView>().cloned())
}
