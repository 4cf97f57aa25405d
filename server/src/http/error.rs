//! The API's error type: a status code and a message, sent as `{"error": "..."}`, and the layer
//! that gives every error under `/api/` that one shape: axum's own rejections (a malformed
//! query or body, a wrong content type) and server functions' errors included.

use app::shared::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::store::history::HistoryError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request was invalid; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// Prometheus failed or answered an error; the message says which.
    #[error("{0}")]
    Upstream(String),
    /// Prometheus did not answer in time.
    #[error("{0}")]
    UpstreamTimeout(String),
    /// No such resource (e.g. an unknown trend name).
    #[error("{0}")]
    NotFound(String),
    /// Storage failed; details are logged, the client gets a short message.
    #[error("history storage is unavailable")]
    Unavailable(#[source] HistoryError),
}

impl From<HistoryError> for ApiError {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::UnknownMetric(_) | HistoryError::Range(_) => {
                ApiError::BadRequest(e.to_string())
            }
            other => ApiError::Unavailable(other),
        }
    }
}

impl From<crate::trends::TrendError> for ApiError {
    fn from(e: crate::trends::TrendError) -> Self {
        match e {
            crate::trends::TrendError::Unknown(_) | crate::trends::TrendError::UnknownHost(_) => {
                ApiError::NotFound(e.to_string())
            }
            crate::trends::TrendError::Window(_)
            | crate::trends::TrendError::Explore(_)
            | crate::trends::TrendError::NotForHosts(_) => ApiError::BadRequest(e.to_string()),
            crate::trends::TrendError::History(h) => h.into(),
            crate::trends::TrendError::Prometheus(p) => match p {
                crate::trends::prometheus::PromError::Timeout { .. } => {
                    ApiError::UpstreamTimeout(p.to_string())
                }
                _ => ApiError::Upstream(p.to_string()),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Unavailable(source) => {
                tracing::error!("history query failed: {source}");
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

/// The header server functions put on their error responses.
const SERVER_FN_ERROR: &str = "serverfnerror";
/// The most of an error body that is read to rewrite it.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Every error under `/api/` leaves as `{"error": "…"}` with a status from one set: 400 for
/// anything wrong with the request (axum's 415 and 422 included), 401, 403, 404, 405, 409,
/// 413, 429, 500, 502, 503, 504. Server functions' errors get the status their kind says.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    if !api || response.status().as_u16() < 400 {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let server_fn = response.headers().contains_key(SERVER_FN_ERROR);
    let status = match response.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => {
            StatusCode::BAD_REQUEST
        }
        s => s,
    };
    if content_type.starts_with("application/json") && !server_fn && status == response.status() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    if server_fn {
        if let Ok(e) = serde_json::from_slice::<AppError>(&bytes) {
            parts.status =
                StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Response::from_parts(parts, Body::from(bytes));
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let message = match text.trim() {
        // An HTML page (the app's "not found") says nothing an API client can use.
        t if t.is_empty() || content_type.starts_with("text/html") => {
            status.canonical_reason().unwrap_or("error").to_lowercase()
        }
        t => t.to_string(),
    };
    parts.status = status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let mut out = (status, Json(serde_json::json!({ "error": message }))).into_response();
    for (name, value) in parts.headers.iter() {
        out.headers_mut().entry(name).or_insert(value.clone());
    }
    out
}

/// A handler that panicked answers 500 `{"error": "internal error"}` instead of closing the
/// connection without a word, and the panic is logged with its message: a bug must show up
/// in the log and to the client, never as a silent dropped request.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({ "error": "internal error" })),
    )
        .into_response()
}
