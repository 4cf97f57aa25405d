//! The trends' slice of the server's [`crate::shared::backend::Backend`].

use crate::shared::backend::BackendError;
use crate::trends::Trend;
use crate::vitals::History;

/// What the trends page reads from the server.
#[async_trait::async_trait]
pub trait TrendsBackend: Send + Sync + 'static {
    /// A stored series over a range such as `1h` or `7d`.
    async fn history(&self, metric: &str, range: &str) -> Result<History, BackendError>;
    /// A named trend over `range`, or between `from` and `to` (ms); may ask Prometheus (with
    /// its timeout) when it is the configured source. With `host`, a fleet host's trend.
    async fn trend(
        &self,
        name: &str,
        range: Option<String>,
        from: Option<i64>,
        to: Option<i64>,
        host: Option<String>,
    ) -> Result<Trend, BackendError>;
    /// Whether `prometheus.url` is set (the explore box needs it).
    fn prometheus_configured(&self) -> bool;
}
