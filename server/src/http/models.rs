//! `GET /api/v1/models` (backends, GPUs, memory: the latest round, never a backend call), the
//! pre-load check, and load / unload (admin, behind the guard, audited).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use app::models::estimate::Verdict;
use app::models::{AtRisk, Models};

use super::AppState;
use crate::models::control::{ControlError, EstimateQuery, LoadResult};
use crate::store::audit::{Action, Entry, Outcome};

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
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match &self {
            ControlError::UnknownBackend(_) | ControlError::UnknownModel { .. } => {
                StatusCode::NOT_FOUND
            }
            ControlError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControlError::ReadOnly(..) => StatusCode::CONFLICT,
            ControlError::Backend(_) => StatusCode::BAD_GATEWAY,
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

/// `POST /api/v1/models/{backend}/load` (admin): checks, loads, measures, audits.
async fn load(
    State(state): State<AppState>,
    Extension(user): Extension<app::auth::SessionView>,
    Path(backend): Path<String>,
    Json(body): Json<LoadBody>,
) -> Result<Json<LoadResult>, ControlError> {
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
    let target = format!("{backend}/{}", body.model);
    let result = state
        .models
        .load(
            &user.username,
            &backend,
            &body.model,
            body.context,
            &keep_alive,
            Some(verdict.estimate.total_bytes),
        )
        .await;
    let detail = match &result {
        Ok(measured) => format!(
            "{} — measured {}",
            verdict.text,
            measured.map_or("unknown".into(), |b| app::shared::format::bytes(b as f64))
        ),
        Err(e) => format!("{} — {e}", verdict.text),
    };
    state
        .audit
        .record(Entry {
            actor: &user.username,
            action: Action::ModelLoad,
            target: &target,
            outcome: if result.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Failed
            },
            detail: Some(&detail),
        })
        .await;
    state.models.poke();
    Ok(Json(LoadResult {
        verdict,
        measured_bytes: result?,
    }))
}

#[derive(Deserialize)]
struct UnloadBody {
    model: String,
}

/// `POST /api/v1/models/{backend}/unload` (admin).
async fn unload(
    State(state): State<AppState>,
    Extension(user): Extension<app::auth::SessionView>,
    Path(backend): Path<String>,
    Json(body): Json<UnloadBody>,
) -> Result<StatusCode, ControlError> {
    let result = state.models.unload(&backend, &body.model).await;
    let target = format!("{backend}/{}", body.model);
    let detail = result.as_ref().err().map(|e| e.to_string());
    state
        .audit
        .record(Entry {
            actor: &user.username,
            action: Action::ModelUnload,
            target: &target,
            outcome: if result.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Failed
            },
            detail: detail.as_deref(),
        })
        .await;
    state.models.poke();
    result.map(|()| StatusCode::NO_CONTENT)
}
