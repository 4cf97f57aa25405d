//! The fleet's server function (host and token actions are REST endpoints behind the guard).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::fleet::{FleetHost, FleetPage};
use crate::shared::codec::JsonText;
use crate::shared::error::AppError;

/// One page of hosts whose name contains `q`, with the badge, health and group asked (any
/// when empty), and the counts and groups over the whole fleet.
#[server(input = GetUrl, output = JsonText)]
pub async fn get_fleet(
    q: String,
    badge: String,
    health: String,
    group: String,
    offset: u32,
) -> Result<FleetPage, AppError> {
    let filter = crate::fleet::FleetFilter::from_params(
        &q,
        &badge,
        &health,
        &group,
        offset as usize,
        crate::fleet::PAGE_ROWS,
        crate::fleet::PAGE_ROWS,
    )
    .map_err(|m| AppError::new(crate::shared::error::ErrorKind::BadRequest, m))?;
    Ok(crate::shared::backend::backend()?.fleet_cards(&filter))
}

/// One host with its latest heartbeat's vitals and score, for the host page.
#[server(input = GetUrl, output = JsonText)]
pub async fn get_fleet_host(host: String) -> Result<FleetHost, AppError> {
    crate::shared::backend::backend()?
        .fleet_host(&host)
        .ok_or_else(|| {
            AppError::new(
                crate::shared::error::ErrorKind::NotFound,
                format!("no host named {host:?} in the fleet"),
            )
        })
}
