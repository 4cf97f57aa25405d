//! Trends through the Prometheus proxy, against Debian's real `prometheus` on loopback with 7 days
//! of history backfilled by `promtool tsdb create-blocks-from openmetrics` before it starts, and a
//! live `prometheus-node-exporter` it scrapes every second.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use steward_tests::{free_port, Proc};

use crate::helpers::spawn_app;

const DAY: i64 = 86_400;

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The UTC day (start, s) inside the backfill on which the container "db" writes heavily.
fn heavy_day(now: i64) -> i64 {
    let start = now - 600 - 7 * DAY;
    (start / DAY + 2) * DAY
}

/// Seven days of history, ending 10 min ago: disk used on `/` rising 1 %/day
/// from 40 %; two containers' block write counters ("db" at 1 kB/s, but 200 kB/s = 17.3 GB
/// on one whole UTC day; "web" at 5 kB/s); and the unhealthy-container gauge.
fn write_backfill(path: &Path, now: i64) {
    const SIZE: f64 = 100e9;
    let end = now - 600;
    let start = end - 7 * DAY;
    let heavy = heavy_day(now)..heavy_day(now) + DAY;
    let mut avail = String::from("# TYPE node_filesystem_avail_bytes gauge\n");
    let mut size = String::from("# TYPE node_filesystem_size_bytes gauge\n");
    let mut unhealthy = String::from("# TYPE steward_containers_unhealthy gauge\n");
    let mut writes = String::from("# TYPE steward_container_block_write_bytes counter\n");
    let mut web = String::new();
    let (mut db_total, mut web_total) = (0.0, 0.0);
    let mut t = start;
    while t <= end {
        // Gauges every 5 minutes; counters every minute, so `rate(…[5m])` has samples to use.
        if (t - start) % 300 == 0 {
            let used_pct = 40.0 + (t - start) as f64 / DAY as f64;
            avail.push_str(&format!(
                "node_filesystem_avail_bytes{{mountpoint=\"/\"}} {} {t}\n",
                SIZE * (1.0 - used_pct / 100.0)
            ));
            size.push_str(&format!(
                "node_filesystem_size_bytes{{mountpoint=\"/\"}} {SIZE} {t}\n"
            ));
            unhealthy.push_str(&format!(
                "steward_containers_unhealthy {} {t}\n",
                (t / 3600) % 3
            ));
        }
        writes.push_str(&format!(
            "steward_container_block_write_bytes_total{{container=\"db\"}} {db_total} {t}\n"
        ));
        web.push_str(&format!(
            "steward_container_block_write_bytes_total{{container=\"web\"}} {web_total} {t}\n"
        ));
        db_total += 60.0 * if heavy.contains(&t) { 200e3 } else { 1e3 };
        web_total += 60.0 * 5e3;
        t += 60;
    }
    std::fs::write(
        path,
        format!("{avail}{size}{unhealthy}{writes}{web}# EOF\n"),
    )
    .unwrap();
}

struct Prometheus {
    url: String,
    _prometheus: Proc,
    _node_exporter: Proc,
}

