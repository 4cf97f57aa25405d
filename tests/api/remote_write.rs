//! Fleet samples through Prometheus remote write to real receivers on loopback: Debian's
//! Prometheus with its remote-write receiver and Debian's VictoriaMetrics. Heartbeats posted to
//! the hub come back from the receiver with their exact timestamps and values, and through the
//! trend API with `host`; a receiver that is down makes the writer's status an error and its
//! queue replays once the receiver is up; a batch the receiver refuses is counted, not retried.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use steward_tests::{free_port, Proc};

use crate::helpers::{collector, spawn_app, Session, TestApp};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Prometheus,
    VictoriaMetrics,
}

/// Starts `kind` on `port` with its data in `dir` and waits until it answers.
fn start_receiver(kind: Kind, dir: &Path, port: u16) -> Proc {
    let data = dir.join("receiver-data");
    std::fs::create_dir_all(&data).unwrap();
    let (mut cmd, ready) = match kind {
        Kind::Prometheus => {
            let config = dir.join("prometheus.yml");
            std::fs::write(&config, "scrape_configs: []\n").unwrap();
            let mut c = Command::new("prometheus");
            c.arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--web.enable-remote-write-receiver");
            (c, "/-/ready")
        }
        Kind::VictoriaMetrics => {
            let mut c = Command::new("victoria-metrics");
            c.arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                .arg(format!("-storageDataPath={}", data.display()))
                .arg("-retentionPeriod=1d")
                .arg("-search.latencyOffset=0s");
            (c, "/health")
        }
    };
    let proc = Proc(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "the receiver is installed (make test installs prometheus and victoria-metrics)",
            ),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{port}{ready}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if up {
            return proc;
        }
        assert!(Instant::now() < deadline, "the receiver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The raw samples of `selector` over the last hour, as the receiver's query API has them.
async fn read_back(kind: Kind, base: &str, selector: &str) -> Vec<(i64, f64)> {
    let http = reqwest::Client::new();
    if kind == Kind::VictoriaMetrics {
        // VictoriaMetrics makes fresh samples searchable every second or so; this now.
        http.get(format!("{base}/internal/force_flush"))
            .send()
            .await
            .unwrap();
    }
    let body: Value = http
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", format!("{selector}[1h]"))])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let Some(values) = body["data"]["result"][0]["values"].as_array() else {
        return Vec::new();
    };
    values
        .iter()
        .map(|v| {
            (
                (v[0].as_f64().unwrap() * 1000.0).round() as i64,
                v[1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

async fn wait_read_back(kind: Kind, base: &str, selector: &str, n: usize) -> Vec<(i64, f64)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = read_back(kind, base, selector).await;
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{selector}: {} samples, not {n}: {got:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A hub that remote-writes to `port` and reads trends from there, a host `edge-01` in group
/// `eu`, and its token.
async fn hub_writing_to(port: u16) -> (TestApp, Session, String) {
    hub_batching(port, 100).await
}

/// [`hub_writing_to`] with partial batches waiting `deadline_ms`.
async fn hub_batching(port: u16, deadline_ms: u64) -> (TestApp, Session, String) {
    let hub = spawn_app(move |c, _| {
        c.remote_write.url = format!("http://127.0.0.1:{port}/api/v1/write");
        c.remote_write.batch_deadline_ms = deadline_ms;
        c.remote_write.max_backoff_ms = 300;
        c.prometheus.url = format!("http://127.0.0.1:{port}");
    })
    .await;
    let admin = hub.admin().await;
    let r = hub
        .act(
            &admin,
            "/api/v1/fleet/hosts",
            Some(json!({ "name": "edge-01" })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    for (path, body) in [
        ("/api/v1/fleet/groups", json!({ "name": "eu" })),
        (
            "/api/v1/fleet/assign",
            json!({ "hosts": ["edge-01"], "group": "eu" }),
        ),
    ] {
        let r = hub.act(&admin, path, Some(body)).await;
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    (hub, admin, token)
}

/// Posts a heartbeat of `edge-01` collected at `at_ms` with these readings; returns the answer.
async fn beat(hub: &TestApp, token: &str, seq: u64, at_ms: i64, disk: f64, gpu: f64) -> Value {
    let body = json!({
        "schema": 1,
        "agent_version": "0.1.0-test",
        "status": "ready",
        "seq": seq,
        "collected_ms": at_ms,
        "cores": 4,
        "disk_mount": "/",
        "metrics": [
            {"name": "disk_used_pct", "label": "/", "value": disk},
            {"name": "mem_used_pct", "value": 50.0},
            {"name": "cpu_busy_pct", "value": 20.0},
            {"name": "cpu_steal_pct", "value": 1.5},
            {"name": "load1_per_core", "value": 0.5},
            {"name": "disk_write_bps", "value": 1.0e6},
            {"name": "net_rx_bps", "value": 2.0e5},
            {"name": "net_tx_bps", "value": 1.0e5},
        ],
        "gpus": [{
            "id": "0", "util_pct": gpu, "temperature_c": 55.0,
            "vram_used_bytes": 1.0e9, "vram_total_bytes": 8.0e9,
        }],
    });
    let r = hub
        .request(Method::POST, "/api/v1/agent/heartbeat", None, None)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn writer_status(hub: &TestApp) -> Value {
    collector(&hub.json("/api/v1/vitals").await, "remote_write").clone()
}

#[tokio::test]
async fn the_writer_is_a_collector_line_from_the_start() {
    let (hub, _, _) = hub_writing_to(free_port()).await;
    let s = hub
        .wait_json("/api/v1/vitals", Duration::from_secs(10), |v| {
            v["collectors"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["name"] == "remote_write"))
        })
        .await;
    // Nothing to send yet: starting, not an error.
    assert_eq!(collector(&s, "remote_write")["state"], "starting", "{s:#}");
}

async fn wait_writer(hub: &TestApp, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = writer_status(hub).await;
        if ok(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "remote_write status: {s:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `/metrics` sample's value.
async fn metric_value(hub: &TestApp, line_start: &str) -> f64 {
    let text = hub.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line_start} missing in /metrics"))
}

/// The trend API's points of a host's trend: (time, value) of its first line.
async fn trend_points(hub: &TestApp, name: &str) -> (Value, Vec<(i64, f64)>) {
    let t = hub
        .json(&format!("/api/v1/trend/{name}?range=1h&host=edge-01"))
        .await;
    let points = t["series"][0]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| (p["ts_ms"].as_i64().unwrap(), p["avg"].as_f64().unwrap()))
        .collect();
    (t, points)
}

/// Polls a host trend until `ok` accepts its points: a receiver's range queries may see the
/// newest samples a moment after its raw reads do (VictoriaMetrics did once in CI).
async fn wait_trend(
    hub: &TestApp,
    name: &str,
    ok: impl Fn(&[(i64, f64)]) -> bool,
) -> (Value, Vec<(i64, f64)>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (t, points) = trend_points(hub, name).await;
        if ok(&points) {
            return (t, points);
        }
        assert!(Instant::now() < deadline, "{name}: {t}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_real_prometheus_gets_the_fleet_samples_after_it_was_down_and_refuses_the_past() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (hub, _admin, token) = hub_writing_to(port).await;
    let t0 = app::shared::clock::now_ms() - 20_000;

    // The receiver is not there yet: an error that says so, and the samples wait.
    hub.wait_json("/api/v1/vitals", Duration::from_secs(10), |v| {
        v["collectors"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["name"] == "remote_write"))
    })
    .await;
    beat(&hub, &token, 1, t0, 40.0, 65.0).await;
    let s = wait_writer(&hub, |s| s["state"] == "error").await;
    let message = s["message"].as_str().unwrap();
    assert!(message.contains("cannot reach"), "{s}");
    assert!(message.contains("samples waiting"), "{s}");
    assert!(
        metric_value(
            &hub,
            "steward_remote_write_requests_total{outcome=\"failed\"}"
        )
        .await
            >= 1.0
    );

    // Up: what waited goes first, then the next heartbeat, each at its own instant.
    let _prometheus = start_receiver(Kind::Prometheus, dir.path(), port);
    beat(&hub, &token, 2, t0 + 10_000, 41.0, 70.0).await;
    let base = format!("http://127.0.0.1:{port}");
    let disk = wait_read_back(
        Kind::Prometheus,
        &base,
        r#"steward_disk_used_percent{host="edge-01",group="eu",mountpoint="/"}"#,
        2,
    )
    .await;
    assert_eq!(disk, [(t0, 40.0), (t0 + 10_000, 41.0)]);
    let gpu = read_back(
        Kind::Prometheus,
        &base,
        r#"steward_gpu_utilization_ratio{host="edge-01",gpu="0"}"#,
    )
    .await;
    assert_eq!(
        gpu,
        [(t0, 0.65), (t0 + 10_000, 0.70)],
        "a ratio, as /metrics has it"
    );
    let s = wait_writer(&hub, |s| s["state"] == "ok").await;
    assert!(s["last_success_ms"].as_i64().is_some(), "{s}");
    assert!(
        metric_value(&hub, "steward_remote_write_samples_total{outcome=\"sent\"}").await >= 6.0
    );

    // The host's trends read them back from there, in the chart's units.
    let (t, points) = wait_trend(&hub, "disk", |p| p.last().is_some_and(|l| l.1 == 41.0)).await;
    assert_eq!(t["source"], "prometheus", "{t}");
    assert!(points.iter().all(|(_, v)| [40.0, 41.0].contains(v)), "{t}");
    let (t, _) = wait_trend(&hub, "gpu_util", |p| {
        p.last().is_some_and(|l| (l.1 - 70.0).abs() < 1e-9)
    })
    .await;
    assert_eq!(t["series"][0]["label"], "0", "{t}");

    // Every chart of the exported Grafana dashboard finds the host on the same storage.
    let http = reqwest::Client::new();
    let dashboard = server::fleet::dashboard::fleet_dashboard();
    for panel in dashboard["panels"].as_array().unwrap() {
        let expr = panel["targets"][0]["expr"]
            .as_str()
            .unwrap()
            .replace("$host", "edge-01")
            .replace("$group", ".*");
        let body: Value = http
            .get(format!("{base}/api/v1/query"))
            .query(&[("query", &expr)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let result = &body["data"]["result"];
        assert!(
            result.as_array().is_some_and(|r| !r.is_empty()),
            "{}: {expr} → {body}",
            panel["title"]
        );
    }

    // A heartbeat from before the receiver's newest sample: Prometheus refuses the batch (400),
    // the writer drops it, counts it and says so, and does not retry it.
    beat(&hub, &token, 3, t0 - 5_000, 39.0, 60.0).await;
    let s = wait_writer(&hub, |s| s["state"] == "degraded").await;
    assert!(s["message"].as_str().unwrap().contains("refused"), "{s}");
    assert!(
        metric_value(
            &hub,
            "steward_remote_write_samples_total{outcome=\"refused\"}"
        )
        .await
            >= 1.0
    );
    // Later heartbeats still go.
    beat(&hub, &token, 4, t0 + 15_000, 42.0, 71.0).await;
    wait_read_back(
        Kind::Prometheus,
        &base,
        r#"steward_disk_used_percent{host="edge-01"}"#,
        3,
    )
    .await;
    wait_writer(&hub, |s| s["state"] == "ok").await;
}

#[tokio::test]
async fn a_real_victoria_metrics_gets_the_fleet_samples_and_serves_the_host_trends() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _vm = start_receiver(Kind::VictoriaMetrics, dir.path(), port);
    let (hub, _admin, token) = hub_writing_to(port).await;
    let t0 = app::shared::clock::now_ms() - 20_000;
    for (i, disk) in [60.0, 61.0, 62.5].into_iter().enumerate() {
        beat(
            &hub,
            &token,
            i as u64 + 1,
            t0 + 5_000 * i as i64,
            disk,
            10.0,
        )
        .await;
    }
    let base = format!("http://127.0.0.1:{port}");
    let disk = wait_read_back(
        Kind::VictoriaMetrics,
        &base,
        r#"steward_disk_used_percent{host="edge-01",group="eu",mountpoint="/"}"#,
        3,
    )
    .await;
    assert_eq!(disk, [(t0, 60.0), (t0 + 5_000, 61.0), (t0 + 10_000, 62.5)]);
    wait_writer(&hub, |s| s["state"] == "ok").await;
    let (t, points) = wait_trend(&hub, "disk", |p| p.last().is_some_and(|l| l.1 == 62.5)).await;
    assert_eq!(t["source"], "prometheus", "{t}");
    assert!(
        points.iter().all(|(_, v)| [60.0, 61.0, 62.5].contains(v)),
        "{t}"
    );
}

/// Samples still queued when the hub stops are sent before it exits (partial batches wait a
/// minute here, so only the shutdown sends them).
#[tokio::test]
async fn the_queue_is_sent_when_the_hub_stops() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _prometheus = start_receiver(Kind::Prometheus, dir.path(), port);
    let (hub, _admin, token) = hub_batching(port, 60_000).await;
    let t0 = app::shared::clock::now_ms() - 10_000;
    beat(&hub, &token, 1, t0, 33.0, 5.0).await;
    let base = format!("http://127.0.0.1:{port}");
    let selector = r#"steward_disk_used_percent{host="edge-01",mountpoint="/"}"#;
    assert!(
        read_back(Kind::Prometheus, &base, selector)
            .await
            .is_empty(),
        "nothing is sent before the batch deadline"
    );
    hub.stop().await;
    assert_eq!(
        read_back(Kind::Prometheus, &base, selector).await,
        [(t0, 33.0)],
        "sent at shutdown"
    );
}

/// An agent configured with `[remote_write]` writes its own host's samples; they are the ones
/// the hub stored from the same heartbeats (same instant, same value).
#[tokio::test]
async fn a_real_agent_writes_its_own_samples_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _vm = start_receiver(Kind::VictoriaMetrics, dir.path(), port);
    let hub = spawn_app(|_, _| {}).await;
    let admin = hub.admin().await;
    let r = hub
        .act(
            &admin,
            "/api/v1/fleet/hosts",
            Some(json!({ "name": "agent-rw" })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let token_file = dir.path().join("agent.token");
    std::fs::write(&token_file, token).unwrap();
    let config = dir.path().join("agent.toml");
    let metrics_port = free_port();
    std::fs::write(
        &config,
        format!(
            "[agent]\ninterval_secs = 1\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n[docker]\nenabled = false\n[remote_write]\nurl = \"http://127.0.0.1:{port}/api/v1/write\"\nhost = \"agent-rw\"\nbatch_deadline_ms = 100\n"
        ),
    )
    .unwrap();
    let _agent = Proc(
        crate::fleet::agent_command(&config, &hub.base, &token_file, &dir.path().join("agent"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let written = wait_read_back(
        Kind::VictoriaMetrics,
        &base,
        r#"steward_mem_used_percent{host="agent-rw"}"#,
        2,
    )
    .await;
    // The hub's latest reading of the host is one of them, at the same instant.
    let h = hub.json("/api/v1/fleet/hosts/agent-rw").await;
    let at = h["vitals"]["collected_at_ms"].as_i64().unwrap();
    let value = crate::helpers::metric(&h, "mem_used_pct", None)["value"]
        .as_f64()
        .unwrap();
    let written = wait_read_back(
        Kind::VictoriaMetrics,
        &base,
        r#"steward_mem_used_percent{host="agent-rw"}"#,
        written.len() + 1,
    )
    .await;
    // VictoriaMetrics keeps values as decimals: equal to 12 significant digits.
    assert!(
        written
            .iter()
            .any(|(t, v)| *t == at && (v - value).abs() <= value.abs() * 1e-12),
        "the hub has ({at}, {value}); the agent wrote {written:?}"
    );
    // The agent's own /metrics counts what its writer sent.
    let text = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sent: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("steward_remote_write_samples_total{outcome=\"sent\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sent counter on the agent's /metrics:\n{text}"));
    assert!(sent >= written.len() as f64, "{sent} < {}", written.len());
}
