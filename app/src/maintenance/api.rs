//! The maintenance page's server function (its actions are REST endpoints behind the guard).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::maintenance::{Culprit, Maintenance};
use crate::shared::codec::JsonText;
use crate::shared::error::AppError;

/// Jobs, cleanup runs and findings, as refreshed last; with `first_rows`, only the jobs the
/// page renders first (see `Maintenance::first_rows`).
#[server(input = GetUrl, output = JsonText)]
pub async fn get_maintenance(first_rows: bool) -> Result<Maintenance, AppError> {
    let backend = crate::shared::backend::backend()?;
    let all = backend.maintenance();
    Ok(if first_rows {
        all.first_rows(crate::maintenance::PAGE_JOBS)
    } else {
        all
    })
}

/// What takes the disk, largest first, with each item's growth (for the disk drill-down).
#[server(input = GetUrl, output = JsonText)]
pub async fn get_disk_culprits() -> Result<Vec<Culprit>, AppError> {
    let backend = crate::shared::backend::backend()?;
    Ok(backend.maintenance().culprits)
}
