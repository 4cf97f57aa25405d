//! Maintenance benchmarks (issue 14). Run with `scripts/bench.sh maintenance` or
//! `cargo bench -p steward-tests --bench maintenance -- [ssr|pings]`.
//!
//! - `ssr`: the maintenance page with 200 heartbeat jobs and 10,000 recorded runs (50 per job,
//!   written straight into the SQLite file), one client at a time, then `wrk` with 50
//!   connections.
//! - `pings`: job heartbeats (`POST /api/v1/jobs/{slug}/ping/ok` with the job's token) under
//!   `wrk` with 10 and 50 connections: throughput and latency, each ping a token check and a
//!   write.

#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

const TOKEN: &str = "bench-job-token";
const JOBS: usize = 200;
const RUNS_PER_JOB: usize = 50;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Writes the jobs and their runs; returns the server's address and keeps it running.
async fn app_with_jobs() -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
    tempfile::TempDir,
) {
    let (app, dir) = common::bench_app(|c| c.maintenance.interval_secs = 3600).await;
    let db = dir.path().join("data/steward.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let now = app::shared::clock::now_ms();
    let mut tx = pool.begin().await.unwrap();
    for j in 0..JOBS {
        // Only the first job answers to the bench token; the others get tokens of their own.
        let token = if j == 0 {
            TOKEN.to_string()
        } else {
            format!("{TOKEN}-{j}")
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO heartbeat_jobs (slug, name, schedule, grace_secs, token_digest, created_ms, created_by)
             VALUES (?, ?, ?, 3600, ?, ?, 'bench') RETURNING id",
        )
        .bind(format!("job-{j:03}"))
        .bind(format!("Backup of volume {j}"))
        .bind(format!("{} {} * * *", j % 60, j % 24))
        .bind(server::auth::password::token_digest(&token))
        .bind(now - 60 * 86_400_000)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        // Oldest first, as they would have arrived.
        for r in (0..RUNS_PER_JOB as i64).rev() {
            let start = now - (r + 1) * 86_400_000;
            sqlx::query(
                "INSERT INTO job_runs (job_id, started_ms, ended_ms, result, exit_code, log_tail) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(start)
            .bind(start + 120_000)
            .bind(if r % 7 == 3 { "failed" } else { "ok" })
            .bind(if r % 7 == 3 { 1 } else { 0 })
            .bind("rsync: 1,204 files, 3.1 GB transferred\n")
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
    pool.close().await;
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until(async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    // A ping wakes the refresh: the page then reads the 200 jobs.
    let client = reqwest::Client::new();
    let r = client
        .post(format!("http://{addr}/api/v1/jobs/job-000/ping/ok"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m: serde_json::Value = client
            .get(format!("http://{addr}/api/v1/maintenance"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if m["jobs"].as_array().is_some_and(|j| j.len() >= JOBS) {
            break;
        }
        assert!(Instant::now() < deadline, "the jobs never showed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (addr, stop, server, dir)
}

async fn wrk(args: &[&str]) -> String {
    let out = tokio::process::Command::new("wrk")
        .args(args)
        .output()
        .await
        .expect("wrk is installed (apt-get install wrk)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn ssr() {
    let (addr, stop, server, _dir) = app_with_jobs().await;
    let url = format!("http://{addr}/maintenance");
    let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(
        body.contains("data-slug=\"job-") && body.contains("Showing the first 50 of"),
        "the page lists the first jobs and says how many there are"
    );
    println!(
        "maintenance page, {JOBS} jobs and {} runs: {} KB of HTML",
        JOBS * RUNS_PER_JOB,
        body.len() / 1000
    );
    let client = reqwest::Client::new();
    let mut ms = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let _ = client
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "one client, 100 requests: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
        percentile(&ms, 0.5),
        percentile(&ms, 0.9),
        percentile(&ms, 0.99)
    );
    println!(
        "{}",
        wrk(&["-t2", "-c50", "-d10s", "--latency", &url]).await
    );
    let _ = stop.send(());
    let _ = server.await;
}

async fn pings() {
    let (addr, stop, server, dir) = app_with_jobs().await;
    let script = dir.path().join("ping.lua");
    std::fs::write(
        &script,
        format!("wrk.method = \"POST\"\nwrk.headers[\"Authorization\"] = \"Bearer {TOKEN}\"\nwrk.body = \"ok\"\n"),
    )
    .unwrap();
    let url = format!("http://{addr}/api/v1/jobs/job-000/ping/ok");
    for c in ["10", "50"] {
        println!("pings, {c} connections, 10 s:");
        let s = script.to_str().unwrap();
        println!(
            "{}",
            wrk(&[
                "-t2",
                &format!("-c{c}"),
                "-d10s",
                "--latency",
                "-s",
                s,
                &url
            ])
            .await
        );
    }
    let _ = stop.send(());
    let _ = server.await;
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = args.is_empty();
    if all || args.iter().any(|a| a == "ssr") {
        ssr().await;
    }
    if all || args.iter().any(|a| a == "pings") {
        pings().await;
    }
}
