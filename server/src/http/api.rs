//! The JSON API (documented in README.md). Every handler reads the hub's latest state or the
//! history store; none waits for a collector.

use std::convert::Infallible;
use std::sync::Arc;

use app::overview::score::Score;
use app::vitals::{CollectorStatus, History, Vitals};
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::WatchStream;

use app::shared::backend::BackendError;
use app::shared::range::{parse_range, Resolution};

use super::error::ApiError;
use super::AppState;
use crate::store::audit::{Action, Entry, Outcome};
use crate::store::history::{HistoryError, HostHistory};
use app::shared::clock::now_ms;

/// The admin-only PromQL route: a POST, so the guard demands an admin and the CSRF token.
pub const EXPLORE: &str = "/api/v1/explore";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/vitals", get(vitals))
        .route("/api/v1/score", get(score))
        .route("/api/v1/history", get(history))
        .route("/api/v1/trend/{name}", get(trend))
        .route(EXPLORE, axum::routing::post(explore))
        .route("/api/v1/stream", get(stream))
        .route("/healthz", get(healthz))
}

/// `GET /api/v1/vitals`: the latest vitals (null until the first round) and collector status.
#[derive(Serialize)]
pub struct VitalsResponse {
    pub vitals: Option<Vitals>,
    pub collectors: Vec<CollectorStatus>,
}

async fn vitals(State(state): State<AppState>) -> Json<VitalsResponse> {
    let o = state.hub.overview();
    Json(VitalsResponse {
        vitals: o.vitals.clone(),
        collectors: o.collectors.clone(),
    })
}

async fn score(State(state): State<AppState>) -> Json<Score> {
    Json(state.hub.overview().score.clone())
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    pub metric: Option<String>,
    pub range: Option<String>,
}

