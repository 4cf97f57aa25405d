//! `/api/v1/history` against the real SQLite file the server writes.

use std::time::Duration;

use crate::helpers::{spawn_app, CpuTicker};

#[tokio::test]
async fn history_is_written_and_served() {
    let app = spawn_app(|_, _| {}).await;
    let _ticker = CpuTicker::start(app.procfs());
    app.wait_json("/api/v1/vitals", Duration::from_secs(15), |v| {
        !v["vitals"].is_null()
    })
    .await;
    let h = app
        .wait_json(
            "/api/v1/history?metric=load1&range=1h",
            Duration::from_secs(20),
            |v| v["points"].as_array().is_some_and(|p| p.len() >= 2),
        )
        .await;
    assert_eq!(h["resolution"], "raw");
    assert_eq!(h["metric"], "load1");
    assert_eq!(h["points"][0]["avg"], 3.4);
    // A mount point with a space is a valid series key.
    let h = app
        .json("/api/v1/history?metric=disk_used_pct:/mnt/data%20disk&range=15m")
        .await;
    assert!(!h["points"].as_array().unwrap().is_empty());
    // Longer ranges read rollups; none are complete yet in a fresh database, which is an empty
    // series, not an error.
    let h = app.json("/api/v1/history?metric=load1&range=7d").await;
    assert_eq!(h["resolution"], "hour");

    for (query, needle) in [
        ("?metric=nope&range=1h", "unknown metric"),
        ("?metric=load1&range=1fortnight", "range"),
        ("?range=1h", "metric"),
        ("?metric=load1&range=20y", "maximum"),
    ] {
        let r = app.get(&format!("/api/v1/history{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{query}: {body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn shutdown_flushes_the_last_batch() {
    // A long flush interval: only the shutdown flush can write these samples.
    let app = spawn_app(|c, _| c.history.flush_interval_secs = 3600).await;
    app.wait_json("/api/v1/vitals", Duration::from_secs(15), |v| {
        !v["vitals"].is_null()
    })
    .await;
    let h = app.json("/api/v1/history?metric=load1&range=1h").await;
    assert!(
        h["points"].as_array().unwrap().is_empty(),
        "nothing flushed yet: {h}"
    );
    let dir = app.stop().await;
    // The database file holds the samples after a graceful stop.
    let db = dir.path().join("data/steward.db");
    let store = server::store::history::HistoryStore::open(&db)
        .await
        .unwrap();
    let counts = store.row_counts().await.unwrap();
    assert!(counts[0].1 > 0, "raw samples after shutdown: {counts:?}");
}

#[tokio::test]
async fn a_young_history_fits_the_range_and_says_when_it_started() {
    let app = spawn_app(|_, _| {}).await;
    let _ticker = CpuTicker::start(app.procfs());
    app.wait_json(
        "/api/v1/history?metric=cpu_steal_pct&range=1h",
        Duration::from_secs(20),
        |v| v["points"].as_array().is_some_and(|p| !p.is_empty()),
    )
    .await;
    // Seven days asked of a history a few seconds old: the window starts where it starts
    // (ten minutes at least), in raw samples, not a sliver at the right edge of a week.
    let t = app.json("/api/v1/trend/steal?range=7d").await;
    let since = t["history_since_ms"].as_i64().unwrap();
    let (start, end) = (
        t["start_ms"].as_i64().unwrap(),
        t["end_ms"].as_i64().unwrap(),
    );
    assert_eq!(t["fitted"], true);
    assert_eq!(t["resolution"], "raw");
    assert!(
        end - start <= 11 * 60_000 && start <= since,
        "{start}..{end}, since {since}"
    );
    assert!(!t["series"][0]["points"].as_array().unwrap().is_empty());
    // A window before the history started holds nothing, and the trend says when it started.
    let before = app
        .json(&format!(
            "/api/v1/trend/steal?from={}&to={}",
            since - 7_200_000,
            since - 3_600_000
        ))
        .await;
    assert_eq!(before["fitted"], false);
    assert!(before["series"][0]["points"].as_array().unwrap().is_empty());
    assert_eq!(before["history_since_ms"], since);
    assert!(before["source_down"].is_null(), "the collector is fine");
    app.stop().await;
}

#[tokio::test]
async fn trends_are_allow_listed_and_say_their_source() {
    let app = spawn_app(|_, _| {}).await;
    let _ticker = CpuTicker::start(app.procfs());
    app.wait_json(
        "/api/v1/history?metric=cpu_steal_pct&range=1h",
        Duration::from_secs(20),
        |v| v["points"].as_array().is_some_and(|p| !p.is_empty()),
    )
    .await;
    let t = app.json("/api/v1/trend/steal?range=1h").await;
    assert_eq!(t["source"], "sqlite");
    assert_eq!(t["resolution"], "raw");
    assert_eq!(t["series"][0]["key"], "cpu_steal_pct");
    assert!((t["series"][0]["points"][0]["avg"].as_f64().unwrap() - 10.0).abs() < 1e-9);
    assert_eq!(t["levels"][0]["value"], 5.0);
    // A handful of points is not a trend.
    assert_eq!(t["projection"]["kind"], "no_trend");
    let r = app.get("/api/v1/trend/anything?range=7d").await;
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("known trends: disk, memory, steal, io"));
    let r = app.get("/api/v1/trend/disk?range=forever").await;
    assert_eq!(r.status(), 400);

    // A zoomed window (from/to in ms) reads the same points, only those inside it.
    let (start, end) = (
        t["start_ms"].as_i64().unwrap(),
        t["end_ms"].as_i64().unwrap(),
    );
    let first = t["series"][0]["points"][0]["ts_ms"].as_i64().unwrap();
    let z = app
        .json(&format!("/api/v1/trend/steal?from={}&to={end}", first + 1))
        .await;
    assert_eq!(z["range"], "custom");
    assert_eq!(z["resolution"], "raw");
    // A window under a minute is widened to one minute around its middle (never past now).
    let (zs, ze) = (
        z["start_ms"].as_i64().unwrap(),
        z["end_ms"].as_i64().unwrap(),
    );
    assert!(ze - zs >= 60_000 && zs <= first + 1, "{zs}..{ze}");
    let zoomed = z["series"][0]["points"].as_array().unwrap();
    assert!(!zoomed.is_empty());
    assert!(zoomed
        .iter()
        .all(|p| (zs..=ze).contains(&p["ts_ms"].as_i64().unwrap())));
    assert!(start < first + 1);
    for (query, message) in [
        (format!("from={end}"), "give both `from` and `to`"),
        (format!("from={end}&to={start}"), "must be before `to`"),
        ("from=1&to=x".to_string(), "to"),
    ] {
        let r = app.get(&format!("/api/v1/trend/steal?{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        let text = r.text().await.unwrap();
        assert!(text.contains(message), "{query}: {text}");
    }

    // Explore is Prometheus-only; without it the admin is told so.
    let admin = app.admin().await;
    let r = app
        .act(
            &admin,
            "/api/v1/explore",
            Some(serde_json::json!({ "query": "up" })),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("explore needs Prometheus"));
    app.stop().await;
}
