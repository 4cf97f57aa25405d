//! HTTP: the JSON API under `/api/v1`, `/healthz`, `/metrics`, and the Leptos pages.

pub mod alerts;
pub mod api;
pub mod auth_routes;
pub mod containers;
pub mod digest;
pub mod error;
pub mod fleet;
pub mod guard;
pub mod maintenance;
pub mod metrics;
pub mod models;
pub mod progress;
pub mod serve;

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use tokio_util::sync::CancellationToken;

use crate::hub::Hub;
use crate::store::history::HistoryStore;

/// What every handler can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Arc<Hub>,
    /// Where actions announce their results (and later, ingest publishes).
    pub bus: Arc<crate::platform::bus::Bus>,
    pub store: Arc<HistoryStore>,
    /// Fleet hosts' history: `store` itself, or PostgreSQL shared by hub replicas.
    pub fleet_history: Arc<dyn crate::store::history::HostHistory>,
    pub config: Arc<crate::config::Config>,
    /// Set when `prometheus.url` is configured: trends are then read from there.
    pub prometheus: Option<crate::trends::prometheus::PrometheusClient>,
    /// Fires on shutdown so that long-lived streams end and the server can stop.
    pub shutdown: CancellationToken,
    pub auth: Arc<crate::auth::Auth>,
    pub audit: crate::store::audit::AuditLog,
    pub actions: Arc<crate::docker::actions::Actions>,
    pub maintenance: Arc<crate::maintenance::Maintenance>,
    pub models: Arc<crate::models::ModelsService>,
    pub alerts: Arc<crate::alerts::AlertsService>,
    pub digest: Arc<crate::digest::DigestService>,
    pub fleet: Arc<crate::fleet::Fleet>,
}
