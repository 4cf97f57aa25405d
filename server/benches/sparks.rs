//! The fleet cards' lines drawn again at start: N hosts (default 10,000; `FLEET_HOSTS` sets
//! it) with half an hour of stored 1-minute means of CPU, memory and disk `/` in a temp SQLite
//! file, then the restarted hub's backfill of the cards' lines (`Fleet::backfill_sparks`, which
//! `serve` runs in the background beside ingest). Prints the first pass (every card drawn), the
//! median of five, and the process's peak RSS before and after.
//!
//! Run: `cargo bench -p server --bench sparks`.

use std::sync::Arc;
use std::time::Instant;

use app::fleet::spark::{SPARK_METRICS, SPARK_POINTS};
use app::vitals::thresholds::Thresholds;
use server::config::FleetConfig;
use server::fleet::store::FleetStore;
use server::fleet::Fleet;
use server::store::history::HistoryStore;
use tokio_util::sync::CancellationToken;

const MINUTE: i64 = 60_000;

#[path = "fixtures/setup.rs"]
mod setup;

fn main() {
    let hosts = setup::hosts(10_000);
    setup::runtime().block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            HistoryStore::open(&dir.path().join("steward.db"))
                .await
                .unwrap(),
        );
        let fleet_store = FleetStore::new(store.pool().clone());
        let names: Vec<String> = SPARK_METRICS
            .iter()
            .map(|(n, l)| app::vitals::series_key(n, *l))
            .collect();
        let now = app::shared::clock::now_ms() / MINUTE * MINUTE;
        let seeded = Instant::now();
        for i in 0..hosts {
            fleet_store
                .add(&format!("host-{i:05}"), None)
                .await
                .unwrap();
        }
        // A host's three series, then half an hour of minutes each (the
        // oldest is 29 minutes ago, so all 30 are in the backfill's window), written in SQL: the
        // history writer's own path would take minutes of heartbeats to get there.
        for name in &names {
            sqlx::query("INSERT INTO series (host, name) SELECT host, ? FROM fleet_hosts")
                .bind(name)
                .execute(store.pool())
                .await
                .unwrap();
        }
        sqlx::query(
            "WITH RECURSIVE m(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM m WHERE k < ?)
             INSERT INTO rollup_1m (series_id, bucket, avg, min, max, count)
             SELECT s.id, ? - m.k * 60000, (s.id * 7 + m.k) % 100, 0, 100, 12
             FROM series s, m WHERE s.host <> 'local'",
        )
        .bind(SPARK_POINTS as i64 - 1)
        .bind(now)
        .execute(store.pool())
        .await
        .unwrap();
        println!(
            "seeded {hosts} hosts × 3 series × {SPARK_POINTS} minutes in {:.1} s",
            seeded.elapsed().as_secs_f64()
        );

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
        // The first pass draws every card; later passes read the same minutes and find them
        // drawn, so they time the read and the merge alone.
        let peak_before = peak_rss_kb();
        let mut passes = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let status = fleet.backfill_sparks(store.as_ref()).await;
            passes.push(t.elapsed());
            assert_eq!(status.state, app::vitals::CollectorState::Ok, "{status:?}");
            let last = format!("host-{:05}", hosts - 1);
            let h = fleet.host(&last, app::shared::clock::now_ms()).unwrap();
            assert_eq!(
                h.sparks.cpu.len(),
                SPARK_POINTS,
                "the last card has no lines"
            );
        }
        let first = passes[0];
        passes.sort();
        println!(
            "sparkline backfill, {hosts} hosts × 3 series × {SPARK_POINTS} minutes: first pass \
             {:.0} ms, median of 5 {:.0} ms; peak RSS {:.1} MB before, {:.1} MB after",
            first.as_secs_f64() * 1000.0,
            passes[passes.len() / 2].as_secs_f64() * 1000.0,
            peak_before as f64 / 1024.0,
            peak_rss_kb() as f64 / 1024.0,
        );
        cancel.cancel();
        task.await.unwrap();
        store.close().await;
    });
}

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
