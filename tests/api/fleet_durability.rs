//! Ack means committed: the hub is killed with SIGKILL while many hosts send heartbeats, again
//! and again, and every heartbeat it answered 200 is in the database afterwards. The hub is the
//! real release binary in its own process (a kill inside the test process would kill the
//! test); the senders post heartbeats like agents, each remembering what was acked.
//!
//! `STEWARD_KILL_TRIALS` sets the number of kills (default 3; `scripts/bench.sh killtrials`
//! runs 20 and prints the figures for BENCHMARKS.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::fleet::steward_bin;

const HOSTS: usize = 16;

type Acked = Arc<Mutex<BTreeMap<String, BTreeSet<i64>>>>;

/// Starts the hub on `port` over `data`; returns once it listens.
fn start_hub(dir: &Path, port: u16) -> std::process::Child {
    spawn_serve(
        dir,
        port,
        "[docker]\nenabled = false\n[collector]\ninterval_secs = 60\n",
        "kill-trials-password",
    )
}

/// Runs `steward serve` from the release binary on `port` with `config`, its data in `dir`
/// and `password` for the admin; returns once it listens.
pub(crate) fn spawn_serve(
    dir: &Path,
    port: u16,
    config: &str,
    password: &str,
) -> std::process::Child {
    spawn_serve_with_site(dir, port, config, password, &dir.join("no-site"))
}

/// [`spawn_serve`] with the site (the WASM client and its split chunks) served from `site`.
pub(crate) fn spawn_serve_with_site(
    dir: &Path,
    port: u16,
    config: &str,
    password: &str,
    site: &Path,
) -> std::process::Child {
    let config_file = dir.join("steward.toml");
    std::fs::write(&config_file, config).unwrap();
    std::fs::write(dir.join("admin.pw"), format!("{password}\n")).unwrap();
    let mut child = Command::new(steward_bin())
        .arg("--config")
        .arg(&config_file)
        .arg("serve")
        .arg("--admin-password-file")
        .arg(dir.join("admin.pw"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--site-root")
        .arg(site)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "steward serve in {} exited at start: {status}",
                dir.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "steward serve did not start listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// One host sending heartbeats back to back until `stop`; records the acked collection times.
async fn send_until(
    client: reqwest::Client,
    url: String,
    host: String,
    token: String,
    mut seq: u64,
    stop: Arc<AtomicBool>,
    acked: Acked,
) -> u64 {
    let mut last_ms = 0;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let collected_ms = app::shared::clock::now_ms().max(last_ms + 1);
        last_ms = collected_ms;
        let body = json!({
            "schema": 1, "agent_version": "kill-trials", "status": "ready", "seq": seq,
            "collected_ms": collected_ms, "cores": 2, "disk_mount": "/",
            "metrics": [{"name": "load1", "value": 0.5}, {"name": "cpu_busy_pct", "value": 12.0}],
        });
        match client
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => {
                acked
                    .lock()
                    .unwrap()
                    .entry(host.clone())
                    .or_default()
                    .insert(collected_ms);
            }
            Ok(r) => panic!("{host}: heartbeat {seq} answered {}", r.status()),
            // The hub died under it: not acked, so not counted; the next trial goes on.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    seq
}

#[tokio::test]
async fn acked_heartbeats_survive_sigkill_of_the_hub_under_load() {
    // Fails at once, saying how to build it, when the release binary is missing.
    steward_bin();
    let trials: usize = std::env::var("STEWARD_KILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data").join("steward.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let mut tokens = Vec::new();
    {
        let store = server::store::history::HistoryStore::open(&db)
            .await
            .unwrap();
        let fleet = server::fleet::store::FleetStore::new(store.pool().clone());
        for i in 0..HOSTS {
            let host = format!("durable-{i:02}");
            let token = fleet.add(&host, None).await.unwrap();
            tokens.push((host, token));
        }
        store.close().await;
    }
    let port = steward_tests::free_port();
    let url = format!("http://127.0.0.1:{port}/api/v1/agent/heartbeat");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let acked: Acked = Default::default();
    let mut seqs = vec![0u64; HOSTS];
    let mut per_trial = Vec::new();
    for trial in 0..trials {
        let mut hub = start_hub(dir.path(), port);
        let before: usize = acked.lock().unwrap().values().map(BTreeSet::len).sum();
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = tokens
            .iter()
            .zip(&seqs)
            .map(|((host, token), seq)| {
                tokio::spawn(send_until(
                    client.clone(),
                    url.clone(),
                    host.clone(),
                    token.clone(),
                    *seq,
                    stop.clone(),
                    acked.clone(),
                ))
            })
            .collect();
        // Kill at a different moment each trial, mid-stream: 0.5 to 1.5 s of ingest.
        let jitter = (trial as u64 * 379) % 1000;
        tokio::time::sleep(Duration::from_millis(500 + jitter)).await;
        hub.kill().unwrap();
        hub.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for (i, s) in senders.into_iter().enumerate() {
            seqs[i] = s.await.unwrap();
        }
        let after: usize = acked.lock().unwrap().values().map(BTreeSet::len).sum();
        per_trial.push(after - before);
    }

    // Every acked heartbeat is stored (SQLite recovers its WAL on open).
    let store = server::store::history::HistoryStore::open(&db)
        .await
        .unwrap();
    let mut lost = 0usize;
    let mut total = 0usize;
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    for (host, times) in &acked {
        let stored: BTreeSet<i64> = sqlx::query_scalar(
            "SELECT r.ts FROM samples_raw r JOIN series s ON s.id = r.series_id
             WHERE s.host = ? AND s.name = 'load1'",
        )
        .bind(host)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .into_iter()
        .collect();
        total += times.len();
        lost += times.difference(&stored).count();
    }
    store.close().await;
    println!(
        "kill -9 trials: {trials}, heartbeats acked per trial {per_trial:?} ({total} in all, \
         {HOSTS} hosts), acked but lost: {lost}"
    );
    assert!(
        per_trial.iter().all(|&n| n > 0),
        "each trial ingested before the kill: {per_trial:?}"
    );
    assert_eq!(
        lost, 0,
        "{lost} of {total} acked heartbeats are not in the database"
    );
}
