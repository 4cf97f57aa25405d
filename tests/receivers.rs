//! Alert receivers on loopback for the tests, in one place. The generic webhook is Steward's
//! own protocol, so its receiver is simply a recorder. **Stand-ins** for Telegram and ntfy,
//! which cannot be reached from here: they take the requests those services document (the
//! Bot API's `POST /bot<token>/sendMessage` with a JSON body, answering
//! `{"ok":true,"result":{…}}`, or `{"ok":false,"error_code":400,"description":…}` for an
//! unknown chat; `sendPhoto` as `multipart/form-data` with `chat_id`, `caption` and the
//! `photo` file, answering the message with its `photo` sizes; ntfy's `POST /<topic>` with the message as the body and `Title`, `Priority`
//! and `Tags` headers, answering the published message as JSON) and record them.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// One request a receiver took.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A loopback server that records what it is sent: `/hook/...` (webhooks), `/bot<token>/...`
/// (Telegram), `/ntfy/<topic>` (ntfy).
pub struct Receivers {
    pub base: String,
    /// The Telegram bot token it accepts.
    pub token: String,
    log: Arc<Mutex<Vec<Received>>>,
    _server: tokio::task::JoinHandle<()>,
}

type Shared = Arc<Mutex<Vec<Received>>>;

fn record(log: &Shared, path: String, headers: HeaderMap, body: Bytes) {
    log.lock().unwrap().push(Received {
        path,
        headers,
        body,
    });
}

async fn hook(State(log): State<Shared>, Path(name): Path<String>, h: HeaderMap, b: Bytes) {
    record(&log, format!("/hook/{name}"), h, b);
}

async fn telegram(
    State(log): State<Shared>,
    Path((bot, method)): Path<(String, String)>,
    h: HeaderMap,
    b: Bytes,
) -> Response {
    let multipart = h
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    record(&log, format!("/{bot}/{method}"), h, b.clone());
    let body: Value = if multipart {
        json!({
            "chat_id": form_field(&b, "chat_id").map(|v| String::from_utf8_lossy(v).into_owned()),
            "caption": form_field(&b, "caption").map(|v| String::from_utf8_lossy(v).into_owned()),
            "photo": form_field(&b, "photo").map(|v| v.len()),
        })
    } else {
        serde_json::from_slice(&b).unwrap_or(Value::Null)
    };
    if bot != format!("bot{}", TELEGRAM_TOKEN) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    }
    if body["chat_id"] != "-100200300" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"})),
        )
            .into_response();
    }
    if method == "sendPhoto" {
        // The Bot API refuses a photo request without a photo.
        if body["photo"].as_u64().unwrap_or(0) == 0 {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"ok": false, "error_code": 400, "description": "Bad Request: there is no photo in the request"})),
            )
                .into_response();
        }
        return Json(json!({
            "ok": true,
            "result": {
                "message_id": 43,
                "date": 1_700_000_000,
                "chat": {"id": -100200300, "type": "supergroup", "title": "ops"},
                "photo": [{"file_id": "AgAC1", "file_unique_id": "AQAD1", "width": 800, "height": 400, "file_size": body["photo"]}],
                "caption": body["caption"],
            }
        }))
        .into_response();
    }
    Json(json!({
        "ok": true,
        "result": {
            "message_id": 42,
            "date": 1_700_000_000,
            "chat": {"id": -100200300, "type": "supergroup", "title": "ops"},
            "text": body["text"],
        }
    }))
    .into_response()
}

async fn ntfy(
    State(log): State<Shared>,
    Path(topic): Path<String>,
    h: HeaderMap,
    b: Bytes,
) -> Response {
    let title = h
        .get("title")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    record(&log, format!("/ntfy/{topic}"), h, b.clone());
    Json(json!({
        "id": "sPs71M8A2T",
        "time": 1_700_000_000,
        "expires": 1_700_043_200,
        "event": "message",
        "topic": topic,
        "title": title,
        "message": String::from_utf8_lossy(&b),
    }))
    .into_response()
}

/// The value of one field of a `multipart/form-data` body (the bytes between its headers'
/// blank line and the next boundary).
pub fn form_field<'a>(body: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let marker = format!("name=\"{name}\"");
    let at = find(body, marker.as_bytes())?;
    let start = at + find(&body[at..], b"\r\n\r\n")? + 4;
    let end = start + find(&body[start..], b"\r\n--")?;
    Some(&body[start..end])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The bot token the Telegram stand-in accepts.
pub const TELEGRAM_TOKEN: &str = "123456:ABC-test-token";
/// The chat it knows.
pub const TELEGRAM_CHAT: &str = "-100200300";

impl Receivers {
    pub async fn start() -> Self {
        let log: Shared = Arc::default();
        let app = Router::new()
            .route("/hook/{name}", post(hook))
            .route("/{bot}/{method}", post(telegram))
            .route("/ntfy/{topic}", post(ntfy))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base,
            token: TELEGRAM_TOKEN.into(),
            log,
            _server: server,
        }
    }

    /// What was received on paths starting with `prefix`, in order.
    pub fn received(&self, prefix: &str) -> Vec<Received> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .cloned()
            .collect()
    }
}
