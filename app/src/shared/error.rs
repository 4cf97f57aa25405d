//! The error every server function returns. It travels as the same JSON shape as every other
//! route's error, `{"error": "…", "kind": "…"}`; the server's error layer turns `kind` into the
//! HTTP status (`server/src/http/error.rs`), so a missing argument is a 400, not a 500.

use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What kind of failure, which decides the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Missing or malformed arguments, an unknown metric, a bad range: 400.
    BadRequest,
    /// Sign in first: 401.
    Unauthorized,
    /// No such thing (a host that is not in the fleet): 404.
    NotFound,
    /// Storage, Docker or another backend failed: 503.
    Unavailable,
    /// Anything else (a bug, or the request never reached the server): 500.
    Server,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::NotFound => 404,
            ErrorKind::Unavailable => 503,
            ErrorKind::Server => 500,
        }
    }

    /// The kind a status answers for (the inverse of [`ErrorKind::status`]).
    pub fn from_status(status: u16) -> Self {
        match status {
            401 => ErrorKind::Unauthorized,
            404 => ErrorKind::NotFound,
            503 => ErrorKind::Unavailable,
            400..=499 => ErrorKind::BadRequest,
            _ => ErrorKind::Server,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}")]
pub struct AppError {
    pub error: String,
    pub kind: ErrorKind,
}

impl AppError {
    pub fn new(kind: ErrorKind, error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            kind,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<crate::shared::backend::BackendError> for AppError {
    fn from(e: crate::shared::backend::BackendError) -> Self {
        let kind = match &e {
            crate::shared::backend::BackendError::BadRequest(_) => ErrorKind::BadRequest,
            crate::shared::backend::BackendError::Unavailable(_) => ErrorKind::Unavailable,
        };
        AppError::new(kind, e.to_string())
    }
}

impl FromServerFnError for AppError {
    // Decoded from text like every other answer the overview reads: one `Deserialize` copy in
    // the WASM instead of a second one over byte slices.
    type Encoder = crate::shared::codec::JsonTextEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let kind = match &value {
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::UnsupportedRequestMethod(_) => ErrorKind::BadRequest,
            _ => ErrorKind::Server,
        };
        AppError::new(kind, value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_are_bad_requests() {
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Args("missing field".into()));
        assert_eq!(e.kind.status(), 400);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], "bad_request");
        assert!(json["error"].as_str().unwrap().contains("missing field"));
        assert_eq!(ErrorKind::from_status(422), ErrorKind::BadRequest);
        assert_eq!(ErrorKind::from_status(503).status(), 503);
    }
}
