//! What a fleet host's 1-minute history costs on disk, as rows and packed in day blocks
//! (`HistoryStore::pack_minutes`). Simulates `FLEET_HOSTS` hosts (default 4) × `DAYS` days
//! (default 7) of the 27 series a 2-disk host's agent sends every 5 s, with values made the
//! way the collector makes them (CPU shares from jiffy counts, memory in pages, rates from
//! byte counts over a measured interval, load and PSI with two decimals), rolled up per minute
//! as the hour rollup would (mean, min, max of 12 samples). Prints the bytes per host-day of
//! each table and index (SQLite's `dbstat`), the per-host-year projection at 1-minute
//! resolution, the packing speed and a one-day read as rows and as blocks.
//!
//! Last, what a lossy rule would save (none is applied by Steward): the same days encoded as
//! blocks with each value's mantissa rounded to fewer bits (as VictoriaMetrics'
//! `-precisionBits` does), the block bytes alone per host-day and host-year.
//!
//! Run: `cargo bench -p server --bench minutes`.

use std::time::Instant;

use app::shared::range::Resolution;
use server::store::history::HistoryStore;

#[path = "fixtures/setup.rs"]
mod setup;

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;

/// xorshift64*: deterministic noise without a dependency.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn int(&mut self, below: u64) -> u64 {
        (self.next() * below as f64) as u64
    }
}

/// One host's state between 5-second samples.
struct Host {
    noise: Noise,
    busy_base: f64,
    avail_pages: i64,
    swap_pages: i64,
    load: f64,
    disk_blocks: [i64; 2],
}

const SERIES: [&str; 27] = [
    "cpu_busy_pct",
    "cpu_steal_pct",
    "cpu_iowait_pct",
    "load1",
    "load5",
    "load15",
    "load1_per_core",
    "mem_total_bytes",
    "mem_available_bytes",
    "mem_used_pct",
    "swap_total_bytes",
    "swap_used_bytes",
    "swap_used_pct",
    "swap_cached_bytes",
    "disk_read_bps",
    "disk_write_bps",
    "net_rx_bps",
    "net_tx_bps",
    "procs_d_state",
    "psi_cpu_some_avg10",
    "psi_memory_some_avg10",
    "psi_io_some_avg10",
    "disk_used_pct{/}",
    "disk_used_pct{/data}",
    "process_count{rclone}",
    "process_count{restic}",
    "process_count{nginx}",
];

impl Host {
    fn new(seed: u64) -> Self {
        let mut noise = Noise(seed * 0x9e37_79b9 + 1);
        Host {
            busy_base: 10.0 + noise.next() * 40.0,
            avail_pages: 1_000_000,
            swap_pages: 20_000,
            load: 1.0,
            disk_blocks: [4_000_000, 9_000_000],
            noise,
        }
    }

    /// One 5-second sample of every series, in [`SERIES`] order.
    fn sample(&mut self) -> [f64; 27] {
        let n = &mut self.noise;
        const TOTAL_PAGES: i64 = 2_000_000;
        // 4 cores × 100 jiffies/s × 5 s.
        let total = 2_000.0;
        let busy = ((self.busy_base + n.next() * 30.0 - 15.0).clamp(0.0, 100.0) * 20.0).round();
        let steal = n.int(20) as f64;
        let iowait = n.int(60) as f64;
        self.load = ((self.load + n.next() * 0.2 - 0.1).clamp(0.0, 16.0) * 100.0).round() / 100.0;
        self.avail_pages = (self.avail_pages + n.int(2_001) as i64 - 1_000).clamp(1, TOTAL_PAGES);
        if n.next() < 0.01 {
            self.swap_pages = (self.swap_pages + n.int(201) as i64 - 100).max(0);
        }
        for b in &mut self.disk_blocks {
            *b += n.int(3) as i64;
        }
        let elapsed = 5.0 + n.next() * 0.004;
        let bytes = |n: &mut Noise, scale: u64, unit: u64| (n.int(scale) / unit * unit) as f64;
        let two = |n: &mut Noise, max: f64| ((n.next() * max) * 100.0).round() / 100.0;
        [
            busy / total * 100.0,
            steal / total * 100.0,
            iowait / total * 100.0,
            self.load,
            (self.load * 0.9 * 100.0).round() / 100.0,
            (self.load * 0.8 * 100.0).round() / 100.0,
            self.load / 4.0,
            (TOTAL_PAGES * 4096) as f64,
            (self.avail_pages * 4096) as f64,
            (TOTAL_PAGES - self.avail_pages) as f64 / TOTAL_PAGES as f64 * 100.0,
            2.0 * 1024.0 * 1024.0 * 1024.0,
            (self.swap_pages * 4096) as f64,
            (self.swap_pages * 4096) as f64 / (2.0 * 1024.0 * 1024.0 * 1024.0) * 100.0,
            1_048_576.0,
            bytes(n, 2_000_000, 512) / elapsed,
            bytes(n, 8_000_000, 512) / elapsed,
            bytes(n, 5_000_000, 1) / elapsed,
            bytes(n, 3_000_000, 1) / elapsed,
            n.int(3) as f64,
            two(n, 5.0),
            two(n, 1.0),
            two(n, 8.0),
            self.disk_blocks[0] as f64 / 10_000_000.0 * 100.0,
            self.disk_blocks[1] as f64 / 10_000_000.0 * 100.0,
            1.0,
            1.0,
            1.0,
        ]
    }
}

