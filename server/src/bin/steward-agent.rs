//! `steward-agent`: the fleet agent alone, the same code as `steward agent` without the server
//! linked in (18 MB instead of 120 MB), so the pages it keeps resident are few: for hosts
//! where the agent's footprint matters. Same flags, config file and environment.

use clap::Parser;
use server::config::{AgentCli, Cli};

fn main() -> anyhow::Result<()> {
    server::process::return_large_allocations();
    let cli = AgentCli::parse();
    let check = cli.agent.check;
    let cli = Cli::from(cli);
    server::process::agent_runtime()?.block_on(async move {
        server::process::init_logging();
        let config = cli.load_config()?;
        server::process::run_agent(config, check).await?;
        Ok(())
    })
}
