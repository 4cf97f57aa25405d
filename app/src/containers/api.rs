//! The container panel's server functions (its actions are REST endpoints behind the guard).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::containers::{ContainerDetail, Containers};
use crate::shared::error::AppError;

/// The container panel's data, as collected last; with `first_rows`, only the rows the page
/// renders first and the counts over all (see `Containers::first_rows`).
#[server(input = GetUrl)]
pub async fn get_containers(first_rows: bool) -> Result<Containers, AppError> {
    let backend = crate::shared::backend::backend()?;
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
    let backend = crate::shared::backend::backend()?;
    backend.container_detail(&id).await.map_err(AppError::from)
}