fn main() {
    let hosts = setup::hosts(4);
    let days: i64 = std::env::var("DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    setup::runtime().block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::open(&dir.path().join("steward.db")).await.unwrap();
        let pool = store.pool().clone();
        let day0 = 20_000 * DAY_MS;
        let end = day0 + days * DAY_MS;

        let filled = Instant::now();
        for h in 0..hosts {
            let mut ids = Vec::new();
            for name in SERIES {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO series (host, name) VALUES (?, ?) RETURNING id",
                )
                .bind(format!("host-{h:05}"))
                .bind(name)
                .fetch_one(&pool)
                .await
                .unwrap();
                ids.push(id);
            }
            let mut host = Host::new(h as u64 + 1);
            let mut tx = pool.begin().await.unwrap();
            let mut minute = day0;
            while minute < end {
                let samples: Vec<[f64; 27]> = (0..12).map(|_| host.sample()).collect();
                for (i, id) in ids.iter().enumerate() {
                    let values = samples.iter().map(|s| s[i]);
                    let (sum, min, max) = values.fold((0.0, f64::MAX, f64::MIN), |(s, lo, hi), v| {
                        (s + v, lo.min(v), hi.max(v))
                    });
                    sqlx::query(
                        "INSERT INTO rollup_1m (series_id, bucket, avg, min, max, count) \
                         VALUES (?, ?, ?, ?, ?, 12)",
                    )
                    .bind(id)
                    .bind(minute)
                    .bind(sum / 12.0)
                    .bind(min)
                    .bind(max)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                minute += MINUTE_MS;
            }
            tx.commit().await.unwrap();
        }
        // The hours are rolled up through the last day, so every day may be packed.
        sqlx::query("INSERT OR REPLACE INTO rollup_state (level, done_until) VALUES ('1h', ?)")
            .bind(end)
            .execute(&pool)
            .await
            .unwrap();
        println!(
            "{hosts} hosts × {days} days × {} series of minutes written in {:.1} s",
            SERIES.len(),
            filled.elapsed().as_secs_f64()
        );

        let reads_rows = read_days(&store, day0, days).await;
        let as_rows = sizes(&pool).await;
        let packing = Instant::now();
        let blocks = store.pack_minutes(end + DAY_MS, usize::MAX).await.unwrap();
        let packed_in = packing.elapsed();
        let reads_blocks = read_days(&store, day0, days).await;
        let as_blocks = sizes(&pool).await;

        let host_days = (hosts as i64 * days) as f64;
        println!("bytes per host-day (table and index pages, dbstat):");
        for (name, bytes) in as_rows.iter().chain(as_blocks.iter()) {
            println!("  {name:<24} {:>12.0}", *bytes as f64 / host_days);
        }
        let rows_total: i64 = as_rows
            .iter()
            .filter(|(n, _)| n.starts_with("rollup_1m"))
            .map(|(_, b)| b)
            .sum();
        let blocks_total: i64 = as_blocks
            .iter()
            .filter(|(n, _)| n.starts_with("rollup_1m"))
            .map(|(_, b)| b)
            .sum();
        let year = |bytes: i64| bytes as f64 / host_days * 365.0 / 1e6;
        println!(
            "1-minute history per host-year: as rows {:.1} MB, packed {:.1} MB ({:.1}× smaller)",
            year(rows_total),
            year(blocks_total),
            rows_total as f64 / blocks_total as f64
        );
        let per_series: Vec<(String, f64)> = sqlx::query_as(
            "SELECT s.name, AVG(length(b.data)) FROM rollup_1m_blocks b \
             JOIN series s ON s.id = b.series_id GROUP BY s.name ORDER BY 2 DESC",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        println!("block bytes per series-day, largest first:");
        for (name, bytes) in &per_series {
            println!("  {name:<24} {bytes:>8.0}");
        }
        println!(
            "packing: {blocks} series-days in {:.2} s ({:.0} µs each, {:.0} minutes/s)",
            packed_in.as_secs_f64(),
            packed_in.as_secs_f64() * 1e6 / blocks as f64,
            blocks as f64 * 1440.0 / packed_in.as_secs_f64()
        );
        println!(
            "one day of one series at 1-minute resolution (1,440 points), median of {}: rows {:.0} µs, blocks {:.0} µs",
            reads_rows.len(),
            reads_rows[reads_rows.len() / 2],
            reads_blocks[reads_blocks.len() / 2]
        );
        store.close().await;
        lossy(hosts, days, day0);
    });
}

