//! The Docker collector, watchdog, container APIs and bulk restart against a real Docker engine
//! (Debian's dockerd on a private socket, see `steward_tests::docker_engine`). Skipped, loudly,
//! where the machine cannot run Docker; `make test` installs and runs it.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use steward_tests::docker_engine::Engine;

use crate::helpers::{spawn_app, Session, TestApp};

fn container<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["items"].as_array()?.iter().find(|c| c["name"] == name)
}

async fn audit(app: &TestApp, admin: &Session) -> Vec<Value> {
    app.get_as("/api/v1/audit?limit=500", admin)
        .await
        .json::<Vec<Value>>()
        .await
        .unwrap()
}

/// Waits until the audit log holds an entry that `ok` accepts.
async fn wait_audit(
    app: &TestApp,
    admin: &Session,
    timeout: Duration,
    ok: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let log = audit(app, admin).await;
        if log.iter().any(&ok) {
            return log;
        }
        assert!(Instant::now() < deadline, "timed out; audit log: {log:#?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The score's service-health dimension.
async fn service_health(app: &TestApp) -> Value {
    let score = app.json("/api/v1/score").await;
    score["dimensions"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["id"] == "service_health"))
        .cloned()
        .unwrap_or_else(|| panic!("no service_health in {score:#}"))
}

fn entries<'a>(log: &'a [Value], action: &str, target: &str) -> Vec<&'a Value> {
    log.iter()
        .filter(|e| e["action"] == action && e["target"] == target)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_panel_logs_and_bulk_restart_against_real_docker() {
    let Some(engine) = Engine::start() else {
        return;
    };
    engine.run("sick", &[]);
    engine.run("optout", &["--label", "steward.watchdog=off"]);
    engine.run("paused", &[]);
    engine.run("stopped", &[]);
    engine.run(
        "fine",
        &[
            "--memory",
            "64m",
            "--label",
            "com.docker.compose.project=shop",
        ],
    );
    let host = engine.host();
    let app = spawn_app(move |c, _| {
        c.docker.enabled = true;
        c.docker.host = host;
        c.docker.interval_secs = 1;
        c.docker.stop_timeout_secs = 5;
        c.watchdog.failures_before_restart = 3;
        c.watchdog.restarts_per_hour = 2;
        c.watchdog.cooldown_secs = 3;
    })
    .await;
    let admin = app.admin().await;

    // Every container is listed; health checks pass first.
    let list = app
        .wait_json("/api/v1/containers", Duration::from_secs(30), |v| {
            ["sick", "optout", "paused", "stopped", "fine"]
                .iter()
                .all(|n| container(v, n).is_some_and(|c| c["health"] == "healthy"))
        })
        .await;
    let fine = container(&list, "fine").unwrap();
    assert_eq!(fine["stack"], "shop");
    assert_eq!(fine["mem_limit_bytes"], 64 * 1024 * 1024);
    assert_eq!(
        container(&list, "sick").unwrap()["mem_limit_bytes"],
        Value::Null,
        "no limit"
    );
    assert_eq!(list["status"]["state"], "ok", "{:#}", list["status"]);

    // The paused and stopped containers turn unhealthy, then leave the running state.
    for name in ["paused", "stopped", "optout"] {
        engine.make_unhealthy(name);
    }
    app.wait_json("/api/v1/containers", Duration::from_secs(20), |v| {
        ["paused", "stopped"]
            .iter()
            .all(|n| container(v, n).is_some_and(|c| c["health"] == "unhealthy"))
    })
    .await;
    engine.ok(&["pause", "paused"]);
    engine.ok(&["stop", "-t", "3", "stopped"]);
    let untouched: Vec<(&str, String)> = ["optout", "paused", "stopped"]
        .into_iter()
        .map(|n| (n, engine.started_at(n)))
        .collect();
    let sick_started = engine.started_at("sick");

    // The sick container: detected with its health log, restarted after exactly 3 failures.
    engine.make_unhealthy("sick");
    let unhealthy = app
        .wait_json(
            "/api/v1/containers/unhealthy",
            Duration::from_secs(20),
            |v| v.as_array().unwrap().iter().any(|c| c["name"] == "sick"),
        )
        .await;
    let sick = unhealthy
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "sick")
        .unwrap();
    assert!(sick["unhealthy_since_ms"].as_i64().is_some(), "{sick:#}");
    let log = sick["health_log"].as_array().unwrap();
    assert!(
        log.last().unwrap()["exit_code"].as_i64().unwrap() != 0,
        "{sick:#}"
    );
    let log = wait_audit(&app, &admin, Duration::from_secs(40), |e| {
        e["action"] == "watchdog-restart" && e["target"] == "sick"
    })
    .await;
    let restart = entries(&log, "watchdog-restart", "sick")[0];
    assert_eq!(restart["result"], "ok");
    assert_eq!(restart["detail"], "restarted after 3 failed checks");
    assert_ne!(
        engine.started_at("sick"),
        sick_started,
        "Docker restarted it"
    );
    let events: Vec<Value> = app
        .json("/api/v1/containers/sick/events")
        .await
        .as_array()
        .unwrap()
        .clone();
    let details: Vec<&str> = events
        .iter()
        .rev()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    let waiting_1 = details
        .iter()
        .position(|d| *d == "waiting: 1 of 3 failed checks");
    let waiting_2 = details
        .iter()
        .position(|d| *d == "waiting: 2 of 3 failed checks");
    let restarted = details
        .iter()
        .position(|d| *d == "restarted after 3 failed checks");
    assert!(
        waiting_1 < waiting_2 && waiting_2 < restarted && waiting_1.is_some(),
        "not before 3 failures: {details:?}"
    );
    assert!(details.contains(&"healthy → unhealthy"), "{details:?}");

    // The health file stays deleted across restarts, so it fails again: one more restart after
    // the cooldown, then the budget (2 an hour) is spent and the watchdog gives up.
    let log = wait_audit(&app, &admin, Duration::from_secs(60), |e| {
        e["action"] == "watchdog-give-up" && e["target"] == "sick"
    })
    .await;
    assert_eq!(
        entries(&log, "watchdog-restart", "sick").len(),
        2,
        "{log:#?}"
    );
    let list = app
        .wait_json("/api/v1/containers", Duration::from_secs(10), |v| {
            container(v, "sick").is_some_and(|c| c["watchdog"]["gave_up"] == true)
        })
        .await;
    let service = service_health(&app).await;
    assert!(
        service["points"].is_u64(),
        "service health is known: {service:#}"
    );
    assert!(container(&list, "sick").unwrap()["watchdog"]["restarts_last_hour"] == 2);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let gave_up: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["watchdog"]["gave_up"] == true)
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    assert!(
        metrics.contains("\nsteward_watchdog_gave_up 1\n"),
        "gave up on {gave_up:?}; health: {:?}\n{metrics}",
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (
                c["name"].clone(),
                c["health"].clone(),
                c["watchdog"]["last_decision"].clone()
            ))
            .collect::<Vec<_>>()
    );
    assert!(metrics.contains("\nsteward_containers 5\n"), "{metrics}");

    // Never touched: opted out, paused, stopped. The opt-out and the states are on record.
    for (name, started) in &untouched {
        assert_eq!(&engine.started_at(name), started, "{name} was restarted");
    }
    assert_eq!(engine.state("paused"), "paused");
    assert_eq!(engine.state("stopped"), "exited");
    let skips = entries(&log, "watchdog-skip", "optout");
    assert!(
        skips
            .iter()
            .any(|e| e["detail"].as_str().unwrap().contains("opted out")),
        "{log:#?}"
    );
    let paused = container(&list, "paused").unwrap();
    assert_eq!(paused["state"], "paused");

    // Logs are read from Docker.
    let lines = app.json("/api/v1/containers/fine/logs?tail=5").await;
    let lines = lines.as_array().unwrap();
    assert!(!lines.is_empty() && lines.len() <= 5, "{lines:?}");
    // Each line has its own time and stream, without Docker's timestamp in the text.
    assert!(
        lines
            .iter()
            .all(|l| l["text"].as_str().unwrap().starts_with("tick")
                && l["stream"] == "stdout"
                && l["ts_ms"].as_i64().is_some_and(|t| t > 1_700_000_000_000)),
        "{lines:?}"
    );
    assert_eq!(app.get("/api/v1/containers/nope/logs").await.status(), 404);
    // The last N lines download as text, one "time stream text" per line.
    let r = app
        .get("/api/v1/containers/fine/logs?tail=3&format=text")
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("fine-logs.txt"));
    let text = r.text().await.unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().all(|l| l.contains("Z stdout tick")), "{text}");
    let r = app.get("/api/v1/containers/fine/logs?format=xml").await;
    assert_eq!(r.status(), 400);

    // Bulk restart: the plan fixes the unhealthy list; a wrong token or a different list is
    // refused; the right confirmation runs once and streams its progress.
    let plan: Value = app
        .act(&admin, "/api/v1/containers/restart-unhealthy/plan", None)
        .await
        .json()
        .await
        .unwrap();
    let planned: Vec<String> = plan["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let names: Vec<&str> = plan["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"sick") && names.contains(&"optout"),
        "{plan:#}"
    );
    assert!(!names.contains(&"fine"), "{plan:#}");
    let r = app
        .act(
            &admin,
            "/api/v1/containers/restart-unhealthy",
            Some(serde_json::json!({ "token": "0".repeat(64), "ids": planned })),
        )
        .await;
    assert_eq!(r.status(), 409, "unknown token");
    let optout_started = engine.started_at("optout");
    let r = app
        .act(
            &admin,
            "/api/v1/containers/restart-unhealthy",
            Some(serde_json::json!({ "token": plan["token"], "ids": planned })),
        )
        .await;
    assert_eq!(r.status(), 202);
    let job: Value = r.json().await.unwrap();
    let mut stream = app
        .request(
            Method::GET,
            job["events"].as_str().unwrap(),
            Some(&admin),
            None,
        )
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !text.contains("\"phase\":\"done\"") {
        assert!(Instant::now() < deadline, "job did not finish: {text}");
        match tokio::time::timeout(Duration::from_secs(30), stream.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("job stream ended early ({other:?}): {text}"),
        }
    }
    // Each restarted container is followed until it is healthy again or fails again: both
    // keep failing their health check (the deleted file survives a restart), and the job
    // reports that instead of "restarted, 0 failed".
    for name in &names {
        assert!(
            text.contains(&format!("\"target\":\"{name}\",\"phase\":\"settling\"")),
            "{name}: {text}"
        );
        assert!(
            text.contains(&format!(
                "\"target\":\"{name}\",\"phase\":\"failed\",\"message\":\"unhealthy again"
            )),
            "{name}: {text}"
        );
    }
    assert!(
        text.contains("0 back up, 2 not healthy after the restart, 0 restart failed"),
        "{text}"
    );
    // Steward counts its own restarts (two by the watchdog, one bulk); Docker's RestartCount
    // counts only restart-policy restarts.
    let list = app
        .wait_json("/api/v1/containers", Duration::from_secs(20), |v| {
            container(v, "sick").is_some_and(|c| c["steward_restarts"] == 3)
        })
        .await;
    assert_eq!(container(&list, "sick").unwrap()["restart_count"], 0);
    assert_ne!(
        engine.started_at("optout"),
        optout_started,
        "the bulk restart is manual: opt-out does not apply"
    );
    let r = app
        .act(
            &admin,
            "/api/v1/containers/restart-unhealthy",
            Some(serde_json::json!({ "token": plan["token"], "ids": planned })),
        )
        .await;
    assert_eq!(r.status(), 409, "a used confirmation is stale");
    let log = audit(&app, &admin).await;
    assert!(entries(&log, "restart-unhealthy", "optout")
        .iter()
        .any(|e| e["actor"] == "admin" && e["result"] == "ok"));

    // A single restart by an admin, audited.
    let fine_started = engine.started_at("fine");
    let r = app
        .act(&admin, "/api/v1/containers/fine/restart", None)
        .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    assert_ne!(engine.started_at("fine"), fine_started);
    let log = audit(&app, &admin).await;
    assert_eq!(entries(&log, "restart", "fine")[0]["result"], "ok");

    // The panel renders the containers on the server.
    let html = app
        .get_as("/containers", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("data-container=\"sick\"") && html.contains("watchdog gave up"),
        "panel HTML"
    );

    // Each round is stored: the unhealthy count and every container's write rate are trends.
    let t = app
        .wait_json(
            "/api/v1/trend/containers?range=1h",
            Duration::from_secs(10),
            |t| {
                t["series"][0]["points"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["max"].as_f64() >= Some(2.0)))
            },
        )
        .await;
    assert_eq!(t["source"], "sqlite");
    assert_eq!(t["series"][0]["key"], "containers_unhealthy");
    let io = app
        .wait_json(
            "/api/v1/trend/container_io?range=1h",
            Duration::from_secs(10),
            |t| {
                t["series"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["label"] == "fine"))
            },
        )
        .await;
    assert_eq!(io["series"][0]["unit"], "bytes_per_second", "{io}");
    app.stop().await;
    drop(engine);
}

