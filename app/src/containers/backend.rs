//! The container panel's slice of the server's [`crate::shared::backend::Backend`].

use crate::containers::{ContainerDetail, Containers};
use crate::shared::backend::BackendError;

/// What the container panel reads from the server.
#[async_trait::async_trait]
pub trait ContainersBackend: Send + Sync + 'static {
    /// The containers as collected last.
    fn containers(&self) -> Containers;
    /// A container's last 50 log lines (asked of Docker, with a timeout) and its events.
    async fn container_detail(&self, id: &str) -> Result<ContainerDetail, BackendError>;
}
