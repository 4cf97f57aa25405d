//! The interface through which server functions read the server's state (server side only).
//!
//! The `server` crate implements [`Backend`]; `app` never talks to SQLite or collectors itself.

use std::sync::Arc;

use crate::model::{History, Overview};

/// Errors a backend query can return to a page or API.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The caller asked for something invalid (unknown metric, bad range).
    #[error("{0}")]
    BadRequest(String),
    /// The storage failed; the details were logged on the server.
    #[error("history storage is unavailable: {0}")]
    Unavailable(String),
}

/// Read access to the latest collected state and stored history.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The latest overview, as collected last (never waits for a collector).
    fn overview(&self) -> Arc<Overview>;
    /// A stored series over a range such as `1h` or `7d`.
    async fn history(&self, metric: &str, range: &str) -> Result<History, BackendError>;
}

/// The handle placed in Leptos context for server functions.
#[derive(Clone)]
pub struct BackendHandle(pub Arc<dyn Backend>);

/// The backend from the request's context, or a clear error if the server forgot to provide it.
pub fn backend() -> Result<Arc<dyn Backend>, leptos::prelude::ServerFnError> {
    leptos::prelude::use_context::<BackendHandle>()
        .map(|h| h.0)
        .ok_or_else(|| leptos::prelude::ServerFnError::new("backend missing from context"))
}
