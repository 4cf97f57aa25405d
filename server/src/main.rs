//! The `steward` binary: `steward serve` runs the server (the hub), `steward agent` a fleet
//! agent, `steward check` checks once. `steward-agent` (`src/bin/`) is the agent alone.

use clap::Parser;
use server::config::{Cli, Command};
use server::process::{return_large_allocations, shutdown_signal};
use server::store::hub_state::HubState;
use server::Application;

/// The hub's allocator. A `/fleet` render of 50 cards makes tens of thousands of small
/// allocations on both worker threads; under 50 connections glibc's malloc and free were
/// about a quarter of the hub's CPU (perf, BENCHMARKS.md). mimalloc's per-thread free lists
/// serve them with less work. `steward-agent` keeps glibc's: it allocates little and its
/// resident size is what counts there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    return_large_allocations();
    let cli = Cli::parse();
    let runtime = match cli.command {
        Command::Agent(_) => server::process::agent_runtime()?,
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    server::process::init_logging();
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
            server::process::run_agent(config, args.check).await?;
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
