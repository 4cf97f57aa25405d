//! `GET /api/v1/digest` and `/api/v1/digest.png` (the last digest drawn, never drawn in the
//! request), and `POST /api/v1/digest/send` (admin, behind the guard, audited).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use app::auth::SessionView;

use super::AppState;

/// The mutating routes, for the guard test's list of actions.
pub const ACTIONS: [&str; 1] = ["/api/v1/digest/send"];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/digest", get(digest))
        .route("/api/v1/digest.png", get(chart))
        .route(ACTIONS[0], post(send))
}

fn not_yet() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({ "error": "the first digest is being drawn; try again in a moment" })),
    )
        .into_response()
}

async fn digest(State(state): State<AppState>) -> Response {
    match state.digest.latest() {
        Some(d) => Json(d.digest).into_response(),
        None => not_yet(),
    }
}

async fn chart(State(state): State<AppState>) -> Response {
    match state.digest.latest() {
        Some(crate::digest::Drawn { png: Some(png), .. }) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "private, max-age=60"),
            ],
            png.as_ref().clone(),
        )
            .into_response(),
        Some(d) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": d.digest.chart_error.unwrap_or_default() })),
        )
            .into_response(),
        None => not_yet(),
    }
}

async fn send(State(state): State<AppState>, Extension(user): Extension<SessionView>) -> Response {
    match state.digest.send_now(&user.username).await {
        Ok(deliveries) => {
            let failed: Vec<String> = deliveries
                .iter()
                .filter_map(|d| {
                    d.result
                        .as_ref()
                        .err()
                        .map(|e| format!("{}: {e}", d.notifier))
                })
                .collect();
            if failed.is_empty() {
                Json(serde_json::json!({ "deliveries": deliveries })).into_response()
            } else {
                let error = format!("not delivered to {}", failed.join("; "));
                (
                    StatusCode::BAD_GATEWAY,
                    Json(serde_json::json!({ "deliveries": deliveries, "error": error })),
                )
                    .into_response()
            }
        }
        Err(e) => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}