#[tokio::test]
async fn docker_unreachable_degrades_cleanly() {
    // A socket that does not exist, and one that accepts but never answers.
    let dir = tempfile::tempdir().unwrap();
    let silent = dir.path().join("silent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&silent).unwrap();
    let _held = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let closed_port = steward_tests::free_port();
    for (host, expect) in [
        ("unix:///nonexistent/docker.sock".to_string(), "not found"),
        // The call's own timeout is named, not "within 0 s".
        (
            format!("unix://{}", silent.display()),
            "did not answer the version check within 1 s",
        ),
        // The operating system's reason, not "hyper legacy client: client error (Connect)".
        (
            format!("tcp://127.0.0.1:{closed_port}"),
            "connection refused",
        ),
    ] {
        let app = spawn_app(|c, _| {
            c.docker.enabled = true;
            c.docker.host = host.clone();
            c.docker.interval_secs = 1;
            c.docker.call_timeout_secs = 1;
        })
        .await;
        let list = app
            .wait_json("/api/v1/containers", Duration::from_secs(15), |v| {
                v["status"]["state"] == "error"
            })
            .await;
        let message = list["status"]["message"].as_str().unwrap();
        assert!(message.contains(expect), "{message}");
        assert_eq!(list["items"], Value::Null, "no data, not an empty list");
        // A trend fed by Docker says why it has no new points.
        let trend = app.json("/api/v1/trend/containers?range=1h").await;
        assert!(
            trend["source_down"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Docker unreachable since Steward started"),
            "{trend:#}"
        );
        // The score says why service health is unknown; the host vitals carry on.
        let service = service_health(&app).await;
        assert!(service["points"].is_null(), "{service:#}");
        assert!(
            service["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("Docker"),
            "{service:#}"
        );
        let vitals = app
            .wait_json("/api/v1/vitals", Duration::from_secs(10), |v| {
                !v["vitals"].is_null()
            })
            .await;
        assert_eq!(
            crate::helpers::collector(&vitals, "docker")["state"],
            "error"
        );
        // The page says so, and an action fails with the reason instead of hanging.
        let html = app.get("/containers").await.text().await.unwrap();
        assert!(html.contains("Docker unreachable"), "panel shows the error");
        let admin = app.admin().await;
        let started = Instant::now();
        let r = app
            .act(&admin, "/api/v1/containers/restart-unhealthy/plan", None)
            .await;
        assert_eq!(r.status(), 409, "nothing known to restart");
        assert!(started.elapsed() < Duration::from_secs(5));
        app.stop().await;
    }
}

#[tokio::test]
async fn an_exited_one_shot_job_is_never_unhealthy_nor_restarted() {
    let Some(engine) = Engine::start() else {
        return;
    };
    // A migration-style job: its health check fails while it runs, then it exits 0.
    engine.run_cmd(
        "migrate",
        &[
            "--health-cmd",
            "test -f /never",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        &["sh", "-c", "sleep 4; exit 0"],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.state("migrate") != "exited" {
        assert!(Instant::now() < deadline, "the job did not finish");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let docker_says = engine.ok(&["inspect", "-f", "{{.State.Health.Status}}", "migrate"]);
    assert_eq!(
        docker_says, "unhealthy",
        "Docker keeps the last health state"
    );
    let finished = engine.started_at("migrate");
    let host = engine.host();
    let app = spawn_app(move |c, _| {
        c.docker.enabled = true;
        c.docker.host = host;
        c.docker.interval_secs = 1;
    })
    .await;
    let list = app
        .wait_json("/api/v1/containers", Duration::from_secs(20), |v| {
            container(v, "migrate").is_some()
        })
        .await;
    let job = container(&list, "migrate").unwrap();
    assert_eq!(job["state"], "exited", "{job:#}");
    assert_eq!(job["exit_code"], 0, "{job:#}");
    assert_eq!(
        job["health"], "none",
        "health applies to running containers only"
    );
    let unhealthy = app
        .get("/api/v1/containers/unhealthy")
        .await
        .text()
        .await
        .unwrap();
    assert!(!unhealthy.contains("\"migrate\""), "{unhealthy}");
    let service = service_health(&app).await;
    assert_eq!(service["points"], 20, "{service:#}");
    let admin = app.admin().await;
    let r = app
        .act(&admin, "/api/v1/containers/restart-unhealthy/plan", None)
        .await;
    assert_eq!(r.status(), 409, "nothing to restart");
    assert_eq!(
        engine.started_at("migrate"),
        finished,
        "the job was not re-run"
    );
    app.stop().await;
}

#[tokio::test]
async fn engine_events_show_changes_at_once_and_keep_oom_kills() {
    let Some(engine) = Engine::start() else {
        return;
    };
    engine.run("steady", &[]);
    let host = engine.host();
    // A long interval: without the engine's events a change would wait up to a minute.
    let app = spawn_app(move |c, _| {
        c.docker.enabled = true;
        c.docker.host = host;
        c.docker.interval_secs = 60;
        c.watchdog.enabled = false;
    })
    .await;
    app.wait_json("/api/v1/containers", Duration::from_secs(20), |v| {
        container(v, "steady").is_some_and(|c| c["state"] == "running")
    })
    .await;
    app.wait_json("/api/v1/vitals", Duration::from_secs(10), |v| {
        crate::helpers::collector(v, "docker events")["state"] == "ok"
    })
    .await;
    let killed = Instant::now();
    engine.ok(&["kill", "steady"]);
    let list = app
        .wait_json("/api/v1/containers", Duration::from_secs(20), |v| {
            container(v, "steady").is_some_and(|c| c["state"] == "exited")
        })
        .await;
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "the die event woke a round long before the 60 s interval ({:?})",
        killed.elapsed()
    );
    assert_eq!(container(&list, "steady").unwrap()["exit_code"], 137);

    // An OOM kill becomes part of the container's record, not only the last exit's flag.
    engine.run_cmd(
        "hog",
        &["--memory", "16m", "--memory-swap", "16m"],
        &[
            "sh",
            "-c",
            "a=aaaaaaaaaaaaaaaa; while true; do a=$a$a; done",
        ],
    );
    // (The events of a container are found once a round has listed it. 60 s: with the
    // other tests' engines busy on two cores the kill once took longer than 30 s.)
    let deadline = Instant::now() + Duration::from_secs(60);
    let events = loop {
        let r = app.get("/api/v1/containers/hog/events").await;
        if r.status() == 200 {
            let v: Value = r.json().await.unwrap();
            // The engine sends `oom` just before `die`: wait for both (CI once read between).
            let has = |kind: &str| {
                v.as_array()
                    .is_some_and(|e| e.iter().any(|e| e["kind"] == kind))
            };
            if has("oom") && has("lifecycle") {
                break v;
            }
            assert!(
                Instant::now() < deadline,
                "no OOM kill and exit recorded for hog: {v}"
            );
        }
        assert!(Instant::now() < deadline, "no OOM kill recorded for hog");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"lifecycle"),
        "the exit is recorded too: {kinds:?}"
    );
    app.stop().await;
}
