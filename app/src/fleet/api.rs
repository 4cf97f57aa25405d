//! The fleet's server function (host and token actions are REST endpoints behind the guard).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::fleet::FleetPage;
use crate::shared::codec::JsonText;
use crate::shared::error::AppError;

/// One page of hosts whose name contains `q` and whose badge is `badge` (any when empty), with
/// the counts over the whole fleet.
#[server(input = GetUrl, output = JsonText)]
pub async fn get_fleet(q: String, badge: String, offset: u32) -> Result<FleetPage, AppError> {
    let badge = match badge.as_str() {
        "" => None,
        b => Some(crate::fleet::Badge::parse(b).ok_or_else(|| {
            AppError::new(
                crate::shared::error::ErrorKind::BadRequest,
                "badge must be live, stale, missing or never_seen",
            )
        })?),
    };
    Ok(crate::shared::backend::backend()?.fleet(
        &q,
        badge,
        offset as usize,
        crate::fleet::PAGE_ROWS,
    ))
}
