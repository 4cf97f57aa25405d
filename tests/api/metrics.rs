//! `/metrics` is valid Prometheus text, checked by Debian's `promtool check metrics`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{spawn_app, CpuTicker};

#[tokio::test]
async fn metrics_pass_promtool() {
    let app = spawn_app(|_, _| {}).await;
    let _ticker = CpuTicker::start(app.procfs());
    app.wait_json("/api/v1/score", Duration::from_secs(15), |s| {
        s["known"] == 4
    })
    .await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    for needle in [
        "steward_score ",
        "steward_cpu_steal_percent 10",
        "steward_disk_used_percent{mountpoint=\"/mnt/data disk\"}",
        "steward_watched_processes{process=\"rclone\"} 3",
        "steward_metric_status{metric=\"cpu_steal_pct\",label=\"\"} 1",
        "steward_collector_state{collector=\"vitals\",state=\"ok\"} 1",
        "steward_collector_rounds_total{collector=\"history\"}",
        // Every bus subscriber's counters; nothing is lost on an idle machine.
        "steward_bus_events_dropped_total{subscriber=\"history\"} 0",
        "steward_bus_events_dropped_total{subscriber=\"hub\"} 0",
        "steward_bus_events_delivered_total{subscriber=\"hub\"}",
        "steward_history_samples_dropped_total 0",
        "steward_collector_state{collector=\"event bus\",state=\"ok\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }

    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{promtool} not found ({e}); `make test` installs Debian's prometheus")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // 0 is valid and lint-clean; 3 would be lint warnings, which we also refuse.
    assert_eq!(
        out.status.code(),
        Some(0),
        "promtool check metrics:\n{report}\n{text}"
    );
    app.stop().await;
}
