//! `GET /api/v1/alerts` (the latest snapshot, never a receiver call), acknowledge, silences and
//! a notifier's test (admin, behind the guard, audited).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use app::alerts::{Alerts, NewSilence, SilenceView};
use app::auth::SessionView;

use super::AppState;
use crate::alerts::AlertError;

/// The mutating routes, for the guard test's list of actions.
pub const ACTIONS: [&str; 4] = [
    "/api/v1/alerts/acknowledge",
    "/api/v1/alerts/silences",
    "/api/v1/alerts/silences/{id}/expire",
    "/api/v1/alerts/notifiers/{name}/test",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alerts", get(alerts))
        .route(ACTIONS[0], post(acknowledge))
        .route(ACTIONS[1], post(silence))
        .route(ACTIONS[2], post(expire))
        .route(ACTIONS[3], post(test))
}

impl IntoResponse for AlertError {
    fn into_response(self) -> Response {
        let status = match &self {
            AlertError::NotFiring(_) | AlertError::UnknownSilence(_) => StatusCode::NOT_FOUND,
            AlertError::Invalid(_) => StatusCode::BAD_REQUEST,
            AlertError::Notify(crate::alerts::notify::NotifyError::Unknown(_)) => {
                StatusCode::NOT_FOUND
            }
            AlertError::Notify(_) | AlertError::Store(_) => {
                tracing::error!("alerts: {self}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

async fn alerts(State(state): State<AppState>) -> Json<Alerts> {
    Json((*state.alerts.snapshot()).clone())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    /// The alert's key, `rule{label="value"}`.
    key: String,
}

async fn acknowledge(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    Json(body): Json<AckBody>,
) -> Result<Json<app::alerts::Alert>, AlertError> {
    Ok(Json(
        state.alerts.acknowledge(&body.key, &user.username).await?,
    ))
}

async fn silence(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    Json(body): Json<NewSilence>,
) -> Result<(StatusCode, Json<SilenceView>), AlertError> {
    let view = state.alerts.silence(body, &user.username).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn expire(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    Path(id): Path<i64>,
) -> Result<StatusCode, AlertError> {
    state.alerts.expire(id, &user.username).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    Path(name): Path<String>,
) -> Result<Response, AlertError> {
    Ok(
        match state.alerts.test_notifier(&name, &user.username).await? {
            Ok(()) => Json(serde_json::json!({ "delivered": true })).into_response(),
            Err(e) => (
                StatusCode::BAD_GATEWAY,
                Json(serde_json::json!({ "delivered": false, "error": e })),
            )
                .into_response(),
        },
    )
}
