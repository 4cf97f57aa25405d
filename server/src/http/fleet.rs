//! The fleet over HTTP: the agents' heartbeat (`POST /api/v1/agent/heartbeat`, bearer token,
//! behind the guard's agent branch), the fleet state for pages and scripts, and the admin's
//! host and token actions (audited). A malformed JSON body is answered 400 `{"error"}` by the
//! `json_errors` layer, as everywhere under `/api/`.

use app::auth::SessionView;
use app::fleet::FleetHost;
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
use crate::fleet::actions::{finish_batch, FleetActionError, PlanTarget};
use crate::fleet::heartbeat::{self, Heartbeat};
use crate::fleet::store::FleetError;
use crate::fleet::{HostFilter, IngestError};
use crate::store::audit::{Action, Entry, Outcome};
use app::shared::clock::now_ms;

/// The mutating routes, for the guard test's list of actions.
pub const ACTIONS: [&str; 11] = [
    "/api/v1/fleet/hosts",
    "/api/v1/fleet/hosts/{host}/rotate",
    "/api/v1/fleet/hosts/{host}/revoke",
    "/api/v1/fleet/hosts/{host}/delete",
    "/api/v1/fleet/hosts/{host}/address",
    "/api/v1/fleet/groups",
    "/api/v1/fleet/groups/{group}/rename",
    "/api/v1/fleet/groups/{group}/delete",
    "/api/v1/fleet/assign",
    "/api/v1/fleet/actions/plan",
    "/api/v1/fleet/actions",
];
/// Health changes the one-host answer lists.
const HEALTH_CHANGES: i64 = 20;
/// Most hosts one assignment names.
pub const MAX_ASSIGN: usize = 10_000;
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
        .route("/api/v1/fleet/stream", get(stream))
        .route("/api/v1/fleet/hosts/{host}", get(one))
        .route(ACTIONS[1], post(rotate))
        .route(ACTIONS[2], post(revoke))
        .route(ACTIONS[3], post(delete))
        .route(ACTIONS[4], post(set_address))
        .route("/api/v1/fleet/groups", get(groups).post(create_group))
        .route(ACTIONS[6], post(rename_group))
        .route(ACTIONS[7], post(delete_group))
        .route(ACTIONS[8], post(assign))
        .route(ACTIONS[9], post(plan_action))
        .route(ACTIONS[10], post(confirm_action))
        .route("/api/v1/fleet/actions/{batch}", get(action_batch))
        .route("/api/v1/fleet/actions/{batch}/events", get(action_events))
        .route("/api/v1/fleet/workers", get(workers))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// The least time between two events of the fleet stream.
const STREAM_MIN_GAP: std::time::Duration = std::time::Duration::from_secs(1);
/// The most: an event comes this often even when no heartbeat arrived, so a host's badge
/// turns stale or missing on screen as time passes.
const STREAM_MAX_GAP: std::time::Duration = std::time::Duration::from_secs(5);

/// `GET /api/v1/fleet/stream`: Server-Sent Events named `fleet`, each carrying the fleet's
/// change counter, at most one a second and at least one every 5 s. The fleet panel refetches
/// its page (its filters, its 100 hosts) on each: pushing every host of a 10,000-host fleet to
/// every open panel would cost far more than each panel asking for the rows it shows.
async fn stream(
    State(state): State<AppState>,
) -> axum::response::sse::Sse<
    impl futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures::StreamExt;
    let rx = state.fleet.subscribe();
    let events = futures::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first {
            tokio::time::sleep(STREAM_MIN_GAP).await;
            // Changed, or the longest gap passed (a closed channel: an event a second
            // until the shutdown ends the stream).
            let _ = tokio::time::timeout(STREAM_MAX_GAP - STREAM_MIN_GAP, rx.changed()).await;
        }
        let version = *rx.borrow_and_update();
        let event = Event::default().event("fleet").data(version.to_string());
        Some((Ok(event), (rx, false)))
    })
    .take_until(state.shutdown.clone().cancelled_owned());
    Sse::new(events).keep_alive(KeepAlive::default())
}

