//! The alerts' server functions (acknowledge, silences and tests are REST endpoints behind the
//! guard).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::alerts::{Alerts, Badge};
use crate::shared::codec::JsonText;
use crate::shared::error::AppError;

/// Firing, pending and recent alerts, silences and notifiers.
#[server(input = GetUrl, output = JsonText)]
pub async fn get_alerts() -> Result<Alerts, AppError> {
    Ok(crate::shared::backend::backend()?.alerts())
}

/// What the top bar's badge shows: how many fire, and how bad the worst is.
#[server(input = GetUrl, output = JsonText)]
pub async fn get_alert_badge() -> Result<Badge, AppError> {
    let signed_in = crate::shared::backend::current_user().is_some();
    Ok(crate::shared::backend::backend()?.alert_badge(signed_in))
}
