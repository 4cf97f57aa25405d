//! Container APIs: the collected list, logs (last lines or followed), Steward's events, and the
//! guarded actions (restart one, plan and run "restart all unhealthy", the job's progress).

use std::convert::Infallible;

use app::containers::{Container, Containers, Health, RestartPlan};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures::{Stream, StreamExt};
use serde::Deserialize;

use crate::docker::convert::LineSplitter;

use super::AppState;
use crate::docker::actions::ActionError;
use crate::docker::DockerError;

/// Every mutating route of this module with a sample path, for the guard test. Adding an action
/// here (or anywhere) without the guard is impossible: the guard wraps the whole router.
pub const ACTIONS: &[&str] = &[
    "/api/v1/containers/{id}/restart",
    "/api/v1/containers/restart-unhealthy/plan",
    "/api/v1/containers/restart-unhealthy",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/containers", get(list))
        .route("/api/v1/containers/unhealthy", get(unhealthy))
        .route("/api/v1/containers/{id}/logs", get(logs))
        .route("/api/v1/containers/{id}/logs/stream", get(follow_logs))
        .route("/api/v1/containers/{id}/events", get(events))
        .route(ACTIONS[0], post(restart))
        .route(ACTIONS[1], post(plan))
        .route(ACTIONS[2], post(execute))
        .route("/api/v1/jobs/{id}/events", get(job_events))
        .route("/api/v1/audit", get(audit))
}