impl IntoResponse for FleetError {
    fn into_response(self) -> Response {
        let status = match &self {
            FleetError::BadName(_) => StatusCode::BAD_REQUEST,
            FleetError::Exists(_) => StatusCode::CONFLICT,
            FleetError::NoHost(_) | FleetError::NoGroup(_) => StatusCode::NOT_FOUND,
            FleetError::BadGroup(_) | FleetError::NoHosts(_) => StatusCode::BAD_REQUEST,
            FleetError::GroupExists(_) => StatusCode::CONFLICT,
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

impl IntoResponse for FleetActionError {
    fn into_response(self) -> Response {
        let status = match &self {
            FleetActionError::NoHost(_) | FleetActionError::NoGroup(_) => StatusCode::NOT_FOUND,
            FleetActionError::NothingToDo(_)
            | FleetActionError::StalePlan
            | FleetActionError::PlanMismatch => StatusCode::CONFLICT,
            FleetActionError::TooManyPlans => StatusCode::TOO_MANY_REQUESTS,
            FleetActionError::Store(e) => {
                tracing::error!("fleet actions: {e}");
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
/// answered `{"acked": seq, "rejected": [...], "clamped": [...], "actions": [...]}` (the
/// actions for the agent to run, see `app::fleet::action`).
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
    let mut answer = serde_json::json!({
        "acked": accepted.seq,
        "rejected": accepted.rejected,
        "clamped": accepted.clamped,
    });
    match state
        .fleet
        .ingest(agent.host.clone(), agent.digest.clone(), accepted)
        .await
    {
        Ok(orders) => {
            if !orders.is_empty() {
                answer["actions"] = serde_json::json!(orders);
            }
            Json(answer).into_response()
        }
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
    #[serde(default)]
    badge: String,
    #[serde(default)]
    health: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
    /// `full` (default) or `card`: each host as the fleet panel's card carries it.
    #[serde(default)]
    view: String,
}

/// `GET /api/v1/fleet/hosts?q=web&badge=stale&health=critical&group=eu&offset=0&limit=100`:
/// the counts and groups over the whole fleet and one page of matching hosts (name order);
/// `&view=card` makes each host a card (about a fifth of the bytes: a search box's answer).
async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Response {
    let card = match q.view.as_str() {
        "" | "full" => false,
        "card" => true,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("view must be full or card, not {other:?}"),
            )
        }
    };
    match app::fleet::FleetFilter::from_params(
        &q.q,
        &q.badge,
        &q.health,
        &q.group,
        q.offset,
        q.limit.unwrap_or(100),
        MAX_PAGE,
    ) {
        Ok(filter) if card => Json(state.fleet.cards(&filter, now_ms())).into_response(),
        Ok(filter) => Json(state.fleet.page(&filter, now_ms())).into_response(),
        Err(m) => error(StatusCode::BAD_REQUEST, m),
    }
}

/// `GET /api/v1/fleet/hosts/{host}`: one host with its tokens.
async fn one(State(state): State<AppState>, Path(host): Path<String>) -> Response {
    let Some(mut view): Option<FleetHost> = state.fleet.host(&host, now_ms()) else {
        return FleetError::NoHost(host).into_response();
    };
    let store = state.fleet.store();
    match tokio::try_join!(
        store.tokens(&host),
        store.health_changes(&host, HEALTH_CHANGES)
    ) {
        Ok((tokens, changes)) => {
            view.tokens = tokens;
            view.health_changes = changes;
        }
        Err(e) => return e.into_response(),
    }
    Json(view).into_response()
}

/// `GET /api/v1/fleet/workers`: the health sweep's and the ingest's statistics.
async fn workers(State(state): State<AppState>) -> Json<app::fleet::Workers> {
    Json(state.fleet.workers())
}

/// A health URL as the sweep accepts it; otherwise the 400 to answer.
fn check_address(a: &str) -> Option<Response> {
    let ok = (a.starts_with("http://") || a.starts_with("https://"))
        && a.len() <= 512
        && reqwest::Url::parse(a).is_ok_and(|u| u.host_str().is_some());
    (!ok).then(|| {
        error(
            StatusCode::BAD_REQUEST,
            "address must be an http:// or https:// health URL with a host, at most 512 bytes",
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetAddress {
    address: Option<String>,
}

/// `POST /api/v1/fleet/hosts/{host}/address` `{address}` (admin; `null` stops the checks).
async fn set_address(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    Path(host): Path<String>,
    // A malformed body is answered 400 `{\"error\"}` by the `json_errors` layer.
    Json(body): Json<SetAddress>,
) -> Response {
    let address = body.address.filter(|a| !a.is_empty());
    if let Some(a) = &address {
        if let Some(r) = check_address(a) {
            return r;
        }
    }
    let result = state
        .fleet
        .store()
        .set_address(&host, address.as_deref())
        .await;
    let detail = address.clone().unwrap_or_else(|| "cleared".into());
    audit(
        &state,
        &user,
        Action::HostAddress,
        &host,
        &result,
        Some(&detail),
    )
    .await;
    match result {
        Ok(()) => {
            if let Err(e) = state.fleet.reload_host(&host).await {
                tracing::error!("fleet: {e}");
            }
            Json(serde_json::json!({ "host": host, "address": address })).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /api/v1/fleet/groups`: every group with its hosts, badges and score.
async fn groups(State(state): State<AppState>) -> Response {
    let page = state.fleet.page(
        &HostFilter {
            limit: 0,
            ..Default::default()
        },
        now_ms(),
    );
    Json(page.groups).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupName {
    name: String,
}

/// `POST /api/v1/fleet/groups` `{name}` (admin).
async fn create_group(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    // A malformed body is answered 400 `{\"error\"}` by the `json_errors` layer.
    Json(body): Json<GroupName>,
) -> Response {
    let result = state.fleet.store().create_group(&body.name).await;
    audit(
        &state,
        &user,
        Action::GroupCreate,
        &body.name,
        &result,
        None,
    )
    .await;
    group_changed(&state, result, StatusCode::CREATED, &body.name).await
}

/// `POST /api/v1/fleet/groups/{group}/rename` `{name}` (admin): its hosts follow.
async fn rename_group(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    Path(group): Path<String>,
    // A malformed body is answered 400 `{\"error\"}` by the `json_errors` layer.
    Json(body): Json<GroupName>,
) -> Response {
    let result = state.fleet.store().rename_group(&group, &body.name).await;
    let detail = format!("renamed to {}", body.name);
    audit(
        &state,
        &user,
        Action::GroupRename,
        &group,
        &result,
        Some(&detail),
    )
    .await;
    group_changed(&state, result, StatusCode::OK, &body.name).await
}

/// `POST /api/v1/fleet/groups/{group}/delete` (admin): its hosts stay, ungrouped.
async fn delete_group(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    Path(group): Path<String>,
) -> Response {
    let result = state.fleet.store().delete_group(&group).await;
    audit(&state, &user, Action::GroupDelete, &group, &result, None).await;
    group_changed(&state, result, StatusCode::OK, &group).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Assign {
    hosts: Vec<String>,
    /// `null`: out of any group.
    group: Option<String>,
}

/// `POST /api/v1/fleet/assign` `{hosts: [...], group}` (admin): all the hosts, or none when one
/// does not exist.
async fn assign(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    // A malformed body is answered 400 `{\"error\"}` by the `json_errors` layer.
    Json(body): Json<Assign>,
) -> Response {
    if body.hosts.is_empty() || body.hosts.len() > MAX_ASSIGN {
        return error(
            StatusCode::BAD_REQUEST,
            format!("hosts must name 1–{MAX_ASSIGN} hosts"),
        );
    }
    let result = state
        .fleet
        .store()
        .assign(&body.hosts, body.group.as_deref())
        .await;
    let target = body.group.clone().unwrap_or_else(|| "(none)".into());
    let detail = format!("{} hosts", body.hosts.len());
    audit(
        &state,
        &user,
        Action::GroupAssign,
        &target,
        &result,
        Some(&detail),
    )
    .await;
    group_changed(&state, result.map(|_| ()), StatusCode::OK, &target).await
}

/// Answers a group change after bringing the in-memory fleet up to date.
async fn group_changed(
    state: &AppState,
    result: Result<(), FleetError>,
    status: StatusCode,
    name: &str,
) -> Response {
    if let Err(e) = result {
        return e.into_response();
    }
    if let Err(e) = state.fleet.reload_groups().await {
        return e.into_response();
    }
    (status, Json(serde_json::json!({ "group": name }))).into_response()
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
    Json(add): Json<AddHost>,
) -> Response {
    if let Some(a) = &add.address {
        if let Some(r) = check_address(a) {
            return r;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    group: Option<String>,
}

/// `POST /api/v1/fleet/actions/plan` `{host}` or `{group}` (admin): fixes which containers of
/// which hosts a restart of the unhealthy ones would name, for the confirmation modal; the
/// token it answers is valid once, for 5 minutes, for this admin.
async fn plan_action(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    Json(body): Json<PlanBody>,
) -> Response {
    let target = match (body.host, body.group) {
        (Some(h), None) => PlanTarget::Host(h),
        (None, Some(g)) => PlanTarget::Group(g),
        _ => return error(StatusCode::BAD_REQUEST, "name either a host or a group"),
    };
    match state.fleet.plan_restart(&user.username, target, now_ms()) {
        Ok(plan) => Json(plan).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    token: String,
    /// The plan's hosts, in its order: what the admin saw.
    hosts: Vec<String>,
}

/// `POST /api/v1/fleet/actions` `{token, hosts}` (admin): starts the confirmed actions (one per
/// host, audited) and answers their batch; progress at `/api/v1/fleet/actions/{batch}/events`.
async fn confirm_action(
    State(state): State<AppState>,
    Extension(user): Extension<SessionView>,
    Json(body): Json<ConfirmBody>,
) -> Response {
    match state
        .fleet
        .confirm_restart(&user.username, &body.token, &body.hosts, now_ms())
        .await
    {
        Ok(batch) => (StatusCode::ACCEPTED, Json(batch)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A batch from memory, else from the database (older than the hosts' recent actions).
async fn find_batch(
    state: &AppState,
    batch: &str,
) -> Result<app::fleet::action::ActionBatch, Response> {
    if let Some(b) = state.fleet.batch(batch, now_ms()) {
        return Ok(b);
    }
    match state.fleet.store().batch(batch).await {
        Ok(actions) if !actions.is_empty() => {
            let now = now_ms();
            let actions = actions
                .into_iter()
                .map(|a| app::fleet::action::FleetAction {
                    state: a.state_at(now),
                    ..a
                })
                .collect();
            Ok(finish_batch(batch.to_string(), actions))
        }
        Ok(_) => Err(error(
            StatusCode::NOT_FOUND,
            format!("no fleet action batch {batch}"),
        )),
        Err(e) => Err(e.into_response()),
    }
}

/// `GET /api/v1/fleet/actions/{batch}`: the batch's actions with their states and results.
async fn action_batch(State(state): State<AppState>, Path(batch): Path<String>) -> Response {
    match find_batch(&state, &batch).await {
        Ok(b) => Json(b).into_response(),
        Err(r) => r,
    }
}

/// `GET /api/v1/fleet/actions/{batch}/events`: Server-Sent Events (unnamed), each the batch's
/// JSON, sent when it changes (checked on the fleet's change counter at most once a second
/// and at least every 6 s, so an expiry shows); the stream ends after the event saying every action finished.
async fn action_events(State(state): State<AppState>, Path(batch): Path<String>) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures::StreamExt;
    let first = match find_batch(&state, &batch).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let rx = state.fleet.subscribe();
    let fleet = state.fleet.clone();
    let members: std::sync::Arc<[String]> = first.actions.iter().map(|a| a.host.clone()).collect();
    let events = futures::stream::unfold(
        (rx, Some(first), None::<app::fleet::action::ActionBatch>),
        move |(mut rx, next, last)| {
            let fleet = fleet.clone();
            let batch = batch.clone();
            let members = members.clone();
            async move {
                let current = match next {
                    Some(b) => b,
                    None => {
                        // A finished batch ends the stream.
                        if last.as_ref().is_none_or(|b| b.finished) {
                            return None;
                        }
                        loop {
                            // At most one look a second, however fast heartbeats commit.
                            tokio::time::sleep(STREAM_MIN_GAP).await;
                            let _ = tokio::time::timeout(STREAM_MAX_GAP, rx.changed()).await;
                            let b = fleet.batch_of(&batch, &members, now_ms())?;
                            if Some(&b) != last.as_ref() {
                                break b;
                            }
                        }
                    }
                };
                let data = serde_json::to_string(&current).unwrap_or_default();
                let event = Event::default().data(data);
                Some((
                    Ok::<_, std::convert::Infallible>(event),
                    (rx, None, Some(current)),
                ))
            }
        },
    )
    .take_until(state.shutdown.clone().cancelled_owned());
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
