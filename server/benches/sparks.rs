//! The fleet cards' lines drawn again at start: N hosts (default 10,000; `FLEET_HOSTS` sets
//! it) with half an hour of stored 1-minute means of CPU, memory and disk `/` in a temp SQLite
//! file, then `Fleet::start` as a restarted hub runs it. Prints the read of the stored minutes
//! alone, and the time from `Fleet::start` until every host's card has its lines (the
//! backfill runs in the background, beside ingest).
//!
//! Run: `cargo bench -p server --bench sparks`.

use std::sync::Arc;
use std::time::{Duration, Instant};

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
        let store = Arc::new(HistoryStore::open(&dir.path().join("steward.db")).await.unwrap());
        let fleet_store = FleetStore::new(store.pool().clone());
        let names: Vec<String> = SPARK_METRICS
            .iter()
            .map(|(n, l)| app::vitals::series_key(n, *l))
            .collect();
        let now = app::shared::clock::now_ms() / MINUTE * MINUTE;
        let seeded = Instant::now();
        for i in 0..hosts {
            fleet_store.add(&format!("host-{i:05}"), None).await.unwrap();
        }
        // A host's three series, then half an hour of minutes each, written in SQL: the
        // history writer's own path would take minutes of heartbeats to get there.
        for name in &names {
            sqlx::query("INSERT INTO series (host, name) SELECT host, ? FROM fleet_hosts")
                .bind(name)
                .execute(store.pool())
                .await
                .unwrap();
        }
        sqlx::query(
            "WITH RECURSIVE m(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM m WHERE k < ?)
             INSERT INTO rollup_1m (series_id, bucket, avg, min, max, count)
             SELECT s.id, ? - m.k * 60000, (s.id * 7 + m.k) % 100, 0, 100, 12
             FROM series s, m WHERE s.host <> 'local'",
        )
        .bind(SPARK_POINTS as i64)
        .bind(now)
        .execute(store.pool())
        .await
        .unwrap();
        println!(
            "seeded {hosts} hosts × 3 series × {SPARK_POINTS} minutes in {:.1} s",
            seeded.elapsed().as_secs_f64()
        );

        let mut reads = Vec::new();
        let mut rows = 0;
        for _ in 0..5 {
            let t = Instant::now();
            rows = store
                .host_minutes(&names, now - SPARK_POINTS as i64 * MINUTE)
                .await
                .unwrap()
                .len();
            reads.push(t.elapsed());
        }
        reads.sort();

        let cancel = CancellationToken::new();
        let started = Instant::now();
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
        let serving = started.elapsed();
        let last = format!("host-{:05}", hosts - 1);
        loop {
            let h = fleet.host(&last, app::shared::clock::now_ms()).unwrap();
            if h.sparks.cpu.len() == SPARK_POINTS {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "no lines");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let drawn = started.elapsed();
        println!(
            "sparkline backfill, {hosts} hosts: stored minutes read in {:.0} ms median of 5 \
             ({rows} rows); Fleet::start returned in {:.0} ms; every card drawn {:.0} ms after start",
            reads[reads.len() / 2].as_secs_f64() * 1000.0,
            serving.as_secs_f64() * 1000.0,
            drawn.as_secs_f64() * 1000.0,
        );
        cancel.cancel();
        task.await.unwrap();
        store.close().await;
    });
}
