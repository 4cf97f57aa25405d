//! The interface through which server functions read the server's state (server side only).
//!
//! The `server` crate implements [`Backend`]; `app` never talks to SQLite, Docker or collectors.

use std::sync::Arc;

use crate::auth::{AuditEntry, SessionView};
use crate::containers::{ContainerDetail, Containers};
use crate::model::{History, Overview};

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

/// Read access to the latest collected state and stored history.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The latest overview, as collected last (never waits for a collector).
    fn overview(&self) -> Arc<Overview>;
    /// A stored series over a range such as `1h` or `7d`.
    async fn history(&self, metric: &str, range: &str) -> Result<History, BackendError>;
    /// The containers as collected last.
    fn containers(&self) -> Containers;
    /// A container's last 50 log lines (asked of Docker, with a timeout) and its events.
    async fn container_detail(&self, id: &str) -> Result<ContainerDetail, BackendError>;
    /// A named trend over `range`, or between `from` and `to` (ms); may ask Prometheus (with
    /// its timeout) when it is the configured source.
    async fn trend(
        &self,
        name: &str,
        range: Option<String>,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<crate::trend::Trend, BackendError>;
    /// Audit entries older than `before` (an id), newest first.
    async fn audit(&self, before: Option<i64>) -> Result<Vec<AuditEntry>, BackendError>;
}

/// The handle placed in Leptos context for server functions.
#[derive(Clone)]
pub struct BackendHandle(pub Arc<dyn Backend>);

/// The backend from the request's context, or a clear error if the server forgot to provide it.
pub fn backend() -> Result<Arc<dyn Backend>, crate::error::AppError> {
    leptos::prelude::use_context::<BackendHandle>()
        .map(|h| h.0)
        .ok_or_else(|| {
            crate::error::AppError::new(
                crate::error::ErrorKind::Server,
                "backend missing from context",
            )
        })
}

/// The signed-in user, as the server's guard put it into the request.
pub fn current_user() -> Option<SessionView> {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<SessionView>().cloned())
}
