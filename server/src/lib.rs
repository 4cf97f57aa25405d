//! Steward's server: collectors publish events on the [`platform::bus`]; the [`hub::Hub`] (the read
//! model pages and APIs read) and the history writer (SQLite) subscribe. [`Application::build`] wires it all and binds the port (0 in tests).

#![recursion_limit = "256"]

pub mod alerts;
pub mod auth;
pub mod config;
pub mod digest;
pub mod docker;
pub mod fleet;
pub mod http;
pub mod hub;
pub mod maintenance;
pub mod models;
pub mod platform;
pub mod process;
pub mod remote_write;
pub mod store;
pub mod trends;
pub mod vitals;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::shared::backend::BackendHandle;
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;

use crate::config::Config;
use crate::http::AppState;
use crate::hub::Hub;
use crate::store::history::postgres::PgHistory;
use crate::store::history::{task::WriterSettings, HistoryError, HistoryStore, HostHistory};
use crate::store::hub_state::HubState;
use crate::vitals::collector::VitalsCollector;

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
    Prometheus(trends::prometheus::PromError),
    #[error("alerts: {0}")]
    Alerts(#[from] alerts::AlertError),
    #[error("first admin: {0}")]
    Auth(#[from] auth::AuthError),
    #[error("fleet: {0}")]
    Fleet(#[from] fleet::store::FleetError),
    #[error("remote write: {0}")]
    RemoteWrite(#[from] remote_write::RemoteWriteError),
    #[error("database: {0}")]
    Postgres(#[from] store::postgres::PostgresError),
    #[error("cannot open the fleet's history on PostgreSQL: {0}")]
    FleetHistory(HistoryError),
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
    setup_link: Option<String>,
    hub: Arc<Hub>,
    server_config: config::ServerConfig,
    /// Closed last, after every task that writes to it (history, audit) has finished.
    store: Arc<HistoryStore>,
}

impl Application {
    /// Opens the database, starts the collectors and history writer, and binds the port.
    /// With no users yet, `admin_password_file` creates `admin`; otherwise a one-time setup
    /// link is logged (and kept in [`Application::setup_link`]).
    pub async fn build(
        config: Config,
        admin_password_file: Option<&std::path::Path>,
    ) -> Result<Self, StartError> {
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

        let state = HubState::open(&config.database, store.pool()).await?;
        tracing::info!(
            "users, sessions, the fleet registry and the audit log: {}",
            state.engine()
        );
        let auth = Arc::new(auth::Auth::new(state.users(), config.auth.clone()));
        let node = platform::host_name(&config.paths.procfs).unwrap_or_default();
        if node.is_empty() && state.postgres().is_some() {
            tracing::warn!(
                "no host name readable: this replica's audit entries name no node, and its \
                 restart counts include those of other replicas without one"
            );
        }
        let audit = state.audit(store.pool(), &node);
        if let Err(e) = audit.load_restart_counts().await {
            tracing::error!("audit log: could not count past restarts (they show as 0): {e}");
        }
        // The link is the caller's to show, once (`steward serve` prints it on stdout).
        let setup_link = match auth.bootstrap(admin_password_file).await? {
            auth::Bootstrap::SetupToken(token) => {
                Some(format!("http://{addr}/setup?token={token}"))
            }
            auth::Bootstrap::CreatedAdmin => {
                tracing::info!("created the user admin from the password file");
                audit
                    .record(store::audit::Entry {
                        actor: "steward",
                        action: store::audit::Action::Setup,
                        target: "admin",
                        outcome: store::audit::Outcome::Ok,
                        detail: Some("first admin created from --admin-password-file"),
                    })
                    .await;
                None
            }
            auth::Bootstrap::Ready => None,
        };
        warn_without_site(&config.site_root);

        let shutdown = CancellationToken::new();
        let bus = Arc::new(platform::bus::Bus::new());
        // Every subscriber subscribes before any publisher starts.
        let hub_events = bus.subscribe("hub", platform::bus::HUB_QUEUE);
        let history_events =
            bus.subscribe(store::history::task::NAME, platform::bus::HISTORY_QUEUE);
        let mut hub = Hub::new(
            config.score.disk_mount.clone(),
            config.collector.interval_secs,
        )
        .with_bus(bus.clone());
        let docker = config.docker.enabled.then(|| {
            Arc::new(docker::collector::DockerHandle::new(
                docker::resolve_host(&config.docker.host),
                Duration::from_secs(config.docker.call_timeout_secs),
            ))
        });
        if docker.is_some() {
            let w = &config.watchdog;
            hub = hub.with_docker(app::containers::WatchdogSettings {
                enabled: w.enabled,
                dry_run: w.dry_run,
                failures_before_restart: w.failures_before_restart,
                restarts_per_hour: w.restarts_per_hour,
                cooldown_secs: w.cooldown_secs,
            });
        }
        let hub = Arc::new(hub);
        let interval = config.collector.interval();
        let round_timeout = Duration::from_secs(config.collector.round_timeout_secs);
        let mut tasks = vec![
            tokio::spawn(hub.clone().run(hub_events, shutdown.clone())),
            tokio::spawn(store::history::task::run(
                store.clone(),
                history_events,
                WriterSettings {
                    config: config.history.clone(),
                    arrival_lag: interval + round_timeout,
                },
                bus.clone(),
                shutdown.clone(),
            )),
            tokio::spawn(vitals::collector::run(
                VitalsCollector::new(&config),
                interval,
                round_timeout,
                bus.clone(),
                shutdown.clone(),
            )),
        ];

        tasks.push(tokio::spawn(audit.clone().run(
            config.audit.clone(),
            Arc::new(store::lease::Lease::new(&state, "audit retention")),
            shutdown.clone(),
        )));
        if let Some(handle) = &docker {
            tasks.push(tokio::spawn(docker::collector::run(
                docker::collector::DockerCollector::new(
                    handle.clone(),
                    config.docker.clone(),
                    docker::watchdog::Watchdog::new(config.watchdog.clone()),
                    audit.clone(),
                )
                .with_bus(bus.clone()),
                Duration::from_secs(config.docker.interval_secs),
                bus.clone(),
                shutdown.clone(),
            )));
        }
        let maintenance = Arc::new(
            maintenance::Maintenance::new(
                config.maintenance.clone(),
                maintenance::store::MaintenanceStore::new(store.pool().clone()),
                state.jobs(),
                maintenance::cleanup::Ctx {
                    docker: docker.clone(),
                    rootfs: config.paths.rootfs.clone(),
                    disk_mount: config.score.disk_mount.clone(),
                    step_timeout: Duration::from_secs(config.maintenance.step_timeout_secs),
                },
                audit.clone(),
                bus.clone(),
            )
            .with_history(store.clone()),
        );
        tasks.push(tokio::spawn(maintenance.clone().run(shutdown.clone())));
        if let Some(pool) = state.postgres() {
            tasks.push(tokio::spawn(
                maintenance
                    .clone()
                    .follow_replicas(pool.clone(), shutdown.clone()),
            ));
        }
        tasks.push(tokio::spawn(
            maintenance.clone().run_culprits(shutdown.clone()),
        ));
        let models = Arc::new(
            models::ModelsService::new(config.models.clone(), config.paths.clone())
                .with_store(store.pool().clone(), audit.clone()),
        );
        tasks.push(tokio::spawn(
            models.clone().run(bus.clone(), shutdown.clone()),
        ));
        let remote_write = match config.remote_write.url.as_str() {
            "" => None,
            _ => {
                let writer = remote_write::RemoteWriter::new(&config.remote_write)?;
                tasks.push(tokio::spawn(
                    writer.clone().run(bus.clone(), shutdown.clone()),
                ));
                Some(writer)
            }
        };
        // Fleet hosts' samples: shared by the replicas on PostgreSQL, so that every replica
        // charts every heartbeat; else in the SQLite file beside the local history. Where the
        // charts read remote-written storage (`[remote_write]` and `prometheus.url`), that is
        // the shared history, and PostgreSQL is spared a second copy (a third of its ingest).
        let charts_from_prometheus =
            !config.remote_write.url.is_empty() && !config.prometheus.url.is_empty();
        let fleet_history: Arc<dyn HostHistory> = match state.postgres() {
            Some(pool) if !charts_from_prometheus => {
                let pg = Arc::new(
                    PgHistory::open(pool.clone())
                        .await
                        .map_err(StartError::FleetHistory)?,
                );
                tasks.push(tokio::spawn(store::history::postgres::run(
                    pg.clone(),
                    Arc::new(store::lease::Lease::new(&state, "fleet history")),
                    config.history.clone(),
                    interval + round_timeout,
                    bus.clone(),
                    shutdown.clone(),
                )));
                pg
            }
            _ => store.clone(),
        };
        match charts_from_prometheus {
            true => tracing::info!(
                "fleet hosts' history: remote write (charts from prometheus.url), the cards' \
                 lines from {}",
                fleet_history.engine()
            ),
            false => tracing::info!("fleet hosts' history: {}", fleet_history.engine()),
        }
        let (fleet, fleet_task) = fleet::Fleet::start(
            fleet_history.clone(),
            state.fleet(),
            config.fleet.clone(),
            config.thresholds.clone(),
            audit.clone(),
            remote_write,
            shutdown.clone(),
        )
        .await?;
        tasks.push(fleet_task);
        tokio::spawn({
            let (fleet, history, bus) = (fleet.clone(), fleet_history.clone(), bus.clone());
            async move {
                let status = fleet.backfill_sparks(history.as_ref()).await;
                bus.publish(platform::bus::Event::Status {
                    host: platform::bus::local_host(),
                    status,
                });
            }
        });
        if state.postgres().is_some() {
            tasks.push(tokio::spawn(fleet::replica_sync::run(
                fleet.clone(),
                bus.clone(),
                shutdown.clone(),
            )));
        }
        if config.fleet.sweep.enabled {
            tasks.push(tokio::spawn(fleet::sweep::run(
                fleet.clone(),
                config.fleet.sweep.clone(),
                Arc::new(store::lease::Lease::new(&state, "fleet sweep")),
                bus.clone(),
                shutdown.clone(),
            )));
        }
        let (alerts, pending) = alerts::AlertsService::new(config.alerts.clone())?;
        let alerts = Arc::new(
            alerts
                .with_store(state.alert_stores(audit.clone(), &node))
                .with_shared(state.shared_alerts(&node)),
        );
        alerts.load().await?;
        tasks.extend(alerts.start(
            pending,
            alerts::Watched {
                hub: hub.clone(),
                models: models.clone(),
                maintenance: maintenance.clone(),
                fleet: fleet.clone(),
                fleet_lease: Arc::new(store::lease::Lease::new(&state, "fleet alerts")),
            },
            Some(store.clone()),
            &shutdown,
        ));
        let config = Arc::new(config);
        let digest = Arc::new(digest::DigestService::new(
            config.clone(),
            digest::Sources {
                store: store.clone(),
                hub: hub.clone(),
                maintenance: maintenance.clone(),
                alerts: alerts.clone(),
                audit: audit.clone(),
            },
        ));
        tasks.push(tokio::spawn(digest.clone().run(shutdown.clone())));
        let actions = Arc::new(docker::actions::Actions::new(
            hub.clone(),
            bus.clone(),
            docker,
            audit.clone(),
            Duration::from_secs(config.docker.stop_timeout_secs),
            Duration::from_secs(config.docker.settle_timeout_secs),
        ));

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
                trends::prometheus::PrometheusClient::new(
                    url,
                    Duration::from_secs(config.prometheus.timeout_secs),
                )
                .map_err(StartError::Prometheus)?,
            ),
        };
        let server_config = config.server.clone();
        let state = AppState {
            leptos_options: leptos_options.clone(),
            hub: hub.clone(),
            bus: bus.clone(),
            store: store.clone(),
            fleet_history,
            config,
            prometheus,
            shutdown: shutdown.clone(),
            auth,
            audit,
            actions,
            maintenance,
            models,
            alerts,
            digest,
            fleet,
        };
        Ok(Self {
            listener,
            router: router(state),
            shutdown,
            tasks,
            addr,
            setup_link,
            hub,
            server_config,
            store,
        })
    }

    /// The hub, for benchmarks that replay recorded state (e.g. a 500-container snapshot).
    pub fn hub(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// The one-time link that creates the first admin, when no user exists yet.
    pub fn setup_link(&self) -> Option<&str> {
        self.setup_link.as_deref()
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
        tokio::spawn(async move {
            signal.await;
            shutdown.cancel();
        });
        let served = http::serve::serve(
            self.listener,
            self.router,
            self.server_config,
            self.shutdown.clone(),
        )
        .await;
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        // Checkpoints the WAL into the file.
        self.store.close().await;
        served.map_err(StartError::Serve)
    }
}

/// Says loudly when the site root holds no built client: the pages would still render, but
/// without their scripts nothing live works, and nothing else would tell the operator why.
fn warn_without_site(site_root: &std::path::Path) {
    let wasm = site_root.join("pkg").join("steward.wasm");
    if !wasm.is_file() {
        tracing::error!(
            "no built site in {}: {} is missing, so pages load without their scripts (no live \
             updates, charts or actions). Build it with `make build`, or point --site-root at \
             the built site",
            site_root.display(),
            wasm.display()
        );
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
        .merge(http::auth_routes::router())
        .merge(http::containers::router())
        .merge(http::models::router())
        .merge(http::alerts::router())
        .merge(http::digest::router())
        .merge(http::fleet::router(state.fleet.body_limit()))
        .merge(http::maintenance::router(
            state.config.maintenance.ping_body_limit as usize,
        ))
        .route("/metrics", get(http::metrics::handler))
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let backend = backend.clone();
                move || provide_context(backend.clone())
            },
            move || app::shell(options.clone()),
        )
        // The "not found" page has the same top bar (and alert count) as every other page.
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(
            move || provide_context(backend.clone()), app::shell
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::guard::guard,
        ))
        .layer(axum::middleware::from_fn(http::error::json_errors))
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::custom(http::error::panic_response))
        .with_state(state)
}
