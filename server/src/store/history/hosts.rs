//! The seam between fleet ingest, charts and where hosts' history is kept: the SQLite file
//! (the embedded default, [`HistoryStore`]) or PostgreSQL shared by hub replicas
//! ([`super::postgres::PgHistory`]). One trait, two implementations, one test suite
//! (tests/api/database.rs).

use app::shared::range::Resolution;
use app::vitals::HistoryPoint;
use async_trait::async_trait;

use super::store::{HistoryError, HistoryStore, Sample};
use crate::platform::bus::HostId;

#[async_trait]
pub trait HostHistory: Send + Sync {
    /// `sqlite` or `postgresql`, for charts and logs.
    fn engine(&self) -> &'static str;

    /// When this history started keeping samples (charts fit their window to it).
    fn history_started_ms(&self) -> i64;

    /// Writes batches of several hosts' samples in one transaction; a sample at an existing
    /// time replaces it, so a heartbeat retried after a lost answer stores nothing twice.
    async fn write_hosts(&self, batches: &[(HostId, &[Sample])]) -> Result<(), HistoryError>;

    /// The points of one series of `host` at `resolution` whose time (bucket start) lies in
    /// `from_ms..=to_ms`, oldest first; [`HistoryError::UnknownMetric`] when never stored.
    async fn query_host_between(
        &self,
        host: &str,
        metric: &str,
        resolution: Resolution,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<HistoryPoint>, HistoryError>;

    /// The stored series of `host` whose names start with `prefix`, sorted.
    async fn host_series_with_prefix(
        &self,
        host: &str,
        prefix: &str,
    ) -> Result<Vec<String>, HistoryError>;

    /// The per-minute means of the series `names` of each of `hosts` since `from_ms`, as
    /// (host, series, bucket start, mean), ordered by host and bucket.
    async fn host_minutes(
        &self,
        hosts: &[String],
        names: &[String],
        from_ms: i64,
    ) -> Result<Vec<(String, String, i64, f64)>, HistoryError>;
}

#[async_trait]
impl HostHistory for HistoryStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    fn history_started_ms(&self) -> i64 {
        HistoryStore::history_started_ms(self)
    }

    async fn write_hosts(&self, batches: &[(HostId, &[Sample])]) -> Result<(), HistoryError> {
        HistoryStore::write_hosts(self, batches).await
    }

    async fn query_host_between(
        &self,
        host: &str,
        metric: &str,
        resolution: Resolution,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<HistoryPoint>, HistoryError> {
        HistoryStore::query_host_between(self, host, metric, resolution, from_ms, to_ms).await
    }

    async fn host_series_with_prefix(
        &self,
        host: &str,
        prefix: &str,
    ) -> Result<Vec<String>, HistoryError> {
        HistoryStore::host_series_with_prefix(self, host, prefix).await
    }

    async fn host_minutes(
        &self,
        hosts: &[String],
        names: &[String],
        from_ms: i64,
    ) -> Result<Vec<(String, String, i64, f64)>, HistoryError> {
        HistoryStore::host_minutes(self, hosts, names, from_ms).await
    }
}
