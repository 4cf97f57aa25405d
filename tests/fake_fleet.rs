//! A fake host fleet for the health sweep's tests and benchmark: **one** server listening on
//! `0.0.0.0` answers `/healthz` for every address of 127.0.0.0/8 (Linux routes the whole block
//! to loopback), so thousands of hosts with distinct addresses cost one process. Each address
//! behaves as set (healthy by default); the address is read from the request's `Host` header.
//! Requests from anything but loopback are refused.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// How one fake host answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behaviour {
    /// 200 with Steward's `/healthz` body, status ok.
    Healthy,
    /// 200, Steward's body saying degraded (the Docker collector in error).
    Degraded,
    /// 503.
    Failing,
    /// Healthy after this long.
    Slow(Duration),
    /// Accepts the connection and never answers.
    Hang,
}

type Table = Arc<Mutex<HashMap<Ipv4Addr, Behaviour>>>;

pub struct FakeFleet {
    pub port: u16,
    table: Table,
    served: Arc<std::sync::atomic::AtomicU64>,
    _server: tokio::task::JoinHandle<()>,
}

impl FakeFleet {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let table: Table = Default::default();
        let served: Arc<std::sync::atomic::AtomicU64> = Default::default();
        let app = Router::new()
            .route("/healthz", get(healthz))
            .with_state((table.clone(), served.clone()));
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Self {
            port,
            table,
            served,
            _server: server,
        }
    }

    /// Host `i`'s address: 127.10.0.0 onwards (i < 16,777,216).
    pub fn address(i: u32) -> Ipv4Addr {
        let [_, b, c, d] = i.to_be_bytes();
        Ipv4Addr::new(127, 10u8.wrapping_add(b), c, d)
    }

    /// Host `i`'s health URL.
    pub fn url(&self, i: u32) -> String {
        format!("http://{}:{}/healthz", Self::address(i), self.port)
    }

    pub fn set(&self, i: u32, behaviour: Behaviour) {
        self.table
            .lock()
            .unwrap()
            .insert(Self::address(i), behaviour);
    }

    /// Requests answered (or hung) so far.
    pub fn served(&self) -> u64 {
        self.served.load(std::sync::atomic::Ordering::Relaxed)
    }
}

async fn healthz(
    State((table, served)): State<(Table, Arc<std::sync::atomic::AtomicU64>)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !peer.ip().is_loopback() {
        return StatusCode::FORBIDDEN.into_response();
    }
    served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let address: Option<Ipv4Addr> = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split(':').next())
        .and_then(|h| h.parse().ok());
    let behaviour = address
        .and_then(|a| table.lock().unwrap().get(&a).copied())
        .unwrap_or(Behaviour::Healthy);
    const OK: &str = r#"{"status":"ok","collectors":[{"name":"vitals","state":"ok"}]}"#;
    let json = [("content-type", "application/json")];
    match behaviour {
        Behaviour::Healthy => (json, OK).into_response(),
        Behaviour::Degraded => (
            json,
            r#"{"status":"degraded","collectors":[{"name":"vitals","state":"ok"},{"name":"docker","state":"error","message":"socket refused"}]}"#,
        )
            .into_response(),
        Behaviour::Failing => (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response(),
        Behaviour::Slow(d) => {
            tokio::time::sleep(d).await;
            (json, OK).into_response()
        }
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK.into_response()
        }
    }
}
