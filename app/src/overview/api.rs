//! Server functions the pages call. Reads are GET, so the guard decides who may call them (a
//! session, or anyone with `auth.anonymous_read`); each body calls one backend method and maps
//! the error (the audit log adds its own rule: signed-in users only). Errors are [`AppError`]s:
//! the API's JSON error shape, with a status that says whose fault it was. Actions are not server
//! functions: they are the REST endpoints under `/api/v1/containers/…`, behind the same guard.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::auth::{AuditEntry, SessionView};
use crate::containers::{ContainerDetail, Containers};
use crate::error::AppError;
use crate::model::{History, Overview};
use crate::trend::Trend;

/// The latest overview (score, vitals, collector status).
#[server(input = GetUrl)]
pub async fn get_overview() -> Result<Overview, AppError> {
    let backend = crate::backend::backend()?;
    Ok((*backend.overview()).clone())
}

/// A stored history series, e.g. `get_history("cpu_steal_pct", "1h")`.
#[server(input = GetUrl)]
pub async fn get_history(metric: String, range: String) -> Result<History, AppError> {
    let backend = crate::backend::backend()?;
    backend
        .history(&metric, &range)
        .await
        .map_err(AppError::from)
}

/// The signed-in user of this request (with the CSRF token for actions), if any.
#[server(input = GetUrl)]
pub async fn get_session() -> Result<Option<SessionView>, AppError> {
    Ok(crate::backend::current_user())
}

/// The container panel's data, as collected last; with `first_rows`, only the rows the page
/// renders first and the counts over all (see `Containers::first_rows`).
#[server(input = GetUrl)]
pub async fn get_containers(first_rows: bool) -> Result<Containers, AppError> {
    let backend = crate::backend::backend()?;
    let all = backend.containers();
    Ok(if first_rows {
        all.first_rows(crate::containers::PAGE_ROWS)
    } else {
        all
    })
}

/// A container's last log lines and Steward's events for it.
#[server(input = GetUrl)]
pub async fn get_container_detail(id: String) -> Result<ContainerDetail, AppError> {
    let backend = crate::backend::backend()?;
    backend.container_detail(&id).await.map_err(AppError::from)
}

/// The audit log, newest first (signed-in users only, even with anonymous reading on).
#[server(input = GetUrl)]
pub async fn get_audit(before: Option<i64>) -> Result<Vec<AuditEntry>, AppError> {
    if crate::backend::current_user().is_none() {
        return Err(AppError::new(
            crate::error::ErrorKind::Unauthorized,
            "sign in to read the audit log",
        ));
    }
    let backend = crate::backend::backend()?;
    backend.audit(before).await.map_err(AppError::from)
}

/// A named trend over the last `range` (e.g. `7d`), or from `from` to `to` (ms) after a zoom.
#[server(input = GetUrl)]
pub async fn get_trend(
    name: String,
    range: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Trend, AppError> {
    let backend = crate::backend::backend()?;
    backend
        .trend(&name, range, from, to)
        .await
        .map_err(AppError::from)
}
