//! Bytes the live stream sends per collection round (architecture issue: the stream sends what
//! changed). Run with `scripts/bench.sh stream` or `cargo bench -p steward-tests --bench stream`.
//!
//! One server reads this machine's real /proc every second (so values change each round, as on
//! a live host), Docker off, and the 100 recorded containers of `tests/fixtures` published as a
//! Docker round every 10 s (the default interval; the containers themselves do not change, their
//! collector status does). One client follows `/api/v1/stream` for 60 s; the first event (the
//! whole overview) is reported apart. (The before figure in BENCHMARKS.md was taken with this
//! file's first version, which built the server inline so it compiled on the older commit.)

#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let (app, _dir) = common::bench_app(|c| c.collector.interval_secs = 1).await;
    let hub = app.hub();
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let publisher = tokio::spawn(async move {
        loop {
            hub.publish_containers(
                Some(steward_tests::snapshot::mostly_healthy(100)),
                steward_tests::snapshot::docker_ok(),
            );
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    });
    // Let the first rounds land, so the first event carries vitals and containers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut r = reqwest::get(format!("http://{addr}/api/v1/stream"))
        .await
        .unwrap();
    let secs = 60;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut text = String::new();
    while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline.into(), r.chunk())
        .await
        .map(|c| c.unwrap())
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    // Events are separated by a blank line; keep-alive comments start with ':'.
    let events: Vec<&str> = text
        .split("\n\n")
        .filter(|e| e.lines().any(|l| l.starts_with("data:")))
        .collect();
    let first = events.first().map_or(0, |e| e.len() + 2);
    let rest: usize = events.iter().skip(1).map(|e| e.len() + 2).sum();
    println!(
        "live stream, 100 containers, vitals every 1 s, Docker round every 10 s, {secs} s: first event {first} B; then {} events, {rest} B = {:.0} B per second (per vitals round), {:.0} B per event",
        events.len().saturating_sub(1),
        rest as f64 / secs as f64,
        rest as f64 / events.len().saturating_sub(1).max(1) as f64
    );
    publisher.abort();
    let _ = stop.send(());
    let _ = server.await;
}
