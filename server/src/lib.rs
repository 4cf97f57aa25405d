//! Steward's server: collectors feed a [`state::Hub`]; pages and APIs read the hub; a history task
//! writes samples to SQLite. [`Application::build`] wires it all and binds the port (0 in tests).

#![recursion_limit = "256"]

pub mod check;
pub mod collectors;
pub mod config;
pub mod history;
pub mod http;
pub mod prometheus;
pub mod state;
pub mod trends;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::backend::BackendHandle;
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;

use crate::collectors::vitals::{self, VitalsCollector};
use crate::config::Config;
use crate::history::{task::WriterSettings, HistoryError, HistoryStore};
use crate::http::AppState;
use crate::state::Hub;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the history database {path}: {source}")]
    History {
        path: std::path::PathBuf,
        source: HistoryError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("prometheus: {0}")]
    Prometheus(prometheus::PromError),
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

/// A built, bound, not yet serving Steward.
pub struct Application {
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    addr: SocketAddr,
}

impl Application {
    /// Opens the database, starts the collectors and history writer, and binds the port.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let db_path = config.database_path();
        let store =
            Arc::new(
                HistoryStore::open(&db_path)
                    .await
                    .map_err(|source| StartError::History {
                        path: db_path.clone(),
                        source,
                    })?,
            );
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;

        let shutdown = CancellationToken::new();
        let (history_tx, history_rx) = tokio::sync::mpsc::channel(1024);
        let hub = Arc::new(Hub::new(
            config.score.disk_mount.clone(),
            config.collector.interval_secs,
            Some(history_tx),
        ));
        let interval = config.collector.interval();
        let round_timeout = Duration::from_secs(config.collector.round_timeout_secs);
        let tasks = vec![
            tokio::spawn(vitals::run(
                VitalsCollector::new(&config),
                interval,
                round_timeout,
                hub.clone(),
                shutdown.clone(),
            )),
            tokio::spawn(history::task::run(
                store.clone(),
                history_rx,
                WriterSettings {
                    config: config.history.clone(),
                    arrival_lag: interval + round_timeout,
                },
                hub.clone(),
                shutdown.clone(),
            )),
        ];

        let leptos_options = LeptosOptions::builder()
            .output_name("steward")
            .site_root(config.site_root.to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .env(leptos::config::Env::PROD)
            .build();
        let prometheus = match config.prometheus.url.as_str() {
            "" => None,
            url => Some(
                prometheus::PrometheusClient::new(
                    url,
                    Duration::from_secs(config.prometheus.timeout_secs),
                )
                .map_err(StartError::Prometheus)?,
            ),
        };
        let state = AppState {
            leptos_options: leptos_options.clone(),
            hub,
            store,
            config: Arc::new(config),
            prometheus,
            shutdown: shutdown.clone(),
        };
        Ok(Self {
            listener,
            router: router(state),
            shutdown,
            tasks,
            addr,
        })
    }

    /// The bound address (useful when the configured port was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `signal` resolves, then stops the collectors and flushes history.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let shutdown = self.shutdown.clone();
        let graceful = async move {
            signal.await;
            shutdown.cancel();
        };
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(graceful)
            .await;
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        served.map_err(StartError::Serve)
    }
}

/// The whole HTTP surface: API, metrics, server functions and pages.
pub fn router(state: AppState) -> Router {
    let backend = BackendHandle(Arc::new(http::api::ServerBackend {
        state: state.clone(),
    }));
    let routes = generate_route_list(app::App);
    let options = state.leptos_options.clone();
    Router::new()
        .merge(http::api::router())
        .route("/metrics", get(http::metrics::handler))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(backend.clone()),
            move || app::shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(CompressionLayer::new())
        .with_state(state)
}
