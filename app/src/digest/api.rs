//! The digest's server function (its "send now" is a REST endpoint behind the guard).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::digest::Digest;
use crate::shared::codec::JsonText;
use crate::shared::error::AppError;

/// The weekly digest as last drawn, or `None` before the first.
#[server(input = GetUrl, output = JsonText)]
pub async fn get_digest() -> Result<Option<Digest>, AppError> {
    Ok(crate::shared::backend::backend()?.digest())
}
