//! Sign-in, first-admin setup, sign-out and "who am I". Sign-in and setup accept a JSON body
//! (the API) or a form post (the pages work before the WASM loads): forms get redirects, JSON gets
//! JSON. Failures never say whether the username exists.

use app::auth::SessionView;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use super::guard::session_token;
use super::AppState;
use crate::auth::{AuthError, CurrentUser};
use crate::store::audit::{Action, Entry, Outcome, Refusal};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/setup", post(setup))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/session", get(session))
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
    /// The setup link's token (setup only).
    #[serde(default)]
    token: String,
    /// Where a form sign-in returns to.
    #[serde(default)]
    next: String,
    /// The password typed again (the setup form sends it; API clients may leave it out).
    #[serde(default)]
    password_confirm: Option<String>,
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Reads a JSON or form body (at most 16 KiB) into credentials.
async fn credentials(req: Request) -> Result<(bool, Credentials, String), Response> {
    let form = is_form(req.headers());
    let client = super::guard::client_address(&req);
    let body: Bytes = axum::body::to_bytes(req.into_body(), 16 * 1024)
        .await
        .map_err(|_| bad("the request body is too large"))?;
    let parsed = if form {
        serde_urlencoded_form(&body)
    } else {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    };
    parsed
        .map(|c| (form, c, client))
        .map_err(|e| bad(&format!("expected username and password: {e}")))
}

/// Parses `a=b&c=d` (the browser's form encoding) into credentials.
fn serde_urlencoded_form(body: &[u8]) -> Result<Credentials, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let mut map = serde_json::Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(decode(k)?, serde_json::Value::String(decode(v)?));
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| e.to_string())
}

fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("bad percent-encoding")?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|e| e.to_string())
}

fn bad(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

/// Only a same-origin path is followed after sign-in (no open redirect): one leading `/`, no
/// `//`, no backslash, and only visible ASCII. Browsers drop tabs and newlines from a
/// `Location`, so `/\t/evil.example` would become `//evil.example`; other bytes are not valid
/// in a header at all. Anything else goes to `/`.
fn safe_next(next: &str) -> &str {
    let visible = next.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if visible && next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

fn signed_in(state: &AppState, form: bool, next: &str, token: &str, view: SessionView) -> Response {
    let cookie = state.auth.session_cookie(token);
    if form {
        (
            [(header::SET_COOKIE, cookie)],
            Redirect::to(safe_next(next)),
        )
            .into_response()
    } else {
        ([(header::SET_COOKIE, cookie)], Json(view)).into_response()
    }
}

fn refused(form: bool, page: &str, next: &str, e: AuthError) -> Response {
    let status = match &e {
        AuthError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        AuthError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        AuthError::BadCredentials | AuthError::BadSetupToken => StatusCode::UNAUTHORIZED,
        AuthError::SetupClosed => StatusCode::FORBIDDEN,
        AuthError::UsernameTaken(_) => StatusCode::CONFLICT,
        AuthError::Credential(_) => StatusCode::BAD_REQUEST,
        AuthError::Db(_) | AuthError::PasswordFile { .. } => {
            tracing::error!("sign-in failed: {e}");
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    let message = match &e {
        AuthError::Db(_) => "the user store is unavailable".to_string(),
        other => other.to_string(),
    };
    if form {
        let next = super::guard::encode(safe_next(next));
        let target = format!(
            "{page}?error={}&next={next}",
            super::guard::encode(&message)
        );
        return Redirect::to(&target).into_response();
    }
    let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
    if let AuthError::RateLimited(secs) | AuthError::Busy(secs) = e {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    response
}

/// `POST /api/v1/auth/login` with `{username, password}` (or a form): sets the session cookie.
async fn login(State(state): State<AppState>, req: Request) -> Response {
    let (form, c, client) = match credentials(req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.auth.login(&c.username, &c.password, &client).await {
        Ok((token, view)) => {
            state
                .audit
                .record(Entry {
                    actor: &c.username,
                    action: Action::Login,
                    target: "session",
                    outcome: Outcome::Ok,
                    detail: Some(&client),
                })
                .await;
            signed_in(&state, form, &c.next, &token, view)
        }
        Err(e) => {
            // Counted, not a row each: anyone can send these.
            state.audit.refused(Refusal {
                action: Action::Login,
                actor: &c.username,
                client: &client,
                target: "session",
                reason: &e.to_string(),
            });
            refused(form, "/login", &c.next, e)
        }
    }
}

/// `POST /api/v1/auth/setup` with `{token, username, password}`: creates the first admin.
async fn setup(State(state): State<AppState>, req: Request) -> Response {
    let (form, c, client) = match credentials(req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result = match &c.password_confirm {
        Some(again) if *again != c.password => Err(AuthError::Credential(
            crate::auth::password::CredentialError::Mismatch,
        )),
        _ => state.auth.setup(&c.token, &c.username, &c.password).await,
    };
    match result {
        Ok((token, view)) => {
            state
                .audit
                .record(Entry {
                    actor: &c.username,
                    action: Action::Setup,
                    target: "first admin",
                    outcome: Outcome::Ok,
                    detail: Some(&client),
                })
                .await;
            signed_in(&state, form, "/", &token, view)
        }
        Err(e) => {
            state.audit.refused(Refusal {
                action: Action::Setup,
                actor: &c.username,
                client: &client,
                target: "first admin",
                reason: &e.to_string(),
            });
            if matches!(e, AuthError::SetupClosed) && form {
                return Redirect::to("/login").into_response();
            }
            let page = format!("/setup?token={}", super::guard::encode(&c.token));
            if form {
                let message = super::guard::encode(&e.to_string());
                return Redirect::to(&format!("{page}&error={message}")).into_response();
            }
            refused(false, "/setup", "/", e)
        }
    }
}

/// `POST /api/v1/auth/logout`: ends the session (needs the CSRF token like every action).
async fn logout(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
) -> Response {
    if let Err(e) = state.auth.logout(&user.token_digest).await {
        tracing::error!("sign-out failed: {e}");
    }
    state
        .audit
        .record(Entry {
            actor: &user.view.username,
            action: Action::Logout,
            target: "session",
            outcome: Outcome::Ok,
            detail: None,
        })
        .await;
    (
        [
            (header::SET_COOKIE, state.auth.clear_cookie()),
            // Pages the service worker kept for offline use hold this user's data.
            (
                header::HeaderName::from_static("clear-site-data"),
                "\"cache\", \"storage\"".to_string(),
            ),
        ],
        Json(serde_json::json!({ "ok": true })),
    )
        .into_response()
}

/// `GET /api/v1/auth/session`: the signed-in user with the CSRF token, or `null`.
async fn session(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let user = match session_token(&headers) {
        Some(t) => state.auth.session(&t).await.ok().flatten(),
        None => None,
    };
    Json(user.map(|u| u.view)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_redirect_targets() {
        let c = serde_urlencoded_form(b"username=ops&password=a+b%26c&next=%2Fcontainers").unwrap();
        assert_eq!(c.username, "ops");
        assert_eq!(c.password, "a b&c");
        assert_eq!(c.next, "/containers");
        assert!(serde_urlencoded_form(b"username=ops").is_err());
        assert!(serde_urlencoded_form(b"username=%zz&password=x").is_err());
        assert_eq!(safe_next("/containers"), "/containers");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil"), "/");
        // Browsers strip tabs and newlines, so these would lead off-site; others are not header
        // values at all.
        for bad in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n",
            "/\u{7f}",
            "/é",
            "/ x",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
        assert_eq!(safe_next("/trends?range=7d#x"), "/trends?range=7d#x");
    }
}
