//! Trend queries from SQLite for one host: a database filled to its retention limits (48 h raw
//! at 5 s, 30 d of 1-minute, 2 y of 1-hour and 2 y of 1-day rollups, 25 series), then the trend
//! API's work (query + LTTB + projection) timed for 1 h, 24 h, 30 d and 1 y.
//!
//! Run: `cargo bench -p server --bench trend` (prints p50 / p99 per range).

use std::time::Instant;

use server::config::Config;
use server::platform::bus::LOCAL_HOST;
use server::store::history::HistoryStore;
use server::trends::{definition, stored_trend};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const SERIES: usize = 25;

async fn fill(store: &HistoryStore, now: i64) {
    let pool = store.pool();
    let names: Vec<String> = (0..SERIES)
        .map(|i| {
            if i == 0 {
                "disk_used_pct:/".to_string()
            } else {
                format!("m{i}")
            }
        })
        .collect();
    for name in &names {
        sqlx::query("INSERT INTO series(name) VALUES (?)")
            .bind(name)
            .execute(pool)
            .await
            .unwrap();
    }
    let value = |t: i64| 30.0 + 0.02 * (t as f64 / DAY as f64) % 40.0;
    // (table, width, span): rows per series at the default retention.
    let levels = [
        ("samples_raw", 5_000, 2 * DAY),
        ("rollup_1m", MIN, 30 * DAY),
        ("rollup_1h", HOUR, 730 * DAY),
        ("rollup_1d", DAY, 730 * DAY),
    ];
    for (table, width, span) in levels {
        let mut tx = pool.begin().await.unwrap();
        let start = (now - span) / width * width;
        let rows: Vec<(i64, i64)> = (1..=SERIES as i64)
            .flat_map(|id| {
                (0..)
                    .map(move |k| (id, start + k * width))
                    .take_while(|(_, t)| *t < now)
            })
            .collect();
        // Many rows per statement, as the history writer does.
        for chunk in rows.chunks(150) {
            let sql = if table == "samples_raw" {
                format!(
                    "INSERT INTO samples_raw(series_id, ts, value) VALUES {}",
                    vec!["(?, ?, ?)"; chunk.len()].join(", ")
                )
            } else {
                format!(
                    "INSERT INTO {table}(series_id, bucket, avg, min, max, count) VALUES {}",
                    vec!["(?, ?, ?, ?, ?, 1)"; chunk.len()].join(", ")
                )
            };
            let mut q = sqlx::query(&sql);
            for (id, t) in chunk {
                let v = value(*t);
                q = q.bind(*id).bind(*t).bind(v);
                if table != "samples_raw" {
                    q = q.bind(v - 1.0).bind(v + 1.0);
                }
            }
            q.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::open(&dir.path().join("bench.db"))
        .await
        .unwrap();
    let now = 1_795_000_000_000_i64 / DAY * DAY;
    let started = Instant::now();
    fill(&store, now).await;
    let counts = store.row_counts().await.unwrap();
    println!(
        "filled in {:.1} s: {counts:?}, {:.1} MB",
        started.elapsed().as_secs_f64(),
        store.size_bytes().await.unwrap() as f64 / 1e6
    );
    let config = Config::default();
    println!("| range | resolution | points | p50 | p99 |\n|---|---|---|---|---|");
    for range in ["1h", "24h", "30d", "1y"] {
        let mut times = Vec::new();
        let mut points = 0;
        let mut resolution = None;
        for i in 0..220 {
            let t = Instant::now();
            let window = app::trends::resolve_window(Some(range), None, None, "7d", now).unwrap();
            let def = definition("disk", &config).unwrap();
            let trend = stored_trend(&store, LOCAL_HOST, &config.history, def, &window, now)
                .await
                .unwrap();
            let elapsed = t.elapsed().as_secs_f64() * 1e3;
            // The first 20 runs warm SQLite's page cache.
            if i >= 20 {
                times.push(elapsed);
            }
            points = trend.series[0].points.len();
            resolution = Some(trend.resolution);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "| {range} | {:?} | {points} | {:.2} ms | {:.2} ms |",
            resolution.unwrap(),
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
}
