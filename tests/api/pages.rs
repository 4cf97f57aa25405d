//! The overview page is rendered on the server with the score and vitals in the HTML, and the
//! live stream sends overview events.

use std::time::Duration;

use crate::helpers::{spawn_app, CpuTicker};

#[tokio::test]
async fn overview_html_has_score_and_vitals_before_any_script() {
    let app = spawn_app(|_, _| {}).await;
    let _ticker = CpuTicker::start(app.procfs());
    let score = app
        .wait_json("/api/v1/score", Duration::from_secs(15), |s| {
            s["known"] == 4
        })
        .await;
    let r = app.get("/").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let value = score["value"].as_u64().unwrap();
    assert!(
        html.contains(&format!(">{value}</text>")),
        "score {value} not in SSR HTML"
    );
    assert!(html.contains("based on 4 of 6 dimensions"));
    assert!(html.contains("fixture-host"));
    assert!(html.contains("data-metric=\"cpu_steal_pct\""));
    assert!(html.contains("CPU steal"));
    assert!(html.contains("Docker monitoring is off"));
    assert!(html.contains("/pkg/steward.js"), "hydration script linked");
    app.stop().await;
}

#[tokio::test]
async fn page_says_no_data_when_the_collector_fails() {
    let app = spawn_app(|c, dir| c.paths.procfs = dir.join("missing")).await;
    app.wait_json("/api/v1/vitals", Duration::from_secs(15), |v| {
        v["collectors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["state"] == "error")
    })
    .await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("No vitals yet"), "no-data message");
    assert!(
        html.contains("missing/stat"),
        "collector error shown with its message"
    );
    app.stop().await;
}

#[tokio::test]
async fn stream_sends_overview_events() {
    let app = spawn_app(|_, _| {}).await;
    let mut r = app.get("/api/v1/stream").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    // The first event is the current state; later ones follow each round. Wait for one with vitals.
    while !seen.contains("\"host\":\"fixture-host\"") {
        let chunk = tokio::time::timeout_at(deadline, r.chunk())
            .await
            .expect("an event with vitals within 15 s")
            .unwrap()
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.starts_with("data: {"), "{seen}");
    drop(r);
    app.stop().await;
}