/// `GET /api/v1/history?metric=cpu_steal_pct&range=24h` (range defaults to 1h).
async fn history(
    State(state): State<AppState>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<History>, ApiError> {
    let metric = q.metric.filter(|m| !m.is_empty()).ok_or_else(|| {
        ApiError::BadRequest(
            "query parameter `metric` is required, e.g. metric=cpu_steal_pct".into(),
        )
    })?;
    let range = q.range.unwrap_or_else(|| "1h".into());
    Ok(Json(history_for(&state, &metric, &range).await?))
}

#[derive(Deserialize)]
pub struct TrendQuery {
    pub range: Option<String>,
    /// Absolute window in ms since the epoch (both or neither), e.g. after a drag-zoom.
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// A fleet host's trend instead of this machine's (from its heartbeats, in SQLite).
    pub host: Option<String>,
}

/// `GET /api/v1/trend/{name}?range=7d` or `?from=MS&to=MS` (default `range=7d`), and
/// `&host=NAME` for a fleet host: an allow-listed trend from Prometheus when `prometheus.url`
/// is set, else SQLite history, downsampled to at most 1,000 points a series, with its
/// projection. A fleet host's trends always come from SQLite (its heartbeats are stored there).
async fn trend(
    State(state): State<AppState>,
    axum::extract::Path(name): axum::extract::Path<String>,
    Query(q): Query<TrendQuery>,
) -> Result<Json<app::trends::Trend>, ApiError> {
    Ok(Json(trend_for(&state, &name, &q).await?))
}

/// Shared by the API and the trends page's server function.
pub async fn trend_for(
    state: &AppState,
    name: &str,
    q: &TrendQuery,
) -> Result<app::trends::Trend, crate::trends::TrendError> {
    if let Some(host) = &q.host {
        return host_trend_for(state, name, host, q).await;
    }
    let def = crate::trends::definition(name, &state.config)?;
    let now = now_ms();
    let window = app::trends::resolve_window(q.range.as_deref(), q.from, q.to, "7d", now)?;
    let source = def.source();
    let mut trend = match &state.prometheus {
        Some(client) => {
            let min_step = state.config.prometheus.min_step_secs;
            crate::trends::prometheus_trend(client, def, &window, min_step).await?
        }
        None => {
            let local = crate::platform::bus::LOCAL_HOST;
            stored_fitted(state, state.store.as_ref(), local, def, window, now).await?
        }
    };
    trend.source_down = source_down(&state.hub.overview().collectors, source);
    if name == "disk" {
        mark_cleanups(&mut trend, &state.maintenance);
    }
    Ok(trend)
}

/// A trend of `host` from `history` over `window` fitted to the history kept (a range reaching
/// before the history starts where it starts, and says so).
async fn stored_fitted(
    state: &AppState,
    history: &dyn HostHistory,
    host: &str,
    def: crate::trends::TrendDef,
    window: app::trends::Window,
    now: i64,
) -> Result<app::trends::Trend, crate::trends::TrendError> {
    let since = history.history_started_ms();
    let fitted = app::trends::fit_to_history(window, Some(since));
    let mut t =
        crate::trends::stored_trend(history, host, &state.config.history, def, &fitted, now)
            .await?;
    t.history_since_ms = Some(since);
    t.fitted = fitted != window;
    Ok(t)
}

/// A fleet host's trend: its own series, on the mount its score reads, from Prometheus when the
/// hub remote-writes there, else from the fleet's stored history; a host
/// whose heartbeats stopped says since when (the chart's "source down" line).
async fn host_trend_for(
    state: &AppState,
    name: &str,
    host: &str,
    q: &TrendQuery,
) -> Result<app::trends::Trend, crate::trends::TrendError> {
    let now = now_ms();
    let seen = state
        .fleet
        .trend_view(host, now)
        .ok_or_else(|| crate::trends::TrendError::UnknownHost(host.to_string()))?;
    let def = crate::trends::host_definition(name, &state.config, host, &seen.disk_mount)?;
    let window = app::trends::resolve_window(q.range.as_deref(), q.from, q.to, "7d", now)?;
    // Fleet samples are in Prometheus only when the hub writes them there.
    let mut t = match (&state.prometheus, state.fleet.remote_write()) {
        (Some(client), Some(_)) => {
            let min_step = state.config.prometheus.min_step_secs;
            crate::trends::prometheus_trend(client, def, &window, min_step).await?
        }
        // Every replica writes its heartbeats' samples to the shared history on PostgreSQL.
        _ => stored_fitted(state, state.fleet_history.as_ref(), host, def, window, now).await?,
    };
    t.source_down = seen.silent_since_ms.map(|ms| {
        format!(
            "no heartbeat from {host} since {}",
            app::shared::format::utc_datetime(ms)
        )
    });
    Ok(t)
}

/// The disk trend names what grows fastest and marks each cleanup run (from the maintenance
/// state in memory: no I/O on the request path).
fn mark_cleanups(trend: &mut app::trends::Trend, m: &crate::maintenance::Maintenance) {
    trend.growth = app::maintenance::growth::summary(&m.culprits());
    let snap = m.snapshot();
    for r in snap.cleanups.iter().rev() {
        if !(trend.start_ms..=trend.end_ms).contains(&r.started_ms) {
            continue;
        }
        trend.flags.push(app::trends::TrendFlag {
            start_ms: r.started_ms,
            end_ms: r.ended_ms.unwrap_or(r.started_ms),
            series: String::new(),
            text: format!(
                "cleanup ({}, {}) freed {}",
                r.trigger.as_str(),
                r.result.as_str(),
                app::shared::format::bytes_binary(r.freed_bytes as f64)
            ),
            kind: app::trends::FlagKind::Event,
        });
    }
}

/// The trend's collector in error, in words with since when (its last success).
fn source_down(
    collectors: &[app::vitals::CollectorStatus],
    source: app::vitals::metric_def::Source,
) -> Option<String> {
    use app::vitals::metric_def::Source;
    let (name, what) = match source {
        Source::Docker => (crate::docker::collector::NAME, "Docker"),
        Source::Vitals => (crate::vitals::collector::NAME, "the vitals collector"),
        Source::Maintenance => (crate::maintenance::NAME, "the maintenance collector"),
        Source::Models => (crate::models::NAME, "the models collector"),
    };
    let status = collectors
        .iter()
        .find(|c| c.name == name && c.state == app::vitals::CollectorState::Error)?;
    let since = match status.last_success_ms {
        Some(t) => format!("{} UTC", app::shared::format::utc_datetime(t)),
        None => "Steward started".into(),
    };
    Some(format!(
        "{what} unreachable since {since} ({})",
        status.message.as_deref().unwrap_or("no message")
    ))
}

/// The explore box's request: PromQL and a window like a trend's.
#[derive(Deserialize)]
pub struct ExploreRequest {
    pub query: String,
    #[serde(flatten)]
    pub window: TrendQuery,
}

/// `POST /api/v1/explore` (admin): arbitrary PromQL against the configured Prometheus, drawn
/// like a trend. Each run is written to the audit log with its query.
async fn explore(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<app::auth::SessionView>,
    Json(req): Json<ExploreRequest>,
) -> Result<Json<app::trends::Trend>, ApiError> {
    let Some(client) = &state.prometheus else {
        return Err(ApiError::BadRequest(
            "explore needs Prometheus: set prometheus.url (trends read SQLite without it)".into(),
        ));
    };
    let w = &req.window;
    let window = app::trends::resolve_window(w.range.as_deref(), w.from, w.to, "1h", now_ms())
        .map_err(crate::trends::TrendError::from)?;
    let p = &state.config.prometheus;
    let result = crate::trends::explore(
        client,
        crate::trends::Explore {
            query: &req.query,
            window,
            max_range_secs: p.explore_max_range_days * 86_400,
            min_step_secs: p.min_step_secs,
        },
    )
    .await
    .map_err(|e| match e {
        // A query the user mistyped is their request's fault, not a broken upstream.
        crate::trends::TrendError::Prometheus(crate::trends::prometheus::PromError::Parse(
            crate::trends::prometheus::parse::ParseError::Api { kind, message },
        )) if kind == "bad_data" => {
            crate::trends::TrendError::Explore(format!("Prometheus refused the query: {message}"))
        }
        other => other,
    });
    let query: String = req
        .query
        .chars()
        .take(crate::trends::MAX_QUERY_LEN)
        .collect();
    let (outcome, detail) = match &result {
        Ok(t) => (
            Outcome::Ok,
            format!("ok: {} lines · query: {query}", t.series.len()),
        ),
        Err(e) => (Outcome::Failed, format!("error: {e} · query: {query}")),
    };
    state
        .audit
        .record(Entry {
            actor: &user.username,
            action: Action::Explore,
            target: "prometheus",
            outcome,
            detail: Some(&detail),
        })
        .await;
    Ok(Json(result?))
}

/// Shared by the API and the pages' server function. A metric that is collected but has no
/// stored sample yet (before the first flush) is an empty series, not an unknown metric.
pub async fn history_for(
    state: &AppState,
    metric: &str,
    range: &str,
) -> Result<History, HistoryError> {
    match state.store.query(metric, range, now_ms()).await {
        Err(HistoryError::UnknownMetric(m)) if app::vitals::is_known_series(&m) => Ok(History {
            metric: m,
            range: range.trim().to_string(),
            resolution: Resolution::for_range(parse_range(range)?),
            points: Vec::new(),
        }),
        other => other,
    }
}

/// `GET /api/v1/stream`: Server-Sent Events. The first event is the whole `Overview` JSON;
/// after it, each round sends an event named `change` with only what changed
/// ([`app::overview::change::OverviewChange`]), and nothing when nothing did. A reconnect starts
/// with the whole overview again.
async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut sent: Option<Arc<app::vitals::Overview>> = None;
    let events = WatchStream::new(state.hub.subscribe())
        .filter_map(move |next| {
            let event = match sent.replace(next.clone()) {
                None => Some(Event::default().json_data(&*next)),
                Some(prev) => app::overview::change::OverviewChange::between(&prev, &next)
                    .map(|change| Event::default().event("change").json_data(change)),
            };
            let event = event.map(|e| {
                Ok(e.unwrap_or_else(|e| {
                    Event::default().comment(format!("serialisation failed: {e}"))
                }))
            });
            futures::future::ready(event)
        })
        .take_until(state.shutdown.clone().cancelled_owned());
    Sse::new(events).keep_alive(KeepAlive::default())
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    collectors: Vec<CollectorStatus>,
}

