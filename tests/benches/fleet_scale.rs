//! The hub with 10,000 hosts (issue 16): fleet page SSR under 50 connections (goal p99 ≤
//! 100 ms) and the hub's resident memory. Run with `scripts/bench.sh fleetscale` or
//! `cargo bench -p steward-tests --bench fleet_scale` (`FLEET_HOSTS` sets the count; needs
//! the release binary, `make build`, and wrk).
//!
//! The hosts are added to a temp SQLite file, then the release hub (`steward serve`, its own
//! process, so its RSS is its own) takes one 27-metric heartbeat from each over HTTP with its
//! token, so every host has vitals and a score. Then: RSS, one `/fleet` render alone, and
//! `wrk -c50` on `/fleet` (first page, 100 hosts shown of 10,000) and on a search that scans
//! every host name.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;

#[path = "../../server/benches/fixtures/heartbeat.rs"]
mod fixture;

fn wrk(url: &str) -> String {
    let out = Command::new("wrk")
        .args(["-t2", "-c50", "-d15s", "--latency", url])
        .output()
        .expect("wrk is installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let pick = |p: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(p))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
            .unwrap_or_else(|| "?".into())
    };
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_string();
    let errors = text
        .lines()
        .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "p50 {}, p90 {}, p99 {}, {rps} req/s{}",
        pick("50%"),
        pick("90%"),
        pick("99%"),
        if errors.is_empty() {
            String::new()
        } else {
            format!(" ({errors})")
        }
    )
}

fn main() {
    let hosts: usize = std::env::var("FLEET_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let bin = std::env::var("STEWARD_BIN")
        .unwrap_or_else(|_| format!("{}/../target/release/steward", env!("CARGO_MANIFEST_DIR")));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let mut tokens = Vec::with_capacity(hosts);
        {
            let store = server::store::history::HistoryStore::open(&data.join("steward.db"))
                .await
                .unwrap();
            let fleet = server::fleet::store::FleetStore::new(store.pool().clone());
            for i in 0..hosts {
                let name = format!("host-{i:05}");
                tokens.push(fleet.add(&name, None).await.unwrap());
            }
            store.close().await;
        }
        let port = steward_tests::free_port();
        let config = dir.path().join("steward.toml");
        std::fs::write(
            &config,
            "[auth]\nanonymous_read = true\n[docker]\nenabled = false\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("pw"), "bench-admin-password\n").unwrap();
        let site = std::env::var("STEWARD_SITE_ROOT").unwrap_or_else(|_| {
            format!("{}/../target/site", env!("CARGO_MANIFEST_DIR"))
        });
        let mut hub = steward_tests::Proc(
            Command::new(&bin)
                .arg("--config")
                .arg(&config)
                .arg("serve")
                .arg("--admin-password-file")
                .arg(dir.path().join("pw"))
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--data-dir")
                .arg(&data)
                .arg("--site-root")
                .arg(&site)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let pid = hub.0.id();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(hub.0.try_wait().unwrap().is_none(), "the hub exited");
            assert!(Instant::now() < deadline, "the hub did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let rss_empty = steward_tests::rss_kb(pid);
        let client = reqwest::Client::new();
        let url = format!("{base}/api/v1/agent/heartbeat");
        let started = Instant::now();
        let now = app::shared::clock::now_ms();
        let sent: Vec<u16> = futures::stream::iter(tokens.iter().enumerate())
            .map(|(i, token)| {
                let client = client.clone();
                let url = url.clone();
                async move {
                    let mut beat = fixture::beat(1, now, i);
                    beat.containers = Some(app::fleet::ContainerCounts {
                        total: 5,
                        running: 5,
                        unhealthy: (i % 7 == 0) as u32,
                    });
                    client
                        .post(&url)
                        .bearer_auth(token)
                        .json(&beat)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
        let ok = sent.iter().filter(|&&s| s == 200).count();
        println!(
            "fleet at scale: {hosts} hosts, one 27-metric heartbeat each over HTTP in {:.1} s ({ok} acked)",
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!(
            "  hub RSS: {:.1} MB before the heartbeats, {:.1} MB with {hosts} hosts' latest state",
            rss_empty as f64 / 1024.0,
            steward_tests::rss_kb(pid) as f64 / 1024.0
        );
        let page = format!("{base}/fleet");
        let t = Instant::now();
        let html = client.get(&page).send().await.unwrap().text().await.unwrap();
        println!(
            "  /fleet alone: {:.1} ms, {} KB of HTML, {} host cards",
            t.elapsed().as_secs_f64() * 1000.0,
            html.len() / 1000,
            html.matches("data-testid=\"fleet-host\"").count()
        );
        println!("  /fleet, wrk 50 connections 15 s: {}", wrk(&page));
        println!(
            "  /api/v1/fleet/hosts?q=host-09, wrk 50 connections 15 s: {}",
            wrk(&format!("{base}/api/v1/fleet/hosts?q=host-09"))
        );
        println!(
            "  /api/v1/fleet/hosts?q=host-09&view=card, wrk 50 connections 15 s: {}",
            wrk(&format!("{base}/api/v1/fleet/hosts?q=host-09&view=card"))
        );
        println!(
            "  hub RSS after the load: {:.1} MB",
            steward_tests::rss_kb(pid) as f64 / 1024.0
        );
        drop(hub);
    });
}
