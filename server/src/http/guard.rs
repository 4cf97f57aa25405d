//! The one guard in front of every route. It knows two kinds of identity: browser sessions (a
//! cookie) and agents (an `Authorization: Bearer` token, for fleet hosts).
//!
//! - The agent API ([`AGENT_PREFIX`]) takes agents only: a valid token (401 otherwise), any
//!   method, no CSRF token (no browser attaches a bearer token by itself). A session is not
//!   enough there (403); elsewhere bearer tokens are ignored, so an agent token opens nothing
//!   else.
//! - Reads: signed-in users (or anyone, with `auth.anonymous_read`).
//! - Everything else (any method but GET/HEAD/OPTIONS, on any path, server functions
//!   included): a session (401), the session's CSRF token in `X-CSRF-Token` (403) and the
//!   admin role (403).
//!
//! Because it wraps the whole router, a new action cannot be added unguarded;
//! `tests/api/guard.rs` enumerates the actions to prove it.

use app::auth::{Role, CSRF_HEADER, SESSION_COOKIE};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;

use super::AppState;
use crate::auth::{AgentIdentity, CurrentUser};
use crate::fleet::store::TokenCheck;

/// Routes for fleet agents (the heartbeat). Only agent tokens open them.
pub const AGENT_PREFIX: &str = "/api/v1/agent/";

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

/// Why a state-changing request is refused as cross-site, if it is. Browsers say where a
/// request comes from: `Sec-Fetch-Site` (every current browser; it cannot be set by a page)
/// decides when present; otherwise `Origin` must name this host (`Host`, or `X-Forwarded-Host`
/// behind a proxy that rewrites `Host`). A form on another site must not be able to sign
/// someone in or act for them. Clients that send neither (curl, scripts) are not browsers and
/// are judged by their credentials alone.
pub fn cross_site(headers: &axum::http::HeaderMap) -> Option<&'static str> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = value("sec-fetch-site") {
        return (!matches!(site, "same-origin" | "none"))
            .then_some("cross-site request refused (Sec-Fetch-Site)");
    }
    let origin = value(header::ORIGIN.as_str())?;
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    let hosts = [value(header::HOST.as_str()), value("x-forwarded-host")];
    match origin_host {
        Some(o) if hosts.contains(&Some(o)) => None,
        _ => Some("cross-origin request refused (Origin does not match Host)"),
    }
}

/// The client's address, as the per-address limits and the audit log know it.
pub fn client_address(req: &Request) -> String {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The bearer token of an `Authorization` header, if there is one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// Decides a request to the agent API: a valid agent token, nothing else.
async fn agent_guard(state: &AppState, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let refuse = |state: &AppState, req: &Request, status, reason: &'static str| {
        state.audit.refused(crate::store::audit::Refusal {
            action: crate::store::audit::Action::Guard,
            actor: "-",
            client: &client_address(req),
            target: &path,
            reason,
        });
        error(status, reason)
    };
    let Some(token) = bearer_token(req.headers()) else {
        let (status, reason) = match session_token(req.headers()) {
            Some(_) => (
                StatusCode::FORBIDDEN,
                "the agent API takes agent tokens, not sessions",
            ),
            None => (
                StatusCode::UNAUTHORIZED,
                "agent token required (Authorization: Bearer)",
            ),
        };
        return refuse(state, &req, status, reason);
    };
    match state.fleet.authenticate(token).await {
        Ok(TokenCheck::Valid { host, digest }) => {
            req.extensions_mut()
                .insert::<AgentIdentity>(AgentIdentity { host, digest });
            next.run(req).await
        }
        Ok(TokenCheck::Refused { why, .. }) => refuse(
            state,
            &req,
            StatusCode::UNAUTHORIZED,
            if why == "revoked" {
                "this agent token was revoked"
            } else {
                "this agent token was rotated and its grace period is over"
            },
        ),
        Ok(TokenCheck::Unknown) => {
            refuse(state, &req, StatusCode::UNAUTHORIZED, "unknown agent token")
        }
        Err(e) => {
            tracing::error!("agent token lookup failed: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "token store is unavailable",
            )
        }
    }
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
    if path.starts_with(AGENT_PREFIX) {
        return agent_guard(&state, req, next).await;
    }
    // A job's ping carries the job's own token, checked (and refusals counted) by its handler;
    // cron scripts have no session.
    if req.method() == Method::POST && super::maintenance::is_ping(&path) {
        return next.run(req).await;
    }
    // Elsewhere a bearer token is ignored (a proxy in front may send its own): only a
    // session counts, so an agent token opens nothing but the agent API.
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
            let target = if state.auth.setup_pending().await {
                "/setup".to_string()
            } else {
                format!("/login?next={}", encode(next_path))
            };
            return Redirect::to(&target).into_response();
        }
    } else if let Err((status, reason)) = may_act(&req, &path, user.as_ref()) {
        // Counted, not a row each: anyone can send these.
        let actor = user.as_ref().map_or("-", |u| u.view.username.as_str());
        state.audit.refused(crate::store::audit::Refusal {
            action: crate::store::audit::Action::Guard,
            actor,
            client: &client_address(&req),
            target: &path,
            reason,
        });
        return error(status, reason);
    }
    if let Some(u) = user {
        req.extensions_mut().insert(u.view.clone());
        req.extensions_mut().insert::<CurrentUser>(u);
    }
    next.run(req).await
}

/// Whether a state-changing request may go on: same-site, and (but for sign-in and setup) a
/// session, its CSRF token and, but for [`USER_ACTIONS`], the admin role.
fn may_act(
    req: &Request,
    path: &str,
    user: Option<&CurrentUser>,
) -> Result<(), (StatusCode, &'static str)> {
    if let Some(reason) = cross_site(req.headers()) {
        return Err((StatusCode::FORBIDDEN, reason));
    }
    if PUBLIC_ACTIONS.contains(&path) {
        return Ok(());
    }
    let Some(u) = user else {
        return Err((StatusCode::UNAUTHORIZED, "sign in first"));
    };
    let sent = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !crate::auth::password::same_secret(sent, &u.view.csrf) {
        return Err((
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token (X-CSRF-Token header)",
        ));
    }
    if u.view.role != Role::Admin && !USER_ACTIONS.contains(&path) {
        return Err((
            StatusCode::FORBIDDEN,
            "admins only: this account may only read",
        ));
    }
    Ok(())
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
    fn reads_bearer_tokens() {
        let with = |v: &'static str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            h
        };
        assert_eq!(bearer_token(&with("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&with("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&with("Basic abc")), None);
        assert_eq!(bearer_token(&with("Bearer ")), None);
        assert_eq!(bearer_token(&axum::http::HeaderMap::new()), None);
    }

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

    #[test]
    fn cross_site_requests_are_told_apart() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = axum::http::HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        assert_eq!(cross_site(&headers(&[])), None);
        assert_eq!(
            cross_site(&headers(&[
                ("sec-fetch-site", "same-origin"),
                ("host", "a:3000"),
                ("origin", "http://a:3000")
            ])),
            None
        );
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")])).is_some());
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")])).is_some());
        assert!(cross_site(&headers(&[
            ("host", "a:3000"),
            ("origin", "http://evil.example")
        ]))
        .is_some());
        assert!(cross_site(&headers(&[("host", "a:3000"), ("origin", "null")])).is_some());
        // Behind a proxy that rewrites Host, the forwarded host counts.
        assert_eq!(
            cross_site(&headers(&[
                ("host", "127.0.0.1:3000"),
                ("x-forwarded-host", "ops.example"),
                ("origin", "https://ops.example")
            ])),
            None
        );
    }
}