/// `GET /healthz`: 200 while serving; `status` is "degraded" when a collector is not ok.
async fn healthz(State(state): State<AppState>) -> Json<Health> {
    let collectors = state.hub.overview().collectors.clone();
    let degraded = collectors.iter().any(|c| {
        matches!(
            c.state,
            app::vitals::CollectorState::Degraded | app::vitals::CollectorState::Error
        )
    });
    Json(Health {
        status: if degraded { "degraded" } else { "ok" },
        collectors,
    })
}

/// The API's error as a page sees it; storage details stay in the server log.
fn backend_error(e: ApiError) -> app::shared::backend::BackendError {
    match e {
        ApiError::BadRequest(m) | ApiError::NotFound(m) => {
            app::shared::backend::BackendError::BadRequest(m)
        }
        ApiError::Upstream(m) | ApiError::UpstreamTimeout(m) => {
            app::shared::backend::BackendError::Unavailable(m)
        }
        ApiError::Unavailable(source) => {
            tracing::error!("history query failed: {source}");
            app::shared::backend::BackendError::Unavailable("see the server log".into())
        }
    }
}

/// Lets the Leptos server functions read the same state as the API.
pub struct ServerBackend {
    pub state: AppState,
}

impl app::overview::backend::OverviewBackend for ServerBackend {
    fn overview(&self) -> Arc<app::vitals::Overview> {
        self.state.hub.overview()
    }
}

