//! `GET /api/v1/models` (backends, GPUs, memory: the latest round, never a backend call), the
//! pre-load check, load (a background job whose progress is streamed) and unload (admin,
//! behind the guard, audited).

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures::Stream;
use serde::Deserialize;

use app::models::estimate::Verdict;
use app::models::{AtRisk, LoadEvent, Models};

use super::AppState;
use crate::models::control::{ControlError, EstimateQuery, LoadRequest};

/// The mutating routes, for the guard test's list of actions.
pub const ACTIONS: [&str; 2] = [
    "/api/v1/models/{backend}/load",
    "/api/v1/models/{backend}/unload",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/models", get(models))
        .route("/api/v1/models/{backend}/estimate", get(estimate))
        .route(ACTIONS[0], post(load))
        .route(ACTIONS[1], post(unload))
        .route("/api/v1/models/loads/{job}/events", get(load_events))
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match &self {
            ControlError::UnknownBackend(_) | ControlError::UnknownModel { .. } => {
                StatusCode::NOT_FOUND
            }
            ControlError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControlError::ReadOnly(..) | ControlError::Busy(..) => StatusCode::CONFLICT,
            ControlError::Backend(_) => StatusCode::BAD_GATEWAY,
            ControlError::UnknownJob(_) => StatusCode::NOT_FOUND,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

/// The models snapshot with what a load would put at risk: the largest containers (those
/// without a memory limit first) and processes, from the hub's latest rounds.
pub fn view(state: &AppState) -> Models {
    let mut m = (*state.models.snapshot()).clone();
    let mut risk: Vec<AtRisk> = Vec::new();
    if let Some(containers) = state.hub.container_list() {
        risk.extend(containers.iter().filter_map(|c| {
            Some(AtRisk {
                name: c.name.clone(),
                kind: "container".into(),
                bytes: c.mem_usage_bytes?,
                limit_bytes: c.mem_limit_bytes,
            })
        }));
    }
    if let Some(v) = state.hub.overview().vitals.as_ref() {
        risk.extend(v.top_rss.iter().map(|p| AtRisk {
            name: format!("{} ({})", p.name, p.pid),
            kind: "process".into(),
            bytes: p.rss_bytes,
            limit_bytes: None,
        }));
    }
    m.at_risk = app::models::estimate::most_at_risk(risk, 8);
    m
}

async fn models(State(state): State<AppState>) -> Json<Models> {
    Json(view(&state))
}

/// `GET /api/v1/models/{backend}/estimate?model=…&context=…`: the pre-load check.
async fn estimate(
    State(state): State<AppState>,
    Path(backend): Path<String>,
    Query(q): Query<EstimateQuery>,
) -> Result<Json<Verdict>, ControlError> {
    let snapshot = view(&state);
    state
        .models
        .check_load(&snapshot, &backend, &q)
        .await
        .map(Json)
}

#[derive(Deserialize)]
struct LoadBody {
    model: String,
    context: Option<u64>,
    /// How long the backend keeps it loaded when idle (Ollama's duration, default `30m`).
    keep_alive: Option<String>,
}

/// `POST /api/v1/models/{backend}/load` (admin): checks, then starts the load as a job and
/// answers 202 with the verdict and where its progress streams; the job measures and audits.
async fn load(
    State(state): State<AppState>,
    Extension(user): Extension<app::auth::SessionView>,
    Path(backend): Path<String>,
    Json(body): Json<LoadBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ControlError> {
    state.models.ensure_writable(&backend)?;
    let keep_alive = body.keep_alive.unwrap_or_else(|| "30m".into());
    if keep_alive.len() > 16
        || !keep_alive
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(ControlError::BadRequest(
            "keep_alive must be a duration such as 30m, 2h or -1".into(),
        ));
    }
    let snapshot = view(&state);
    let q = EstimateQuery {
        model: body.model.clone(),
        context: body.context,
        kv_bytes: None,
    };
    let verdict = state.models.check_load(&snapshot, &backend, &q).await?;
    let job = state.models.start_load(
        LoadRequest {
            actor: user.username.clone(),
            backend,
            model: body.model,
            context: body.context,
            keep_alive,
        },
        &verdict,
    )?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "job": job,
            "events": format!("/api/v1/models/loads/{job}/events"),
            "verdict": verdict,
        })),
    ))
}

/// `GET /api/v1/models/loads/{job}/events`: the load's progress so far, then live, ending
/// with `loaded` or `failed`.
async fn load_events(
    State(state): State<AppState>,
    Path(job): Path<u64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ControlError> {
    let (past, rx) = state.models.load_events(job)?;
    Ok(super::progress::stream(
        past,
        rx,
        LoadEvent::is_last,
        state.shutdown.clone(),
    ))
}

#[derive(Deserialize)]
struct UnloadBody {
    model: String,
}

/// `POST /api/v1/models/{backend}/unload` (admin), audited.
async fn unload(
    State(state): State<AppState>,
    Extension(user): Extension<app::auth::SessionView>,
    Path(backend): Path<String>,
    Json(body): Json<UnloadBody>,
) -> Result<StatusCode, ControlError> {
    state
        .models
        .unload(&user.username, &backend, &body.model)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}
