//! The models page's slice of the server's [`crate::shared::backend::Backend`].

use crate::models::estimate::Verdict;
use crate::models::Models;
use crate::shared::backend::BackendError;

/// What the models page reads from the server.
#[async_trait::async_trait]
pub trait ModelsBackend: Send + Sync + 'static {
    /// Backends, GPUs and memory as the last round saw them (never calls a backend).
    fn models(&self) -> Models;
    /// The pre-load check for `model` on `backend` at `context` tokens (Ollama: one
    /// `/api/show` call under the backend's timeout, cached).
    async fn check_load(
        &self,
        backend: &str,
        model: &str,
        context: Option<u64>,
    ) -> Result<Verdict, BackendError>;
}
