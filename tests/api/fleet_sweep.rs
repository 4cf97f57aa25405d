//! The fleet's health sweep against a fake fleet (one process answering on many loopback
//! addresses: `steward_tests::fake_fleet`), its statistics and metrics; and groups of hosts
//! (create, rename, delete, assign many at once, all or none; filter; a group's score).

use std::time::Duration;

use serde_json::{json, Value};
use steward_tests::fake_fleet::{Behaviour, FakeFleet};

use crate::helpers::{spawn_app, Session, TestApp};

async fn add(app: &TestApp, admin: &Session, name: &str, address: Option<&str>) -> String {
    let r = app
        .act(
            admin,
            "/api/v1/fleet/hosts",
            Some(json!({ "name": name, "address": address })),
        )
        .await;
    assert_eq!(r.status(), 201, "{name}");
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn wait_for(app: &TestApp, what: &str, ok: impl Fn(&Value) -> bool, path: &str) -> Value {
    for _ in 0..150 {
        let v = app.json(path).await;
        if ok(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {}", app.json(path).await);
}

fn health_of(page: &Value, host: &str) -> Value {
    page["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == host)
        .unwrap_or_else(|| panic!("{host} listed"))["health"]
        .clone()
}

#[tokio::test]
async fn the_sweep_classifies_every_host_counts_its_checks_and_stores_changes() {
    let fleet = FakeFleet::start().await;
    let app = spawn_app(|c, _| {
        c.fleet.sweep.interval_secs = 1;
        c.fleet.sweep.timeout_ms = 500;
        c.fleet.sweep.slow_ms = 250;
        c.fleet.sweep.concurrency = 8;
    })
    .await;
    let admin = app.admin().await;
    // 48 hosts on 48 addresses: per 8, four healthy, one saying degraded, one slow, one 503,
    // one that never answers; one more on a port where nothing listens; one without address.
    let expected = |i: u32| match i % 8 {
        4 | 5 => "degraded",
        6 => "critical",
        7 => "unreachable",
        _ => "healthy",
    };
    for i in 0..48u32 {
        match i % 8 {
            4 => fleet.set(i, Behaviour::Degraded),
            5 => fleet.set(i, Behaviour::Slow(Duration::from_millis(400))),
            6 => fleet.set(i, Behaviour::Failing),
            7 => fleet.set(i, Behaviour::Hang),
            _ => {}
        }
        add(&app, &admin, &format!("h{i:02}"), Some(&fleet.url(i))).await;
    }
    let closed = format!("http://127.0.0.1:{}/healthz", steward_tests::free_port());
    add(&app, &admin, "refused", Some(&closed)).await;
    add(&app, &admin, "no-address", None).await;

    let page = wait_for(
        &app,
        "every host checked",
        |p| p["health"]["unchecked"] == 0 && p["health"]["healthy"].as_u64() > Some(0),
        "/api/v1/fleet/hosts?limit=100",
    )
    .await;
    assert_eq!(
        page["health"],
        json!({"healthy": 24, "degraded": 12, "critical": 6, "unreachable": 7, "unchecked": 0}),
        "hosts without an address are not counted"
    );
    for i in 0..48u32 {
        let h = health_of(&page, &format!("h{i:02}"));
        assert_eq!(h["status"], expected(i), "h{i:02}: {h}");
    }
    let reason = |host: &str| {
        health_of(&page, host)["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        reason("h04"),
        "HTTP 200, says degraded: docker error (socket refused)"
    );
    assert!(
        reason("h05").starts_with("slow: answered in"),
        "{}",
        reason("h05")
    );
    assert_eq!(reason("h06"), "HTTP 503");
    assert_eq!(reason("h07"), "no answer within the timeout");
    assert!(
        reason("refused").starts_with("cannot connect"),
        "{}",
        reason("refused")
    );
    assert!(health_of(&page, "no-address").is_null());
    assert!(health_of(&page, "h00")["latency_ms"].is_u64());
    assert!(health_of(&page, "h07")["latency_ms"].is_null());

    // Filter by health.
    let critical = app
        .json("/api/v1/fleet/hosts?health=critical&limit=100")
        .await;
    assert_eq!(critical["matched"], 6);
    let bad = app.get("/api/v1/fleet/hosts?health=sick").await;
    assert_eq!(bad.status(), 400);

    // The worker's statistics add up, and rounds follow each other.
    let w = wait_for(
        &app,
        "two rounds",
        |w| w["sweep"]["rounds_total"].as_u64() >= Some(2),
        "/api/v1/fleet/workers",
    )
    .await;
    let s = &w["sweep"];
    assert_eq!(s["targets"], 49);
    let total = s["checks_total"].as_u64().unwrap();
    assert!(total >= 49, "{s}");
    assert_eq!(
        s["checks_succeeded"].as_u64().unwrap() + s["checks_failed"].as_u64().unwrap(),
        total
    );
    let rate = s["success_rate"].as_f64().unwrap();
    assert!(rate > 0.5 && rate < 0.9, "{s}");
    assert!(
        s["last_run_duration_ms"].as_u64().unwrap() >= 500,
        "a host that never answers takes the timeout: {s}"
    );
    assert!(s["last_run_started_ms"].is_i64());

    // A change of health is stored with its reason; the host's answer lists its changes.
    fleet.set(0, Behaviour::Failing);
    // The host turns critical in memory first; its stored change follows in the same round.
    wait_for(
        &app,
        "h00 turns critical and its change is stored",
        |h| {
            h["health"]["status"] == "critical"
                && h["health_changes"].as_array().is_some_and(|c| c.len() >= 2)
        },
        "/api/v1/fleet/hosts/h00",
    )
    .await;
    let h = app.json("/api/v1/fleet/hosts/h00").await;
    let changes: Vec<&str> = h["health_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        changes,
        ["critical", "healthy"],
        "only changes, newest first"
    );

    // Clearing an address stops the checks of that host (audited).
    let r = app
        .act(
            &admin,
            "/api/v1/fleet/hosts/refused/address",
            Some(json!({ "address": null })),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .act(
            &admin,
            "/api/v1/fleet/hosts/h01/address",
            Some(json!({ "address": "ftp://x" })),
        )
        .await;
    assert_eq!(r.status(), 400);
    let w = app.json("/api/v1/fleet/workers").await;
    let page = app.json("/api/v1/fleet/hosts?limit=1").await;
    assert_eq!(
        page["health"]["unreachable"], 6,
        "the cleared host left the counts: {w}"
    );
    assert!(app.json("/api/v1/fleet/hosts/refused").await["health"].is_null());

    // The same figures in /metrics, and the sweep among the collectors.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("steward_fleet_hosts_health{status=\"critical\"} 7"),
        "{metrics}"
    );
    assert!(metrics.contains("steward_fleet_sweep_checks_total{result=\"failed\"}"));
    assert!(metrics.contains("steward_fleet_sweep_last_duration_seconds "));
    let health = app.json("/healthz").await;
    assert!(
        health["collectors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "fleet_sweep"),
        "{health}"
    );
    assert!(fleet.served() >= 96);
}

#[tokio::test]
async fn groups_are_managed_all_or_none_filter_the_list_and_score_their_hosts() {
    let app = spawn_app(|c, _| c.fleet.sweep.enabled = false).await;
    let admin = app.admin().await;
    let mut tokens = Vec::new();
    for name in ["a1", "a2", "a3", "b1"] {
        tokens.push(add(&app, &admin, name, None).await);
    }
    for (name, status) in [("eu", 201), ("us", 201), ("eu", 409), ("Bad Name", 400)] {
        let r = app
            .act(
                &admin,
                "/api/v1/fleet/groups",
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(r.status(), status, "{name}");
    }
    let assign = |hosts: Value, group: Value| {
        let app = &app;
        let admin = &admin;
        async move {
            app.act(
                admin,
                "/api/v1/fleet/assign",
                Some(json!({ "hosts": hosts, "group": group })),
            )
            .await
            .status()
        }
    };
    assert_eq!(assign(json!(["a1", "a2", "a3"]), json!("eu")).await, 200);
    // All or none: one unknown host leaves everything as it was.
    assert_eq!(assign(json!(["b1", "nope"]), json!("us")).await, 400);
    assert_eq!(assign(json!(["b1"]), json!("mars")).await, 404);
    assert_eq!(assign(json!([]), json!("us")).await, 400);
    assert_eq!(assign(json!(["b1"]), json!("us")).await, 200);
    let b1 = app.json("/api/v1/fleet/hosts/b1").await;
    assert_eq!(b1["group"], "us");

    // Two hosts of eu send vitals: the group's score is their worst and their average.
    for (i, steal) in [(0usize, 1.0), (1, 30.0)] {
        let beat = json!({
            "schema": 1, "agent_version": "t", "status": "ready", "seq": 1,
            "collected_ms": app::shared::clock::now_ms(), "cores": 4, "disk_mount": "/",
            "metrics": [
                {"name": "cpu_steal_pct", "value": steal},
                {"name": "mem_available_bytes", "value": 8.0e9},
                {"name": "mem_total_bytes", "value": 16.0e9},
                {"name": "disk_used_pct", "label": "/", "value": 40.0}
            ],
        });
        let r = app
            .request(reqwest::Method::POST, "/api/v1/agent/heartbeat", None, None)
            .bearer_auth(&tokens[i])
            .json(&beat)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let groups = app.json("/api/v1/fleet/groups").await;
    let eu = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "eu")
        .unwrap()
        .clone();
    assert_eq!(
        (eu["hosts"].as_u64(), eu["scored"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(eu["counts"]["live"], 2);
    let a1 = app.json("/api/v1/fleet/hosts/a1").await["score"]["value"]
        .as_u64()
        .unwrap();
    let a2 = app.json("/api/v1/fleet/hosts/a2").await["score"]["value"]
        .as_u64()
        .unwrap();
    assert!(a2 < a1, "30 % steal scores lower: {a1} vs {a2}");
    assert_eq!(eu["worst_score"].as_u64(), Some(a2));
    assert_eq!(eu["average_score"].as_f64(), Some((a1 + a2) as f64 / 2.0));

    // Filter by group; rename carries the hosts; delete leaves them ungrouped.
    let listed = app.json("/api/v1/fleet/hosts?group=eu").await;
    assert_eq!(listed["matched"], 3);
    let r = app
        .act(
            &admin,
            "/api/v1/fleet/groups/eu/rename",
            Some(json!({ "name": "europe" })),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .act(
            &admin,
            "/api/v1/fleet/groups/us/rename",
            Some(json!({ "name": "europe" })),
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        app.json("/api/v1/fleet/hosts?group=europe").await["matched"],
        3
    );
    assert_eq!(app.json("/api/v1/fleet/hosts?group=eu").await["matched"], 0);
    let r = app
        .act(&admin, "/api/v1/fleet/groups/europe/delete", None)
        .await;
    assert_eq!(r.status(), 200);
    assert!(app.json("/api/v1/fleet/hosts/a1").await["group"].is_null());
    assert_eq!(assign(json!(["b1"]), Value::Null).await, 200);
    assert!(app.json("/api/v1/fleet/hosts/b1").await["group"].is_null());

    let actions: Vec<String> = app
        .audit_log(&admin)
        .await
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["result"].as_str().unwrap()
            )
        })
        .collect();
    for a in [
        "group-create ok",
        "group-create failed",
        "group-assign ok",
        "group-assign failed",
        "group-rename ok",
        "group-delete ok",
        "host-add ok",
    ] {
        assert!(actions.contains(&a.to_string()), "{a} in {actions:?}");
    }
}