/// Block bytes of the same minutes with the mantissas of mean, min and max rounded to
/// `bits` bits (52: lossless), per host-day and per host-year.
fn lossy(hosts: usize, days: i64, day0: i64) {
    use server::store::history::block::{encode, MinuteRow};
    const BITS: [u32; 6] = [52, 24, 16, 12, 10, 8];
    let mut totals = [0usize; BITS.len()];
    for h in 0..hosts {
        let mut host = Host::new(h as u64 + 1);
        for d in 0..days {
            let day = day0 + d * DAY_MS;
            let mut rows: Vec<Vec<MinuteRow>> = vec![Vec::with_capacity(1440); SERIES.len()];
            for m in 0..1440 {
                let samples: Vec<[f64; 27]> = (0..12).map(|_| host.sample()).collect();
                for (i, series) in rows.iter_mut().enumerate() {
                    let (sum, min, max) = samples
                        .iter()
                        .map(|s| s[i])
                        .fold((0.0, f64::MAX, f64::MIN), |(s, lo, hi), v| {
                            (s + v, lo.min(v), hi.max(v))
                        });
                    series.push(MinuteRow {
                        bucket: day + m * MINUTE_MS,
                        avg: sum / 12.0,
                        min,
                        max,
                        count: 12,
                    });
                }
            }
            for (total, bits) in totals.iter_mut().zip(BITS) {
                for series in &rows {
                    let rounded: Vec<MinuteRow> = series
                        .iter()
                        .map(|r| MinuteRow {
                            avg: round_mantissa(r.avg, bits),
                            min: round_mantissa(r.min, bits),
                            max: round_mantissa(r.max, bits),
                            ..*r
                        })
                        .collect();
                    *total += encode(day, &rounded).unwrap().len();
                }
            }
        }
    }
    let host_days = (hosts as i64 * days) as f64;
    println!("a lossy rule's saving (block bytes alone; relative error at most 2^-(bits+1)):");
    for (total, bits) in totals.iter().zip(BITS) {
        println!(
            "  {bits:>2} mantissa bits: {:>8.0} B per host-day, {:>5.1} MB per host-year",
            *total as f64 / host_days,
            *total as f64 / host_days * 365.0 / 1e6
        );
    }
}

/// `x` with its mantissa rounded to `bits` bits (to nearest, ties away from zero).
fn round_mantissa(x: f64, bits: u32) -> f64 {
    if bits >= 52 || !x.is_finite() {
        return x;
    }
    let drop = 52 - bits;
    let rounded = f64::from_bits((x.to_bits() + (1u64 << (drop - 1))) & !((1u64 << drop) - 1));
    if rounded.is_finite() {
        rounded
    } else {
        x
    }
}

/// Reads each day of host 0's CPU series at 1-minute resolution; sorted durations in µs.
async fn read_days(store: &HistoryStore, day0: i64, days: i64) -> Vec<f64> {
    let mut out = Vec::new();
    for _ in 0..5 {
        for d in 0..days {
            let from = day0 + d * DAY_MS;
            let t = Instant::now();
            let points = store
                .query_host_between(
                    "host-00000",
                    "cpu_busy_pct",
                    Resolution::Minute,
                    from,
                    from + DAY_MS - 1,
                )
                .await
                .unwrap();
            out.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(points.len(), 1440);
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

/// The bytes of the minute level's tables and indexes, from SQLite's `dbstat` table.
async fn sizes(pool: &sqlx::SqlitePool) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE 'rollup_1m%' GROUP BY name ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .expect("dbstat (SQLITE_ENABLE_DBSTAT_VTAB)")
}
