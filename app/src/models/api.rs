//! The models page's server functions (load and unload are REST endpoints behind the guard).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::models::estimate::Verdict;
use crate::models::Models;
use crate::shared::codec::JsonText;
use crate::shared::error::AppError;

/// Backends, GPUs and memory as the last round saw them.
#[server(input = GetUrl, output = JsonText)]
pub async fn get_models() -> Result<Models, AppError> {
    let backend = crate::shared::backend::backend()?;
    Ok(backend.models())
}

/// The pre-load check: what loading `model` at `context` tokens would take, and whether it fits.
#[server(input = GetUrl, output = JsonText)]
pub async fn check_load(
    backend_name: String,
    model: String,
    context: Option<u64>,
) -> Result<Verdict, AppError> {
    let backend = crate::shared::backend::backend()?;
    backend
        .check_load(&backend_name, &model, context)
        .await
        .map_err(AppError::from)
}
