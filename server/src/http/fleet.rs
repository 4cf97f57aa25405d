//! The fleet over HTTP: the agents' heartbeat (`POST /api/v1/agent/heartbeat`, bearer token,
//! behind the guard's agent branch), the fleet state for pages and scripts, and the admin's
//! host and token actions (audited).

use app::auth::SessionView;
use app::fleet::{Badge, FleetHost, FleetPage};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use tower_http::decompression::RequestDecompressionLayer;

use super::AppState;
use crate::auth::AgentIdentity;
use crate::fleet::heartbeat::{self, Heartbeat};
use crate::fleet::store::FleetError;
use crate::fleet::{HostFilter, IngestError};
use crate::store::audit::{Action, Entry, Outcome};
use app::shared::clock::now_ms;

/// The mutating routes, for the guard test's list of actions.
pub const ACTIONS: [&str; 4] = [
    "/api/v1/fleet/hosts",
    "/api/v1/fleet/hosts/{host}/rotate",
    "/api/v1/fleet/hosts/{host}/revoke",
    "/api/v1/fleet/hosts/{host}/delete",
];
/// Most hosts one page lists.
pub const MAX_PAGE: usize = 500;

pub fn router(body_limit: usize) -> Router<AppState> {
    let ingest = Router::new()
        .route(crate::fleet::agent::HEARTBEAT_PATH, post(heartbeat))
        // The limit applies to the decompressed body, so a small gzip bomb is a 413.
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestDecompressionLayer::new());
    Router::new()
        .merge(ingest)
        .route("/api/v1/fleet/hosts", get(list).post(add))
        .route("/api/v1/fleet/hosts/{host}", get(one))
        .route(ACTIONS[1], post(rotate))
        .route(ACTIONS[2], post(revoke))
        .route(ACTIONS[3], post(delete))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

impl IntoResponse for FleetError {
    fn into_response(self) -> Response {
        let status = match &self {
            FleetError::BadName(_) => StatusCode::BAD_REQUEST,
            FleetError::Exists(_) => StatusCode::CONFLICT,
            FleetError::NoHost(_) => StatusCode::NOT_FOUND,
            FleetError::Db(e) => {
                tracing::error!("fleet: {e}");
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "fleet storage is unavailable",
                );
            }
        };
        error(status, self.to_string())
    }
}

