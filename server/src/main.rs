//! The `steward` binary: `steward serve` runs the server (the hub), `steward agent` a fleet
//! agent, `steward check` checks once.

use clap::Parser;
use server::config::{Cli, Command};
use server::store::hub_state::HubState;
use server::Application;

fn main() -> anyhow::Result<()> {
    return_large_allocations();
    let cli = Cli::parse();
    let runtime = match cli.command {
        // The agent does one round every few seconds: one thread (and few malloc arenas) keep
        // its footprint small beside the services it watches.
        Command::Agent(_) => {
            few_arenas();
            tokio::runtime::Builder::new_current_thread()
                .max_blocking_threads(2)
                .enable_all()
                .build()?
        }
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never in journald or a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = cli.load_config()?;
    match cli.command {
        Command::Serve(args) => {
            let app = Application::build(config, args.admin_password_file.as_deref()).await?;
            // Tests and scripts read this line to find the port when listening on port 0.
            println!("steward listening on http://{}", app.local_addr());
            if let Some(link) = app.setup_link() {
                println!(
                    "no users yet: open {link} to create the first admin (the link works once)"
                );
            }
            app.run_until(shutdown_signal()).await?;
            Ok(())
        }
        Command::Check(args) => {
            let code = server::vitals::check::run(&config, &args).await?;
            std::process::exit(code);
        }
        Command::User(args) => {
            let role = app::auth::Role::parse(&args.role)
                .ok_or_else(|| anyhow::anyhow!("--role must be admin or viewer"))?;
            let password = server::auth::read_password_file(&args.password_file)?;
            let store = server::store::history::HistoryStore::open(&config.database_path()).await?;
            let state = HubState::open(&config.database, store.pool()).await?;
            server::auth::upsert_user(state.users().as_ref(), &args.username, role, &password)
                .await?;
            println!("user {} saved with role {}", args.username, role.as_str());
            Ok(())
        }
        Command::Rules(args) => {
            match args.action {
                server::config::RulesAction::List => {
                    for r in server::alerts::rules::all() {
                        println!(
                            "{:<24} {:<12} {}",
                            r.name,
                            r.label.unwrap_or("-"),
                            r.description
                        );
                    }
                }
                server::config::RulesAction::Export => {
                    print!("{}", server::alerts::export::prometheus_rules(&config));
                }
            }
            Ok(())
        }
        Command::Dashboards(args) => {
            match args.action {
                server::config::DashboardsAction::Export => {
                    let d = server::fleet::dashboard::fleet_dashboard();
                    println!("{}", serde_json::to_string_pretty(&d)?);
                }
            }
            Ok(())
        }
        Command::Agent(args) => {
            if args.check {
                let said = server::fleet::agent::check(&config).await?;
                println!("{said}");
                return Ok(());
            }
            let cancel = tokio_util::sync::CancellationToken::new();
            let stop = cancel.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                stop.cancel();
            });
            server::fleet::agent::run(config, cancel).await?;
            Ok(())
        }
        Command::Host(args) => {
            let store = server::store::history::HistoryStore::open(&config.database_path()).await?;
            let fleet = HubState::open(&config.database, store.pool())
                .await?
                .fleet();
            match args.action {
                server::config::HostAction::Add { name } => {
                    let token = fleet.add(&name, None).await?;
                    // The token alone on stdout, so `steward host add web-01 > token` works.
                    println!("{token}");
                    eprintln!(
                        "host {name} added; its agent token is shown this once: put it in the \
                         agent's token file and run `steward agent --hub URL --token-file FILE`"
                    );
                }
                server::config::HostAction::List => {
                    let now = app::shared::clock::now_ms();
                    for h in fleet.hosts().await? {
                        let badge = app::fleet::Badge::of(h.last_heartbeat_ms, now);
                        println!(
                            "{:<32} {:<10} {}",
                            h.host,
                            badge.as_str(),
                            h.agent_version.as_deref().unwrap_or("-")
                        );
                    }
                }
            }
            store.close().await;
            Ok(())
        }
        Command::Backup(args) => {
            let store = server::store::history::HistoryStore::open(&config.database_path()).await?;
            if let Err(e) = store.quick_check().await {
                eprintln!("warning: {e}; copying what can be read");
            }
            store.backup(&args.file).await?;
            println!(
                "backed up {} to {}",
                config.database_path().display(),
                args.file.display()
            );
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
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
    tracing::info!("shutting down: flushing history");
}

/// Makes glibc serve allocations of 4 MiB and more with their own mappings, returned to the OS
/// when freed. By default its threshold grows to the size of the largest block freed, so after
/// the first password check each 19 MB argon2 buffer came from the heap and stayed there: the
/// resident size grew with every burst of sign-ins and never came back down.
fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called once, before any thread
    // other than the runtime's exists, and takes plain integers.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// Caps glibc's malloc arenas at two (by default up to eight per core, each holding its own
/// free memory): for the agent, whose few threads allocate little.
fn few_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: as above: one allocator parameter, set before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
