//! The API's error type: a status code and a message, sent as `{"error": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::history::HistoryError;

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
            crate::trends::TrendError::Unknown(_) => ApiError::NotFound(e.to_string()),
            crate::trends::TrendError::Window(_) | crate::trends::TrendError::Explore(_) => {
                ApiError::BadRequest(e.to_string())
            }
            crate::trends::TrendError::History(h) => h.into(),
            crate::trends::TrendError::Prometheus(p) => match p {
                crate::prometheus::PromError::Timeout { .. } => {
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