fn start_prometheus(dir: &Path) -> Prometheus {
    let data = dir.join("tsdb");
    std::fs::create_dir_all(&data).unwrap();
    let backfill = dir.join("backfill.om");
    write_backfill(&backfill, now_s());
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&backfill)
        .arg(&data)
        .output()
        .expect("promtool is installed (make test installs Debian's prometheus)");
    assert!(
        out.status.success(),
        "backfill failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let ne_port = free_port();
    let node_exporter = Proc(
        Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address=127.0.0.1:{ne_port}"))
            .arg("--no-collector.systemd")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-node-exporter is installed"),
    );
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{ne_port}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let prometheus = Proc(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=400d")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed"),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = std::process::Command::new("curl")
            .args(["-sf", &format!("{url}/-/ready")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    Prometheus {
        url,
        _prometheus: prometheus,
        _node_exporter: node_exporter,
    }
}

/// The same `query_range` sent to Prometheus directly.
async fn direct(url: &str, query: &str, start: i64, end: i64, step: u64) -> Vec<(i64, f64)> {
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/api/v1/query_range"))
        .query(&[
            ("query", query.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", step.to_string()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["result"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                (v[0].as_f64().unwrap() * 1000.0).round() as i64,
                v[1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn proxy_matches_prometheus_and_projects_the_backfill() {
    let dir = tempfile::tempdir().unwrap();
    let prom = start_prometheus(dir.path());
    let url = prom.url.clone();
    let app = spawn_app(move |c, _| c.prometheus.url = url).await;

    let t = app.json("/api/v1/trend/disk?range=7d").await;
    assert_eq!(t["source"], "prometheus");
    assert_eq!(t["step_secs"], 606, "7 days in at most 1,000 points");
    let points = t["series"][0]["points"].as_array().unwrap();
    assert!(points.len() > 900, "{} points", points.len());
    let query = "max(100 * (1 - node_filesystem_avail_bytes{mountpoint=\"/\"} / node_filesystem_size_bytes{mountpoint=\"/\"}))";
    let (start, end) = (
        t["start_ms"].as_i64().unwrap() / 1000,
        t["end_ms"].as_i64().unwrap() / 1000,
    );
    let want = direct(&prom.url, query, start, end, 606).await;
    let got: Vec<(i64, f64)> = points
        .iter()
        .map(|p| (p["ts_ms"].as_i64().unwrap(), p["avg"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        got.len(),
        want.len(),
        "as many points as Prometheus returns"
    );
    // Same times; same values up to serde_json's float parsing in this test (it may round to
    // a neighbouring f64 without its `float_roundtrip` feature, which would rebuild the world).
    let first_difference = got
        .iter()
        .zip(&want)
        .position(|(a, b)| a.0 != b.0 || (a.1 - b.1).abs() > 1e-12 * b.1.abs().max(1.0));
    assert_eq!(
        first_difference,
        None,
        "the proxy returns exactly what Prometheus returns: {:?}",
        first_difference.map(|i| (got[i], want[i]))
    );
    // 1 %/day from 40 %: a clean rise, 55 % (the score band) about a week ahead.
    assert_eq!(t["projection"]["kind"], "rising", "{}", t["projection"]);
    let slope = t["projection"]["fit"]["slope_per_day"].as_f64().unwrap();
    assert!((slope - 1.0).abs() < 0.01, "{slope}");
    let days = t["projection"]["crossings"][0]["in_days"].as_f64().unwrap();
    assert!((7.0..9.0).contains(&days), "{days}");

    // A zoomed window is the same query over the dragged span, at a finer step.
    let (zs, ze) = (end - 2 * DAY, end - DAY);
    let z = app
        .json(&format!(
            "/api/v1/trend/disk?from={}&to={}",
            zs * 1000,
            ze * 1000
        ))
        .await;
    assert_eq!(z["range"], "custom");
    assert_eq!(z["step_secs"], 87, "one day in at most 1,000 points");
    let want = direct(&prom.url, query, zs, ze, 87).await;
    let got = z["series"][0]["points"].as_array().unwrap();
    assert_eq!(got.len(), want.len());
    assert_eq!(got[0]["ts_ms"].as_i64(), Some(want[0].0));

    // Per-container write rates from Steward's own counters, one line each, the heavy day flagged.
    let io = app.json("/api/v1/trend/container_io?range=7d").await;
    let labels: Vec<&str> = io["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert!(labels.contains(&"db") && labels.contains(&"web"));
    let flags = io["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0]["series"], "db");
    assert_eq!(
        flags[0]["start_ms"].as_i64(),
        Some(heavy_day(now_s()) * 1000)
    );
    let unhealthy = app.json("/api/v1/trend/containers?range=7d").await;
    let max = unhealthy["series"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["avg"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(max, 2.0);

    // Explore: an admin's PromQL comes back exactly as Prometheus answers it, and is audited.
    let admin = app.admin().await;
    let q = "sum by (container) (rate(steward_container_block_write_bytes_total[5m]))";
    let r = app
        .act(
            &admin,
            "/api/v1/explore",
            Some(serde_json::json!({ "query": q, "from": zs * 1000, "to": ze * 1000 })),
        )
        .await;
    assert_eq!(r.status(), 200);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["series"].as_array().unwrap().len(), 2, "{e}");
    assert_eq!(e["step_secs"], 87);
    let label = e["series"][0]["label"].as_str().unwrap();
    assert!(label.starts_with("{container="), "{label}");
    for (body, status, message) in [
        (
            serde_json::json!({ "query": "sum(rate(x[5m]" }),
            400,
            "parse error",
        ),
        (
            serde_json::json!({ "query": "  " }),
            400,
            "the query is empty",
        ),
        (
            serde_json::json!({ "query": "up", "range": "60d" }),
            400,
            "explore allows at most 31d",
        ),
    ] {
        let r = app.act(&admin, "/api/v1/explore", Some(body.clone())).await;
        assert_eq!(r.status(), status, "{body}");
        let text = r.text().await.unwrap();
        assert!(text.contains(message), "{body}: {text}");
    }
    let log = app
        .get_as("/api/v1/audit", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        log.contains("\"action\":\"explore\"") && log.contains("ok: 2 lines"),
        "{log}"
    );

    // Live data from node_exporter: steal needs two scrapes for its rate.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let t = app.json("/api/v1/trend/steal?range=5m").await;
        if t["series"][0]["points"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
        {
            break;
        }
        assert!(Instant::now() < deadline, "no live steal points: {t}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn prometheus_down_or_slow_is_a_clear_error() {
    // Down: nothing listens on the port.
    let port = free_port();
    let app = spawn_app(move |c, _| c.prometheus.url = format!("http://127.0.0.1:{port}")).await;
    let r = app.get("/api/v1/trend/disk?range=7d").await;
    assert_eq!(r.status(), 502);
    // Explore without Prometheus configured is refused with the reason.
    let admin = app.admin().await;
    let r = app
        .act(
            &admin,
            "/api/v1/explore",
            Some(serde_json::json!({ "query": "up" })),
        )
        .await;
    assert_eq!(r.status(), 502, "Prometheus is configured but down");
    let body: serde_json::Value = r.json().await.unwrap();
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains("cannot reach Prometheus") && msg.contains("refused"),
        "{msg}"
    );
    app.stop().await;

    // Slow: accepts the connection, never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let app = spawn_app(move |c, _| {
        c.prometheus.url = format!("http://127.0.0.1:{port}");
        c.prometheus.timeout_secs = 1;
    })
    .await;
    let started = Instant::now();
    let r = app.get("/api/v1/trend/disk?range=7d").await;
    assert_eq!(r.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(5));
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("did not answer within 1 s"),
        "{body}"
    );
    // The overview never waits on Prometheus.
    assert_eq!(app.get("/api/v1/score").await.status(), 200);
    drop(silent);
    app.stop().await;
}