/// `POST /api/v1/agent/heartbeat`: strict JSON (optionally gzip), validated, committed, then
/// answered `{"acked": seq, "rejected": [...], "clamped": [...]}`.
async fn heartbeat(
    State(state): State<AppState>,
    Extension(agent): Extension<AgentIdentity>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            state.fleet.refused(&agent.host, &e.body_text());
            return error(e.status(), e.body_text());
        }
    };
    let hb: Heartbeat = match serde_json::from_slice(&body) {
        Ok(hb) => hb,
        Err(e) => {
            let reason = format!("malformed heartbeat: {e}");
            state.fleet.refused(&agent.host, &reason);
            return error(StatusCode::BAD_REQUEST, reason);
        }
    };
    let accepted = match heartbeat::validate(
        hb,
        &agent.host,
        now_ms(),
        state.fleet.limits(),
        state.fleet.thresholds(),
    ) {
        Ok(a) => a,
        Err(e) => {
            state.fleet.refused(&agent.host, &e.to_string());
            return error(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    let answer = serde_json::json!({
        "acked": accepted.seq,
        "rejected": accepted.rejected,
        "clamped": accepted.clamped,
    });
    match state
        .fleet
        .ingest(agent.host.clone(), agent.digest.clone(), accepted)
        .await
    {
        Ok(()) => Json(answer).into_response(),
        Err(e @ IngestError::Busy(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "5")],
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    badge: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

/// `GET /api/v1/fleet/hosts?q=web&badge=stale&offset=0&limit=100`: the counts over the whole
/// fleet and one page of matching hosts (name order).
async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Response {
    let badge = match q.badge.as_deref() {
        None | Some("") => None,
        Some(b) => match Badge::parse(b) {
            Some(b) => Some(b),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("badge must be live, stale, missing or never_seen (got {b:?})"),
                )
            }
        },
    };
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return error(
            StatusCode::BAD_REQUEST,
            format!("limit must be 1–{MAX_PAGE} (got {limit})"),
        );
    }
    let page: FleetPage = state.fleet.page(
        &HostFilter {
            query: q.q,
            badge,
            offset: q.offset,
            limit,
        },
        now_ms(),
    );
    Json(page).into_response()
}

/// `GET /api/v1/fleet/hosts/{host}`: one host with its tokens.
async fn one(State(state): State<AppState>, Path(host): Path<String>) -> Response {
    let Some(mut view): Option<FleetHost> = state.fleet.host(&host, now_ms()) else {
        return FleetError::NoHost(host).into_response();
    };
    match state.fleet.store().tokens(&host).await {
        Ok(tokens) => view.tokens = tokens,
        Err(e) => return e.into_response(),
    }
    Json(view).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddHost {
    name: String,
    #[serde(default)]
    address: Option<String>,
}

/// `POST /api/v1/fleet/hosts` `{name, address?}` (admin): the new host's token, shown once.
async fn add(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    body: Result<Json<AddHost>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(add) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    if let Some(a) = &add.address {
        if !(a.starts_with("http://") || a.starts_with("https://")) || a.len() > 512 {
            return error(
                StatusCode::BAD_REQUEST,
                "address must be an http:// or https:// health URL of at most 512 bytes",
            );
        }
    }
    let result = state
        .fleet
        .store()
        .add(&add.name, add.address.as_deref())
        .await;
    audit(&state, &user, Action::HostAdd, &add.name, &result, None).await;
    match result {
        Ok(token) => {
            if let Err(e) = state.fleet.reload_host(&add.name).await {
                tracing::error!("fleet: {e}");
            }
            (
                StatusCode::CREATED,
                Json(serde_json::json!({ "host": add.name, "token": token })),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `POST /api/v1/fleet/hosts/{host}/rotate` (admin): a new token; the old one works for the
/// grace period (`fleet.token_grace_secs`).
async fn rotate(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    Path(host): Path<String>,
) -> Response {
    let grace_ms = state.config.fleet.token_grace_secs as i64 * 1000;
    let result = state.fleet.store().rotate(&host, grace_ms).await;
    let detail = format!("old token valid for {} s", grace_ms / 1000);
    audit(
        &state,
        &user,
        Action::HostRotate,
        &host,
        &result,
        Some(&detail),
    )
    .await;
    match result {
        Ok(token) => Json(serde_json::json!({
            "host": host,
            "token": token,
            "old_valid_until_ms": now_ms() + grace_ms,
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/v1/fleet/hosts/{host}/revoke` (admin): every token of the host stops now.
async fn revoke(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    Path(host): Path<String>,
) -> Response {
    let result = state.fleet.store().revoke(&host).await;
    audit(&state, &user, Action::HostRevoke, &host, &result, None).await;
    match result {
        Ok(n) => Json(serde_json::json!({ "host": host, "revoked": n })).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/v1/fleet/hosts/{host}/delete` (admin): the host and its tokens.
async fn delete(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    Path(host): Path<String>,
) -> Response {
    let result = state.fleet.store().delete(&host).await;
    audit(&state, &user, Action::HostDelete, &host, &result, None).await;
    match result {
        Ok(()) => {
            if let Err(e) = state.fleet.reload_host(&host).await {
                tracing::error!("fleet: {e}");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn audit<T>(
    state: &AppState,
    user: &SessionView,
    action: Action,
    host: &str,
    result: &Result<T, FleetError>,
    detail: Option<&str>,
) {
    let error = result.as_ref().err().map(|e| e.to_string());
    state
        .audit
        .record(Entry {
            actor: &user.username,
            action,
            target: host,
            outcome: if result.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Failed
            },
            detail: error.as_deref().or(detail),
        })
        .await;
}
