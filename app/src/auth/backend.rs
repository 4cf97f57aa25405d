//! The audit log's slice of the server's [`crate::shared::backend::Backend`].

use crate::auth::AuditEntry;
use crate::shared::backend::BackendError;

/// What the audit page reads from the server.
#[async_trait::async_trait]
pub trait AuditBackend: Send + Sync + 'static {
    /// Audit entries older than `before` (an id), newest first.
    async fn audit(&self, before: Option<i64>) -> Result<Vec<AuditEntry>, BackendError>;
}
