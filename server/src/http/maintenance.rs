//! Maintenance APIs: the state, job heartbeats (`/api/v1/jobs/{slug}/ping…`, authenticated by
//! the job's own token), the admin's job changes and the cleanup (dry run, run, progress).

use std::convert::Infallible;

use app::maintenance::{CleanupPlan, JobToken, Maintenance, StepPhase, Trigger};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures::Stream;
use serde::Deserialize;

use super::AppState;
use crate::maintenance::job_store::Ping;
use crate::maintenance::{MaintenanceError, PingError};

/// Mutating routes of this module with sample paths, for the guard test.
pub const ACTIONS: &[&str] = &[
    "/api/v1/maintenance/jobs",
    "/api/v1/maintenance/jobs/{slug}/rotate",
    "/api/v1/maintenance/jobs/{slug}/delete",
    "/api/v1/maintenance/cleanup/plan",
    "/api/v1/maintenance/cleanup",
];

/// Whether a path is a job's ping: no session, the job's token instead (checked by the handler).
pub fn is_ping(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/v1/jobs/") else {
        return false;
    };
    let mut parts = rest.split('/');
    let slug_ok = parts.next().is_some_and(|s| !s.is_empty());
    slug_ok
        && parts.next() == Some("ping")
        && match parts.next() {
            None => true,
            Some(kind) => matches!(kind, "start" | "ok" | "fail") && parts.next().is_none(),
        }
}

pub fn router(ping_body_limit: usize) -> Router<AppState> {
    let pings = Router::new()
        .route("/api/v1/jobs/{slug}/ping", post(ping_ok))
        .route("/api/v1/jobs/{slug}/ping/{kind}", post(ping))
        .layer(DefaultBodyLimit::max(ping_body_limit));
    Router::new()
        .route("/api/v1/maintenance", get(state))
        .route(ACTIONS[0], post(create_job))
        .route(ACTIONS[1], post(rotate))
        .route(ACTIONS[2], post(delete_job))
        .route(ACTIONS[3], post(plan))
        .route(ACTIONS[4], post(run))
        .route("/api/v1/maintenance/cleanup/{run}/events", get(events))
        .merge(pings)
}