impl IntoResponse for ActionError {
    fn into_response(self) -> Response {
        let status = match &self {
            // A setting, not an outage: the request conflicts with how Steward is configured.
            ActionError::DockerOff => StatusCode::CONFLICT,
            ActionError::NotFound(_) | ActionError::UnknownJob(_) => StatusCode::NOT_FOUND,
            ActionError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ActionError::StalePlan | ActionError::PlanMismatch | ActionError::NothingToDo => {
                StatusCode::CONFLICT
            }
            ActionError::Docker(DockerError::NotFound(_)) => StatusCode::NOT_FOUND,
            ActionError::Docker(DockerError::Timeout { .. }) => StatusCode::GATEWAY_TIMEOUT,
            ActionError::Docker(_) => StatusCode::BAD_GATEWAY,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

/// `GET /api/v1/containers`: everything the panel shows, as collected last.
async fn list(State(state): State<AppState>) -> Json<Containers> {
    Json(state.hub.containers())
}

/// `GET /api/v1/containers/unhealthy`: unhealthy containers with since, health log, restarts.
async fn unhealthy(State(state): State<AppState>) -> Json<Vec<Container>> {
    let list = state.hub.container_list();
    Json(
        list.map(|l| {
            l.iter()
                .filter(|c| c.health == Health::Unhealthy)
                .cloned()
                .collect()
        })
        .unwrap_or_default(),
    )
}

#[derive(Deserialize)]
struct TailQuery {
    tail: Option<u32>,
    /// `text`: a plain-text download (`time stream text` per line) instead of JSON.
    format: Option<String>,
}

/// `GET /api/v1/containers/{id}/logs?tail=50`: the last lines (1–5,000, default 50), each with
/// its time, stream and level; `&format=text` downloads them as a text file.
async fn logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TailQuery>,
) -> Result<Response, ActionError> {
    let text = match q.format.as_deref() {
        None | Some("json") => false,
        Some("text") => true,
        Some(other) => {
            return Err(ActionError::BadRequest(format!(
                "format must be json or text, not {other:?}"
            )))
        }
    };
    let detail = state.actions.detail(&id, q.tail.unwrap_or(50)).await?;
    let lines = detail.logs.map_err(|e| {
        ActionError::Docker(DockerError::Api {
            what: "logs".into(),
            message: e,
        })
    })?;
    if !text {
        return Ok(Json(lines).into_response());
    }
    let name = state.actions.resolve(&id)?.name;
    let mut body: String = lines
        .iter()
        .map(app::containers::logs::to_text)
        .collect::<Vec<_>>()
        .join("\n");
    body.push('\n');
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}-logs.txt\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/v1/containers/{id}/events`: Steward's record (health transitions, watchdog, actions).
async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<app::containers::ContainerEvent>>, ActionError> {
    let name = state.actions.resolve(&id)?.name;
    state
        .audit
        .container_events(&name, 100)
        .await
        .map(Json)
        .map_err(|e| {
            tracing::error!("container events query failed: {e}");
            ActionError::Docker(DockerError::Api {
                what: "events".into(),
                message: "storage unavailable".into(),
            })
        })
}

/// `GET /api/v1/containers/{id}/logs/stream`: Server-Sent Events, one per log line, following.
async fn follow_logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TailQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ActionError> {
    let docker = state
        .actions
        .docker()
        .ok_or(ActionError::DockerOff)?
        .clone();
    let id = state.actions.resolve(&id)?.id;
    let client = docker.get().await?;
    let lines = client
        .follow_logs(&id, q.tail.unwrap_or(50).clamp(1, 1000))
        .scan(LineSplitter::default(), |splitter, chunk| {
            let events: Vec<Result<Event, Infallible>> = match chunk {
                Ok((stream, text)) => splitter
                    .push(stream, &text)
                    .iter()
                    .filter_map(|l| Event::default().json_data(l).ok())
                    .map(Ok)
                    .collect(),
                Err(e) => vec![Ok(Event::default().event("error").data(e.to_string()))],
            };
            futures::future::ready(Some(futures::stream::iter(events)))
        })
        .flatten()
        .take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(lines).keep_alive(KeepAlive::default()))
}

/// `POST /api/v1/containers/{id}/restart` (admin, CSRF).
async fn restart(
    State(state): State<AppState>,
    Extension(user): Extension<app::auth::SessionView>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ActionError> {
    state.actions.restart(&user.username, &id).await?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

/// `POST /api/v1/containers/restart-unhealthy/plan` (admin, CSRF): fixes the list and its token.
async fn plan(
    State(state): State<AppState>,
    Extension(user): Extension<app::auth::SessionView>,
) -> Result<Json<RestartPlan>, ActionError> {
    state.actions.plan(&user.username).map(Json)
}

#[derive(Deserialize)]
struct Confirm {
    token: String,
    ids: Vec<String>,
}

/// `POST /api/v1/containers/restart-unhealthy` with `{token, ids}` (admin, CSRF): starts the job.
async fn execute(
    State(state): State<AppState>,
    Extension(user): Extension<app::auth::SessionView>,
    Json(c): Json<Confirm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ActionError> {
    let job = state
        .actions
        .execute(&user.username, &c.token, &c.ids)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "job": job, "events": format!("/api/v1/jobs/{job}/events") })),
    ))
}

/// `GET /api/v1/jobs/{id}/events`: the job's progress so far, then live, ending with `done`.
async fn job_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ActionError> {
    let (past, rx) = state.actions.subscribe(&id)?;
    Ok(super::progress::stream(
        past,
        rx,
        |e| e.phase == app::containers::JobPhase::Done,
        state.shutdown.clone(),
    ))
}

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

/// `GET /api/v1/audit?before=ID&limit=100`: newest first; signed-in users only, even when
/// anonymous reading is on.
async fn audit(
    State(state): State<AppState>,
    user: Option<Extension<app::auth::SessionView>>,
    Query(q): Query<AuditQuery>,
) -> Response {
    if user.is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({ "error": "sign in first" })),
        )
            .into_response();
    }
    match state.audit.list(q.before, q.limit.unwrap_or(100)).await {
        Ok(entries) => Json(entries).into_response(),
        Err(e) => {
            tracing::error!("audit query failed: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "error": "audit log is unavailable" })),
            )
                .into_response()
        }
    }
}
