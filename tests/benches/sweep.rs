//! The health sweep at scale (issue 16: 10,000 hosts, goal ≤ 10 s per round). Run with
//! `cargo bench -p steward-tests --bench sweep` (`SWEEP_HOSTS` sets the count).
//!
//! The hub's real sweep (`fleet::sweep::Sweep`, the collector the server runs: stalest first,
//! 256 in flight, 3 s timeout, no kept connections, changes stored in SQLite) checks hosts
//! registered in a temp SQLite file, each with its own address in 127.0.0.0/8, all answered by
//! the fake fleet (`fake_fleet.rs`: one axum server, the address read from `Host`). The fake
//! fleet runs in the same process, so the two share the machine's cores: on a real network
//! the hub's share is the figure that matters, and it is printed as CPU time per check.
//!
//! Two scenarios: all healthy, then a realistic mix (1 % hanging past the timeout, 1 % slow
//! at 1.5 s, 1 % answering 503, 1 % degraded).

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::vitals::thresholds::Thresholds;
use server::config::{FleetConfig, SweepConfig};
use server::fleet::store::FleetStore;
use server::fleet::sweep::Sweep;
use server::fleet::Fleet;
use server::platform::periodic::Collector;
use server::store::history::HistoryStore;
use steward_tests::fake_fleet::{Behaviour, FakeFleet};
use tokio_util::sync::CancellationToken;

const ROUNDS: usize = 3;

fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn main() {
    let hosts: u32 = std::env::var("SWEEP_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let fake = FakeFleet::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            HistoryStore::open(&dir.path().join("steward.db"))
                .await
                .unwrap(),
        );
        let fleet_store = FleetStore::new(store.pool().clone());
        for i in 0..hosts {
            fleet_store
                .add(&format!("host-{i:05}"), Some(&fake.url(i)))
                .await
                .unwrap();
        }
        let cancel = CancellationToken::new();
        let (fleet, task) = Fleet::start(
            store.clone(),
            fleet_store.clone(),
            FleetConfig::default(),
            Thresholds::default(),
            server::store::audit::AuditLog::new(store.pool().clone()),
            None,
            cancel.clone(),
        )
        .await
        .unwrap();
        let config = SweepConfig {
            interval_secs: 30,
            ..SweepConfig::default()
        };
        println!(
            "health sweep, {hosts} hosts on distinct loopback addresses, {} in flight, {} ms timeout, \
             {ROUNDS} rounds per scenario (fake fleet in the same process)",
            config.concurrency, config.timeout_ms
        );
        // One replica on SQLite: the sweep's lease is always this one's.
        let lease = server::store::lease::Lease::new(
            &server::store::hub_state::HubState::Sqlite(store.pool().clone()),
            "fleet sweep",
        );
        let mut sweep = Sweep::new(fleet.clone(), config, std::sync::Arc::new(lease));
        for scenario in ["all healthy", "1 % hang, 1 % slow 1.5 s, 1 % 503, 1 % degraded"] {
            if scenario != "all healthy" {
                for i in 0..hosts {
                    match i % 100 {
                        0 => fake.set(i, Behaviour::Hang),
                        1 => fake.set(i, Behaviour::Slow(Duration::from_millis(1500))),
                        2 => fake.set(i, Behaviour::Failing),
                        3 => fake.set(i, Behaviour::Degraded),
                        _ => {}
                    }
                }
            }
            let mut secs = Vec::new();
            let mut cpu = Vec::new();
            let mut last = None;
            for _ in 0..ROUNDS {
                let (t, c) = (Instant::now(), cpu_secs());
                let round = sweep.collect().await.unwrap();
                secs.push(t.elapsed().as_secs_f64());
                cpu.push(cpu_secs() - c);
                last = Some(round);
            }
            let round = last.unwrap();
            secs.sort_by(f64::total_cmp);
            let checked = round.data.checked.max(1) as f64;
            let counts = fleet.health_counts();
            println!(
                "  {scenario}: round median {:.2} s (min {:.2}, max {:.2}), {:.0} checks/s; \
                 checked {} succeeded {} skipped {}; process CPU {:.0} µs per check \
                 (hub and fake fleet together); health {:?}; problems {:?}",
                secs[secs.len() / 2],
                secs[0],
                secs[secs.len() - 1],
                checked / secs[secs.len() / 2],
                round.data.checked,
                round.data.succeeded,
                round.data.skipped,
                cpu[cpu.len() / 2] * 1e6 / checked,
                counts,
                round.problems,
            );
        }
        println!("  fake fleet answered {} requests", fake.served());
        cancel.cancel();
        task.await.unwrap();
        store.close().await;
    });
}
