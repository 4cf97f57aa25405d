//! The one guard in front of every route. Reads: signed-in users (or anyone, with
//! `auth.anonymous_read`). Everything else (any method but GET/HEAD/OPTIONS, on any path, server
//! functions included): a session (401), the session's CSRF token in `X-CSRF-Token` (403) and
//! the admin role (403). Because it wraps the whole router, a new action cannot be added
//! unguarded; `tests/api/guard.rs` enumerates the actions to prove it.

use app::auth::{Role, CSRF_HEADER, SESSION_COOKIE};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;

use super::AppState;
use crate::auth::CurrentUser;

/// Mutating routes that need no session: they check credentials or the setup token themselves.
pub const PUBLIC_ACTIONS: &[&str] = &["/api/v1/auth/login", "/api/v1/auth/setup"];
/// Mutating routes any signed-in user may call (with CSRF): ending one's own session.
pub const USER_ACTIONS: &[&str] = &["/api/v1/auth/logout"];

/// Every registered Leptos server function with its HTTP method (for the guard test).
pub fn server_functions() -> Vec<(String, Method)> {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| (path.to_string(), method))
        .collect()
}

/// Paths readable without signing in: the sign-in pages, assets, health and metrics.
fn public_read(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/setup" | "/healthz" | "/metrics" | "/favicon.svg"
    ) || path.starts_with("/pkg/")
        || path.starts_with("/api/v1/auth/")
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The session token from the request's cookies.
pub fn session_token(req: &axum::http::HeaderMap) -> Option<String> {
    req.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let user = match session_token(req.headers()) {
        Some(token) => match state.auth.session(&token).await {
            Ok(u) => u,
            Err(e) => {
                tracing::error!("session lookup failed: {e}");
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "session store is unavailable",
                );
            }
        },
        None => None,
    };
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe {
        if user.is_none() && !state.auth.config().anonymous_read && !public_read(&path) {
            if path.starts_with("/api/") {
                return error(StatusCode::UNAUTHORIZED, "sign in first");
            }
            let next_path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let target = if state.auth.setup_pending() {
                "/setup".to_string()
            } else {
                format!("/login?next={}", encode(next_path))
            };
            return Redirect::to(&target).into_response();
        }
    } else if !PUBLIC_ACTIONS.contains(&path.as_str()) {
        let Some(u) = &user else {
            return error(StatusCode::UNAUTHORIZED, "sign in first");
        };
        let sent = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !crate::auth::password::same_secret(sent, &u.view.csrf) {
            return error(
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token (X-CSRF-Token header)",
            );
        }
        if u.view.role != Role::Admin && !USER_ACTIONS.contains(&path.as_str()) {
            return error(
                StatusCode::FORBIDDEN,
                "admins only: this account may only read",
            );
        }
    }
    if let Some(u) = user {
        req.extensions_mut().insert(u.view.clone());
        req.extensions_mut().insert::<CurrentUser>(u);
    }
    next.run(req).await
}

/// Percent-encodes a value for a query parameter.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_session_cookie_among_others() {
        let mut h = axum::http::HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; steward_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(session_token(&h).as_deref(), Some("abc"));
        let mut h = axum::http::HeaderMap::new();
        h.append(header::COOKIE, "steward_session=".parse().unwrap());
        assert_eq!(session_token(&h), None);
        assert_eq!(encode("/containers?x=a b"), "/containers%3Fx%3Da%20b");
    }
}
