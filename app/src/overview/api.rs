//! The overview's server function. Reads are GET, so the guard decides who may call them (a
//! session, or anyone with `auth.anonymous_read`); each body calls one backend method and maps
//! the error. Errors are [`AppError`]s: the API's JSON error shape, with a status that says
//! whose fault it was. Actions are not server functions: they are REST endpoints behind the
//! same guard.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::shared::codec::JsonText;

use crate::shared::error::AppError;
use crate::vitals::Overview;

/// The latest overview (score, vitals, collector status).
#[server(input = GetUrl, output = JsonText)]
pub async fn get_overview() -> Result<Overview, AppError> {
    let backend = crate::shared::backend::backend()?;
    Ok((*backend.overview()).clone())
}
