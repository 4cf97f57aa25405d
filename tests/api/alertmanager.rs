//! Steward's alerts through a real Prometheus Alertmanager (Debian `prometheus-alertmanager`,
//! started here on loopback): Alertmanager receives them on `/api/v2/alerts`, routes them to a
//! webhook receiver on loopback, forwards the resolution, and a silence made in Alertmanager
//! keeps them from the receiver.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use steward_tests::receivers::Receivers;
use steward_tests::{free_port, Proc};

use crate::helpers::{spawn_app, CpuTicker};

struct Alertmanager {
    _proc: Proc,
    url: String,
    _dir: tempfile::TempDir,
}

async fn start_alertmanager(hook: &str) -> Alertmanager {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: hook\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: hook\n    webhook_configs:\n      - url: {hook}\n        send_resolved: true\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let bin = std::env::var("ALERTMANAGER").unwrap_or_else(|_| "prometheus-alertmanager".into());
    let child = Command::new(&bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // Empty: no gossip port on every interface, no waiting for peers.
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin} not found ({e}); `make test` installs it"));
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = client.get(format!("{url}/-/ready")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "Alertmanager did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Alertmanager {
        _proc: Proc(child),
        url,
        _dir: dir,
    }
}

/// The alerts about `rule` Alertmanager forwarded, as (status, labels) in order.
fn forwarded(rx: &Receivers, rule: &str) -> Vec<(String, serde_json::Value)> {
    rx.received("/hook/am")
        .iter()
        .flat_map(|r| r.json()["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["labels"]["alertname"] == rule)
        .map(|a| {
            (
                a["status"].as_str().unwrap().to_string(),
                a["labels"].clone(),
            )
        })
        .collect()
}

async fn until(what: &str, timeout: Duration, f: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_a_real_alertmanager_which_routes_resolves_and_silences() {
    let rx = Receivers::start().await;
    let am = start_alertmanager(&format!("{}/hook/am", rx.base)).await;
    let am_url = am.url.clone();
    let app = spawn_app(|c, _| {
        c.alerts.for_secs = 0;
        c.alerts.alertmanager = vec![server::config::AlertmanagerConfig {
            name: "am".into(),
            url: am_url,
            timeout_secs: 5,
            min_severity: server::config::MinSeverity::Warning,
        }];
    })
    .await;
    let ticker = CpuTicker::start(app.procfs());
    ticker.set_steal_pct(1.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    ticker.set_steal_pct(7.0);
    until(
        "Alertmanager to forward the steal warning",
        Duration::from_secs(20),
        || {
            forwarded(&rx, "cpu_steal_pct")
                .iter()
                .any(|(s, _)| s == "firing")
        },
    )
    .await;
    let (_, labels) = forwarded(&rx, "cpu_steal_pct").remove(0);
    assert_eq!(labels["severity"], "warning");
    assert_eq!(labels["source"], "steward");
    // Alertmanager holds it, with Steward's summary.
    let held: serde_json::Value = reqwest::get(format!(
        "{}/api/v2/alerts?filter=alertname%3D%22cpu_steal_pct%22",
        am.url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(
        held[0]["annotations"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("CPU steal is 7"),
        "{held}"
    );

    // Resolved in Steward: Alertmanager is told (endsAt) and forwards the resolution.
    ticker.set_steal_pct(1.0);
    until("the resolution", Duration::from_secs(20), || {
        forwarded(&rx, "cpu_steal_pct")
            .iter()
            .any(|(s, _)| s == "resolved")
    })
    .await;

    // A silence made in Alertmanager: Steward still posts, Alertmanager forwards nothing.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let r = reqwest::Client::new()
        .post(format!("{}/api/v2/silences", am.url))
        .json(&serde_json::json!({
            "matchers": [{"name": "alertname", "value": "cpu_steal_pct", "isRegex": false, "isEqual": true}],
            "startsAt": app::shared::format::rfc3339_ms(now - 1000),
            "endsAt": app::shared::format::rfc3339_ms(now + 3_600_000),
            "createdBy": "test",
            "comment": "silenced in Alertmanager"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let before = forwarded(&rx, "cpu_steal_pct").len();
    let sent = |v: &serde_json::Value| v["notifiers"][0]["sent_total"].as_u64().unwrap_or(0);
    let sent_before = sent(&app.json("/api/v1/alerts").await);
    ticker.set_steal_pct(7.0);
    app.wait_json("/api/v1/alerts", Duration::from_secs(15), |v| {
        sent(v) > sent_before
    })
    .await;
    // Alertmanager waits group_wait (1 s) before it would forward; give it three.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        forwarded(&rx, "cpu_steal_pct").len(),
        before,
        "a silenced alert was forwarded"
    );
    let held: serde_json::Value = reqwest::get(format!(
        "{}/api/v2/alerts?filter=alertname%3D%22cpu_steal_pct%22&silenced=true",
        am.url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(held[0]["status"]["state"], "suppressed", "{held}");
    drop(ticker);
    app.stop().await;
}
