//! The trends' server functions: stored history and named trends.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::shared::error::AppError;
use crate::trends::Trend;
use crate::vitals::History;

/// A stored history series, e.g. `get_history("cpu_steal_pct", "1h")`.
#[server(input = GetUrl)]
pub async fn get_history(metric: String, range: String) -> Result<History, AppError> {
    let backend = crate::shared::backend::backend()?;
    backend
        .history(&metric, &range)
        .await
        .map_err(AppError::from)
}

/// A named trend over the last `range` (e.g. `7d`), or from `from` to `to` (ms) after a zoom;
/// with `host`, that fleet host's.
#[server(input = GetUrl)]
pub async fn get_trend(
    name: String,
    range: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    host: Option<String>,
) -> Result<Trend, AppError> {
    let backend = crate::shared::backend::backend()?;
    backend
        .trend(&name, range, from, to, host)
        .await
        .map_err(AppError::from)
}

/// Whether the explore box has a Prometheus to ask, so it can say so before anyone types.
#[server(input = GetUrl)]
pub async fn explore_available() -> Result<bool, AppError> {
    Ok(crate::shared::backend::backend()?.prometheus_configured())
}
