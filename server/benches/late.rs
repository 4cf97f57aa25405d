//! What a fleet's replay costs the history after a hub outage: N hosts (default 2,000;
//! `FLEET_HOSTS` sets it) × 27 series send the 5-second samples of `MINUTES` minutes (default
//! 10) the hub missed, after its rollups have passed them. Prints the write of those late
//! samples (which notes each late minute in `rollup_late`) beside the write of as many fresh
//! samples, then the rollup rounds that redo them (each at most 50,000 notes): per round, the
//! total, and late minutes per second.
//!
//! Run: `cargo bench -p server --bench late`.

use std::sync::Arc;
use std::time::Instant;

use server::store::history::{HistoryStore, Sample};

#[path = "fixtures/setup.rs"]
mod setup;

const MINUTE: i64 = 60_000;
const SERIES: usize = 27;

/// `hosts` hosts' samples every 5 s over `from..to`, written in batches of 500 hosts.
async fn write(store: &HistoryStore, hosts: usize, from: i64, to: i64) -> f64 {
    let names: Vec<String> = (0..SERIES).map(|i| format!("metric_{i:02}")).collect();
    let mut secs = 0.0;
    for chunk in (0..hosts).collect::<Vec<_>>().chunks(500) {
        let batches: Vec<(Arc<str>, Vec<Sample>)> = chunk
            .iter()
            .map(|h| {
                let samples = (from..to)
                    .step_by(5_000)
                    .flat_map(|ts| {
                        names.iter().enumerate().map(move |(i, n)| Sample {
                            series: n.clone(),
                            ts_ms: ts,
                            value: ((ts / 5_000) as f64 * 0.37 + i as f64).sin() * 40.0 + 50.0,
                        })
                    })
                    .collect();
                (Arc::from(format!("host-{h:05}")), samples)
            })
            .collect();
        let refs: Vec<(Arc<str>, &[Sample])> =
            batches.iter().map(|(h, s)| (h.clone(), &s[..])).collect();
        let t = Instant::now();
        store.write_hosts(&refs).await.unwrap();
        secs += t.elapsed().as_secs_f64();
    }
    secs
}

fn main() {
    let hosts = setup::hosts(2_000);
    let minutes: i64 = std::env::var("MINUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    setup::runtime().block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::open(&dir.path().join("steward.db"))
            .await
            .unwrap();
        let now = app::shared::clock::now_ms() / MINUTE * MINUTE;
        let gap = now - minutes * MINUTE;
        // Five minutes before the gap, then the rollups pass the gap (the hub up, the agents
        // cut off) up to now.
        write(&store, hosts, gap - 5 * MINUTE, gap).await;
        store.rollup(now).await.unwrap();
        let samples = hosts as i64 * SERIES as i64 * minutes * 12;
        // Fresh: the same number of samples, after the watermark.
        let fresh = write(&store, hosts, now, now + minutes * MINUTE).await;
        // Late: the gap's samples, replayed.
        let late = write(&store, hosts, gap, now).await;
        let noted: i64 = sqlx::query_scalar("SELECT count(*) FROM rollup_late")
            .fetch_one(store.pool())
            .await
            .unwrap();
        println!(
            "{hosts} hosts × {SERIES} series × {minutes} minutes: write of {samples} samples fresh {:.2} s, late {:.2} s ({noted} late minutes noted)",
            fresh, late
        );
        let mut rounds = Vec::new();
        let started = Instant::now();
        loop {
            let t = Instant::now();
            store.rollup(now).await.unwrap();
            rounds.push(t.elapsed().as_secs_f64() * 1e3);
            let left: i64 = sqlx::query_scalar("SELECT count(*) FROM rollup_late")
                .fetch_one(store.pool())
                .await
                .unwrap();
            if left == 0 {
                break;
            }
        }
        let total = started.elapsed().as_secs_f64();
        let max = rounds.iter().cloned().fold(0.0, f64::max);
        println!(
            "redo: {} rounds, longest {max:.0} ms, total {total:.2} s, {:.0} late minutes/s",
            rounds.len(),
            noted as f64 / total
        );
        store.close().await;
    });
}
