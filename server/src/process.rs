//! What both binaries (`steward` and `steward-agent`) set up around their work: the
//! allocator's settings, the runtime, logging, the stop signal, and the agent's command.

use crate::config::Config;
use crate::fleet::agent::{self, AgentError};

/// Makes glibc serve allocations of 4 MiB and more with their own mappings, returned to the OS
/// when freed. By default its threshold grows to the size of the largest block freed, so after
/// the first password check each 19 MB argon2 buffer came from the heap and stayed there: the
/// resident size grew with every burst of sign-ins and never came back down.
pub fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called once, before any thread
    // other than the runtime's exists, and takes plain integers.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// The agent's runtime. It does one round every few seconds: one thread, and at most two
/// glibc malloc arenas (by default up to eight per core, each holding its own free memory),
/// keep its footprint small beside the services it watches.
pub fn agent_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: as above: one allocator parameter, set before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(2)
        .enable_all()
        .build()
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info,sqlx=warn`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never in journald or a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// `steward agent` and `steward-agent`: with `check`, one heartbeat to each hub and what each
/// said (printed); else heartbeats until Ctrl-C or SIGTERM.
pub async fn run_agent(config: Config, check: bool) -> Result<(), AgentError> {
    if check {
        println!("{}", agent::check(&config).await?);
        return Ok(());
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    agent::run(config, cancel).await
}
