//! Fleet ingest on the embedded default: N hosts (default 2,000; `FLEET_HOSTS` sets it) each
//! send one heartbeat of a real round's size (27 metrics, as the vitals collector reports on a
//! 2-disk host) per round, all at once, through validation and the group commit into a temp
//! SQLite file: heartbeats per second, the ack latency (queue + commit) and the database's
//! growth per heartbeat. 10,000 hosts at 5 s need 2,000 heartbeats per second.
//!
//! With `FLEET_REMOTE_WRITE=1` the hub also remote-writes every committed heartbeat to a real
//! receiver on loopback (VictoriaMetrics, else Prometheus), as `[remote_write]` does, so the
//! ingest figures show what the writer costs the commit path.
//!
//! Run: `cargo bench -p server --bench fleet` (and `FLEET_REMOTE_WRITE=1 cargo bench …`).

use std::sync::Arc;
use std::time::Instant;

/// The `steward` binary's allocator, so the figures are the shipped hub's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use app::vitals::thresholds::Thresholds;
use server::config::FleetConfig;
use server::fleet::heartbeat;
use server::fleet::store::FleetStore;
use server::fleet::Fleet;
use server::store::history::HistoryStore;
use tokio_util::sync::CancellationToken;

const ROUNDS: usize = 5;

#[path = "fixtures/heartbeat.rs"]
mod fixture;
use fixture::beat;
#[path = "fixtures/receiver.rs"]
mod receiver;

#[path = "fixtures/setup.rs"]
mod setup;

fn main() {
    let hosts = setup::hosts(2000);
    setup::runtime().block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("steward.db");
        let store = Arc::new(HistoryStore::open(&db).await.unwrap());
        let fleet_store = FleetStore::new(store.pool().clone());
        let mut names = Vec::new();
        for i in 0..hosts {
            let name = format!("host-{i:05}");
            fleet_store.add(&name, None).await.unwrap();
            names.push(name);
        }
        let cancel = CancellationToken::new();
        let remote = std::env::var("FLEET_REMOTE_WRITE").is_ok_and(|v| v == "1");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let receiver = remote.then(|| receiver::start_receiver(dir.path(), port));
        let writer = receiver.as_ref().map(|(_, _, url)| {
            let w = server::remote_write::RemoteWriter::new(&server::config::RemoteWriteConfig {
                url: url.clone(),
                capacity_samples: (hosts * ROUNDS * 30) as u64,
                ..Default::default()
            })
            .unwrap();
            tokio::spawn(w.clone().run(
                Arc::new(server::platform::bus::Bus::new()),
                cancel.clone(),
            ));
            w
        });
        let (fleet, task) = Fleet::start(
            store.clone(),
            fleet_store.clone(),
            FleetConfig {
                ingest_queue: (hosts * 2) as u64,
                ..FleetConfig::default()
            },
            Thresholds::default(),
            server::store::audit::AuditLog::new(store.pool().clone()),
            writer.clone(),
            cancel.clone(),
        )
        .await
        .unwrap();
        let size0 = store.size_bytes().await.unwrap();
        let thresholds = Thresholds::default();
        let limits = fleet.limits();
        let mut validate_ns = Vec::new();
        let mut acks = Vec::new();
        let mut rates = Vec::new();
        for round in 0..ROUNDS {
            let at = app::shared::clock::now_ms() - (ROUNDS - round) as i64 * 5000;
            let started = Instant::now();
            let mut waits = Vec::with_capacity(hosts);
            for (i, name) in names.iter().enumerate() {
                let t = Instant::now();
                let a = heartbeat::validate(
                    beat(round as u64 + 1, at, i),
                    name,
                    app::shared::clock::now_ms(),
                    limits,
                    &thresholds,
                )
                .unwrap();
                validate_ns.push(t.elapsed().as_nanos() as u64);
                let fleet = fleet.clone();
                let name = name.clone();
                waits.push(tokio::spawn(async move {
                    let t = Instant::now();
                    fleet.ingest(name, String::new(), a).await.unwrap();
                    t.elapsed().as_micros() as u64
                }));
            }
            for w in waits {
                acks.push(w.await.unwrap());
            }
            rates.push(hosts as f64 / started.elapsed().as_secs_f64());
        }
        let size1 = store.size_bytes().await.unwrap();
        if let (Some(w), Some((child, name, _))) = (&writer, &receiver) {
            let ordering = std::sync::atomic::Ordering::Relaxed;
            println!(
                "remote write to {name} on: {} samples sent in {} requests, {} waiting, {} dropped at the end of the last round; \
                 receiver CPU {:.1} s, this process {:.1} s",
                w.stats.sent_samples.load(ordering),
                w.stats.sent_requests.load(ordering),
                w.waiting(),
                w.dropped(),
                receiver::cpu_secs(&child.0.id().to_string()),
                receiver::cpu_secs("self"),
            );
        }
        cancel.cancel();
        task.await.unwrap();
        validate_ns.sort_unstable();
        acks.sort_unstable();
        let q = |v: &[u64], p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
        rates.sort_by(f64::total_cmp);
        println!(
            "fleet ingest, {hosts} hosts × {ROUNDS} rounds, 27 metrics each: {:.0} heartbeats/s (median round), \
             ack p50 {:.1} ms, p99 {:.1} ms; validation p50 {:.1} µs, p99 {:.1} µs; \
             database +{:.0} bytes per heartbeat (raw samples, before rollups)",
            rates[rates.len() / 2],
            q(&acks, 0.5) as f64 / 1000.0,
            q(&acks, 0.99) as f64 / 1000.0,
            q(&validate_ns, 0.5) as f64 / 1000.0,
            q(&validate_ns, 0.99) as f64 / 1000.0,
            (size1 - size0) as f64 / (hosts * ROUNDS) as f64,
        );
        store.close().await;
    });
}
