//! Container benchmarks (issue: containers). Run with `scripts/bench.sh containers` or
//! `cargo bench -p steward-tests --bench containers -- [round|ssr]`.
//!
//! - `round`: one Docker collection round (list + parallel inspect, stats from long-lived streams
//!   (one-shot for containers without a fresh sample) + watchdog
//!   decisions) for 100 running containers on a private real dockerd; records the containers as
//!   a snapshot for `ssr` (`tests/fixtures/containers-snapshot.json` when `RECORD=1`).
//! - `ssr`: the container page rendered by the server for 500 containers (the recorded snapshot
//!   repeated with new names): one client at a time, then under `wrk` with 50 connections.

#[path = "common.rs"]
mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use server::docker::collector::{DockerCollector, DockerHandle};
use steward_tests::docker_engine::Engine;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn round() {
    let engine = Engine::start()
        .expect("the round benchmark needs a Docker engine (run as root with docker.io)");
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..4 {
            let engine = &engine;
            s.spawn(move || {
                for i in (t..100).step_by(4) {
                    let stack = format!("com.docker.compose.project=stack{}", i % 5);
                    // Health checks every 30 s, as on the seed's hosts; the test image's 2 s
                    // would make 50 `docker exec`s a second on two cores.
                    let mut extra = vec!["--label", stack.as_str(), "--health-interval", "30s"];
                    if i % 3 == 0 {
                        extra.extend(["--memory", "64m"]);
                    }
                    engine.run(&format!("bench-{i:03}"), &extra);
                }
            });
        }
    });
    println!(
        "started 100 containers in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().unwrap();
    let store = server::store::history::HistoryStore::open(&dir.path().join("b.db"))
        .await
        .unwrap();
    let config = server::config::Config::default();
    // The watchdog is off: a round is measured, not restarts.
    let mut watchdog = config.watchdog.clone();
    watchdog.enabled = false;
    for (concurrency, stats_concurrency) in [(8usize, 256usize), (8, 8)] {
        let handle = Arc::new(DockerHandle::new(engine.host(), Duration::from_secs(10)));
        let mut docker = config.docker.clone();
        docker.concurrency = concurrency;
        docker.stats_concurrency = stats_concurrency;
        let mut collector = DockerCollector::new(
            handle,
            docker,
            server::docker::watchdog::Watchdog::new(watchdog.clone()),
            server::store::audit::AuditLog::new(store.pool().clone()),
        );
        // The first round also inspects the image once; it is reported apart.
        let t = Instant::now();
        let mut first = collector.collect_once().await.unwrap();
        let first_ms = t.elapsed().as_secs_f64() * 1000.0;
        collector.watch(&mut first.containers).await;
        let mut times = Vec::new();
        let mut ages = Vec::new();
        let mut last = Vec::new();
        for _ in 0..10 {
            // Rounds a second apart, as with a short interval: the streams tick in between.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let t = Instant::now();
            let mut c = collector.collect_once().await.unwrap();
            collector.watch(&mut c.containers).await;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            ages.extend(collector.stats_ages_ms().into_iter().map(|a| a as f64));
            assert_eq!(c.containers.len(), 100, "problems: {:?}", c.problems);
            assert!(c.problems.is_empty(), "{:?}", c.problems);
            last = c.containers;
        }
        times.sort_by(f64::total_cmp);
        ages.sort_by(f64::total_cmp);
        if !ages.is_empty() {
            println!(
                "stats samples (long-lived streams) at the end of each round: age p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                percentile(&ages, 0.5),
                percentile(&ages, 0.99),
                ages.last().unwrap()
            );
        }
        println!(
            "docker round, 100 running containers, {concurrency} inspections / {stats_concurrency} stats in flight: first {first_ms:.0} ms; then p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (10 rounds)",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times.last().unwrap()
        );
        if stats_concurrency == 256 && std::env::var_os("RECORD").is_some() {
            let path = fixtures().join("containers-snapshot.json");
            std::fs::write(&path, serde_json::to_string_pretty(&last).unwrap()).unwrap();
            println!("recorded {}", path.display());
        }
    }
}

async fn ssr() {
    let (app, _dir) = common::bench_app(|_| {}).await;
    app.hub().publish_containers(
        Some(steward_tests::snapshot::containers(500)),
        steward_tests::snapshot::docker_ok(),
    );
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let url = format!("http://{addr}/containers");
    let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(
        body.contains("data-container="),
        "the page lists containers"
    );
    println!(
        "container page with 500 containers: {} KB of HTML",
        body.len() / 1000
    );
    // One client at a time: the time one operator waits for the page, without queueing.
    let client = reqwest::Client::new();
    let mut ms = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let r = client.get(&url).send().await.unwrap();
        let _ = r.bytes().await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "one client, 100 requests: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
        percentile(&ms, 0.5),
        percentile(&ms, 0.9),
        percentile(&ms, 0.99)
    );
    let out = tokio::process::Command::new("wrk")
        .args(["-t2", "-c50", "-d10s", "--latency", &url])
        .output()
        .await
        .expect("wrk is installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
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
    if all || args.iter().any(|a| a == "round") {
        round().await;
    }
    if all || args.iter().any(|a| a == "ssr") {
        ssr().await;
    }
}
