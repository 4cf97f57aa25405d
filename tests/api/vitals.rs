//! `/api/v1/vitals`, `/api/v1/score`, `/healthz` against the fixture tree, and a broken tree.

use std::time::Duration;

use crate::helpers::{collector, metric, spawn_app, CpuTicker};

#[tokio::test]
async fn vitals_and_score_follow_the_fixture() {
    let app = spawn_app(|_, _| {}).await;
    let _ticker = CpuTicker::start(app.procfs());
    let body = app
        .wait_json("/api/v1/vitals", Duration::from_secs(15), |v| {
            !v["vitals"].is_null() && metric(v, "cpu_steal_pct", None)["value"].is_number()
        })
        .await;
    let steal = metric(&body, "cpu_steal_pct", None);
    assert!(
        (steal["value"].as_f64().unwrap() - 10.0).abs() < 1e-9,
        "{steal}"
    );
    assert_eq!(steal["level"], "warn");
    assert!(
        (metric(&body, "cpu_iowait_pct", None)["value"]
            .as_f64()
            .unwrap()
            - 10.0)
            .abs()
            < 1e-9
    );
    assert!(
        (metric(&body, "cpu_busy_pct", None)["value"]
            .as_f64()
            .unwrap()
            - 20.0)
            .abs()
            < 1e-9
    );
    assert_eq!(metric(&body, "load1_per_core", None)["value"], 1.7);
    assert_eq!(metric(&body, "load1_per_core", None)["level"], "warn");
    assert_eq!(metric(&body, "mem_used_pct", None)["value"], 43.75);
    assert_eq!(metric(&body, "swap_used_pct", None)["level"], "warn");
    assert_eq!(metric(&body, "swap_cached_bytes", None)["level"], "warn");
    assert_eq!(metric(&body, "procs_d_state", None)["value"], 1.0);
    assert_eq!(metric(&body, "process_count", Some("rclone"))["value"], 3.0);
    assert_eq!(
        metric(&body, "psi_memory_some_avg10", None)["level"],
        "warn"
    );
    assert!(metric(&body, "disk_used_pct", Some("/mnt/data disk"))["value"].is_number());
    assert_eq!(body["vitals"]["host"], "fixture-host");
    assert_eq!(body["vitals"]["top_rss"][0]["name"], "python3");

    // Steal 10 % → 5 points; 9.2 GB available → 20 and 10; 4 of 6 dimensions known.
    let score = app.json("/api/v1/score").await;
    let dim = |id: &str| {
        score["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(dim("cpu_efficiency")["points"], 5);
    assert_eq!(dim("memory_pressure")["points"], 20);
    assert_eq!(dim("llm_readiness")["points"], 10);
    assert!(dim("service_health")["points"].is_null());
    assert!(dim("service_health")["reason"]
        .as_str()
        .unwrap()
        .contains("Docker monitoring is off"));
    assert!(dim("maintenance_hygiene")["points"].is_null());
    assert_eq!(score["known"], 4);
    let disk = dim("disk_health")["points"].as_u64().unwrap() as u32;
    let expect = ((100.0 * f64::from(5 + 20 + 10 + disk)) / 65.0).round() as u64;
    assert_eq!(score["value"].as_u64().unwrap(), expect);

    let health = app.json("/healthz").await;
    assert!(health["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "vitals"));
    app.stop().await;
}

#[tokio::test]
async fn first_round_without_cpu_delta_is_degraded_not_zero() {
    // Without the ticker the stat file never changes: CPU percentages are unknown, with a reason.
    let app = spawn_app(|_, _| {}).await;
    let body = app
        .wait_json("/api/v1/vitals", Duration::from_secs(15), |v| {
            !v["vitals"].is_null()
        })
        .await;
    let steal = metric(&body, "cpu_steal_pct", None);
    assert!(steal["value"].is_null());
    assert_eq!(steal["level"], "unknown");
    assert_eq!(steal["note"], "no CPU time passed between samples");
    let vitals = collector(&body, "vitals");
    assert_eq!(vitals["state"], "degraded");
    assert!(
        vitals["message"]
            .as_str()
            .unwrap()
            .contains("no CPU time passed"),
        "{vitals}"
    );
    assert!(vitals["last_success_ms"].is_number());
    let health = app.json("/healthz").await;
    assert_eq!(health["status"], "degraded");
    app.stop().await;
}

#[tokio::test]
async fn unreadable_host_is_an_error_with_no_data() {
    let app = spawn_app(|c, dir| c.paths.procfs = dir.join("no-such-proc")).await;
    let body = app
        .wait_json("/api/v1/vitals", Duration::from_secs(15), |v| {
            v["collectors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == "vitals" && c["state"] == "error")
        })
        .await;
    assert!(
        body["vitals"].is_null(),
        "no data is null, never zeros: {body:#}"
    );
    let vitals = collector(&body, "vitals");
    assert!(
        vitals["message"]
            .as_str()
            .unwrap()
            .contains("no-such-proc/stat"),
        "{vitals}"
    );
    assert!(vitals["last_success_ms"].is_null());
    let score = app.json("/api/v1/score").await;
    assert!(score["value"].is_null());
    assert_eq!(score["known"], 0);
    app.stop().await;
}