impl IntoResponse for MaintenanceError {
    fn into_response(self) -> Response {
        let status = match &self {
            MaintenanceError::BadRequest(_) => StatusCode::BAD_REQUEST,
            MaintenanceError::UnknownJob(_)
            | MaintenanceError::UnknownDryRun(_)
            | MaintenanceError::UnknownRun(_) => StatusCode::NOT_FOUND,
            MaintenanceError::Exists(_) | MaintenanceError::Busy(_) | MaintenanceError::NoSteps => {
                StatusCode::CONFLICT
            }
            MaintenanceError::Storage(e) => {
                tracing::error!("maintenance storage: {e}");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

impl IntoResponse for PingError {
    fn into_response(self) -> Response {
        let status = match &self {
            PingError::Unauthorized => StatusCode::UNAUTHORIZED,
            PingError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PingError::Storage(e) => {
                tracing::error!("ping storage: {e}");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

/// `GET /api/v1/maintenance`: jobs (judged), cleanup runs, steps, findings.
async fn state(State(state): State<AppState>) -> Json<Maintenance> {
    Json((*state.maintenance.snapshot()).clone())
}

#[derive(Deserialize)]
struct PingQuery {
    exit_code: Option<i32>,
}

/// `POST /api/v1/jobs/{slug}/ping`: the job ran fine (same as `/ping/ok`).
async fn ping_ok(
    state: State<AppState>,
    Path(slug): Path<String>,
    q: Query<PingQuery>,
    headers: axum::http::HeaderMap,
    ext: axum::http::Extensions,
    body: Bytes,
) -> Result<StatusCode, PingError> {
    record(state, slug, Ping::Ok, q, headers, ext, body).await
}

/// `POST /api/v1/jobs/{slug}/ping/{start|ok|fail}?exit_code=N`, body: the log tail (text).
async fn ping(
    state: State<AppState>,
    Path((slug, kind)): Path<(String, String)>,
    q: Query<PingQuery>,
    headers: axum::http::HeaderMap,
    ext: axum::http::Extensions,
    body: Bytes,
) -> Result<StatusCode, PingError> {
    let kind = match kind.as_str() {
        "start" => Ping::Start,
        "ok" => Ping::Ok,
        "fail" => Ping::Fail,
        other => {
            return Err(PingError::BadRequest(format!(
                "a ping is start, ok or fail, not {other:?}"
            )))
        }
    };
    record(state, slug, kind, q, headers, ext, body).await
}

async fn record(
    State(state): State<AppState>,
    slug: String,
    kind: Ping,
    Query(q): Query<PingQuery>,
    headers: axum::http::HeaderMap,
    ext: axum::http::Extensions,
    body: Bytes,
) -> Result<StatusCode, PingError> {
    let client = ext
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".into(), |c| c.0.ip().to_string());
    let text = String::from_utf8_lossy(&body);
    state
        .maintenance
        .ping(
            &slug,
            super::guard::bearer_token(&headers),
            kind,
            q.exit_code,
            &text,
            &client,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct NewJob {
    slug: String,
    name: String,
    schedule: String,
    grace_secs: Option<u64>,
}

/// `POST /api/v1/maintenance/jobs` (admin): creates a heartbeat job; the token is shown once.
async fn create_job(
    State(state): State<AppState>,
    Extension(user): Extension<app::auth::SessionView>,
    Json(j): Json<NewJob>,
) -> Result<(StatusCode, Json<JobToken>), MaintenanceError> {
    let token = state
        .maintenance
        .create_job(&user.username, &j.slug, &j.name, &j.schedule, j.grace_secs)
        .await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// `POST /api/v1/maintenance/jobs/{slug}/rotate` (admin): a new token; the old one stops.
async fn rotate(
    State(state): State<AppState>,
    Extension(user): Extension<app::auth::SessionView>,
    Path(slug): Path<String>,
) -> Result<Json<JobToken>, MaintenanceError> {
    state
        .maintenance
        .rotate(&user.username, &slug)
        .await
        .map(Json)
}

/// `POST /api/v1/maintenance/jobs/{slug}/delete` (admin): the job and its reports.
async fn delete_job(
    State(state): State<AppState>,
    Extension(user): Extension<app::auth::SessionView>,
    Path(slug): Path<String>,
) -> Result<StatusCode, MaintenanceError> {
    state.maintenance.delete(&user.username, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/maintenance/cleanup/plan` (admin): the dry run.
async fn plan(
    State(state): State<AppState>,
    Extension(user): Extension<app::auth::SessionView>,
) -> Result<Json<CleanupPlan>, MaintenanceError> {
    state.maintenance.plan(&user.username).await.map(Json)
}

#[derive(Deserialize)]
struct Confirm {
    dry_run: i64,
}

/// `POST /api/v1/maintenance/cleanup` with `{dry_run}` (admin): starts the confirmed run.
async fn run(
    State(state): State<AppState>,
    Extension(user): Extension<app::auth::SessionView>,
    Json(c): Json<Confirm>,
) -> Result<(StatusCode, Json<serde_json::Value>), MaintenanceError> {
    let id = state
        .maintenance
        .start_run(&user.username, Some(c.dry_run), Trigger::Manual)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "run": id,
            "events": format!("/api/v1/maintenance/cleanup/{id}/events"),
        })),
    ))
}

/// `GET /api/v1/maintenance/cleanup/{run}/events`: the run's progress so far, then live,
/// ending with the `finished` event.
async fn events(
    State(state): State<AppState>,
    Path(run): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, MaintenanceError> {
    let (past, rx) = state.maintenance.subscribe(run)?;
    Ok(super::progress::stream(
        past,
        rx,
        |e| e.phase == StepPhase::Finished,
        state.shutdown.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_paths() {
        assert!(is_ping("/api/v1/jobs/backup/ping"));
        assert!(is_ping("/api/v1/jobs/backup/ping/start"));
        assert!(is_ping("/api/v1/jobs/backup/ping/fail"));
        assert!(!is_ping("/api/v1/jobs/backup/ping/other"));
        assert!(!is_ping("/api/v1/jobs/backup/ping/ok/x"));
        assert!(!is_ping("/api/v1/jobs//ping"));
        assert!(!is_ping("/api/v1/jobs/abc/events"));
        assert!(!is_ping("/api/v1/maintenance/jobs"));
    }
}