#[async_trait::async_trait]
impl app::trends::backend::TrendsBackend for ServerBackend {
    async fn history(&self, metric: &str, range: &str) -> Result<History, BackendError> {
        history_for(&self.state, metric, range)
            .await
            .map_err(|e| backend_error(ApiError::from(e)))
    }

    async fn trend(
        &self,
        name: &str,
        range: Option<String>,
        from: Option<i64>,
        to: Option<i64>,
        host: Option<String>,
    ) -> Result<app::trends::Trend, BackendError> {
        let q = TrendQuery {
            range,
            from,
            to,
            host,
        };
        trend_for(&self.state, name, &q)
            .await
            .map_err(|e| backend_error(ApiError::from(e)))
    }

    fn prometheus_configured(&self) -> bool {
        self.state.prometheus.is_some()
    }
}

#[async_trait::async_trait]
impl app::containers::backend::ContainersBackend for ServerBackend {
    fn containers(&self) -> app::containers::Containers {
        self.state.hub.containers()
    }

    async fn container_detail(
        &self,
        id: &str,
    ) -> Result<app::containers::ContainerDetail, BackendError> {
        self.state
            .actions
            .detail(id, 50)
            .await
            .map_err(|e| match e {
                crate::docker::actions::ActionError::NotFound(_)
                | crate::docker::actions::ActionError::DockerOff => {
                    BackendError::BadRequest(e.to_string())
                }
                other => BackendError::Unavailable(other.to_string()),
            })
    }
}

#[async_trait::async_trait]
impl app::models::backend::ModelsBackend for ServerBackend {
    fn models(&self) -> app::models::Models {
        crate::http::models::view(&self.state)
    }

    async fn check_load(
        &self,
        backend: &str,
        model: &str,
        context: Option<u64>,
    ) -> Result<app::models::estimate::Verdict, BackendError> {
        use crate::models::control::{ControlError, EstimateQuery};
        let snapshot = crate::http::models::view(&self.state);
        let q = EstimateQuery {
            model: model.to_string(),
            context,
            kv_bytes: None,
        };
        self.state
            .models
            .check_load(&snapshot, backend, &q)
            .await
            .map_err(|e| match e {
                ControlError::Backend(_) => BackendError::Unavailable(e.to_string()),
                _ => BackendError::BadRequest(e.to_string()),
            })
    }
}

impl app::alerts::backend::AlertsBackend for ServerBackend {
    fn alerts(&self) -> app::alerts::Alerts {
        (*self.state.alerts.snapshot()).clone()
    }

    fn alert_badge(&self, signed_in: bool) -> app::alerts::Badge {
        if !signed_in && !self.state.config.auth.anonymous_read {
            return app::alerts::Badge::default();
        }
        self.state.alerts.badge()
    }

    fn digest(&self) -> Option<app::digest::Digest> {
        self.state.digest.latest().map(|d| d.digest)
    }
}

impl app::fleet::backend::FleetBackend for ServerBackend {
    fn fleet_cards(&self, filter: &app::fleet::FleetFilter) -> app::fleet::FleetPage {
        self.state.fleet.cards(filter, now_ms())
    }

    fn fleet_host(&self, host: &str) -> Option<app::fleet::FleetHost> {
        self.state.fleet.host(host, now_ms())
    }
}

impl app::maintenance::backend::MaintenanceBackend for ServerBackend {
    fn maintenance(&self) -> app::maintenance::Maintenance {
        (*self.state.maintenance.snapshot()).clone()
    }
}

#[async_trait::async_trait]
impl app::auth::backend::AuditBackend for ServerBackend {
    async fn audit(&self, before: Option<i64>) -> Result<Vec<app::auth::AuditEntry>, BackendError> {
        self.state.audit.list(before, 100).await.map_err(|e| {
            tracing::error!("audit query failed: {e}");
            BackendError::Unavailable("see the server log".into())
        })
    }
}
