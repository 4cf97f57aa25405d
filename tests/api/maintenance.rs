//! Maintenance: job heartbeats (tokens, limits, status), crontab discovery and the log import
//! through a temporary rootfs, cleanup dry runs and runs with live progress, the hygiene score,
//! and cleanup against a real Docker engine.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use server::config::CleanupStep;

use crate::helpers::{spawn_app, TestApp};
use steward_tests::docker_engine::Engine;

pub fn job<'a>(m: &'a Value, slug: &str) -> Option<&'a Value> {
    m["jobs"].as_array()?.iter().find(|j| j["slug"] == slug)
}

pub async fn ping(app: &TestApp, path: &str, token: &str, body: &str) -> StatusCode {
    app.client
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
}

/// The token a job's creation or rotation answered with (shown once).
pub async fn job_token(r: reqwest::Response) -> String {
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn wait_status(app: &TestApp, slug: &str, status: &str) -> Value {
    let m = app
        .wait_json("/api/v1/maintenance", Duration::from_secs(15), |m| {
            job(m, slug).is_some_and(|j| j["status"] == status)
        })
        .await;
    job(&m, slug).unwrap().clone()
}

/// Reads a run's Server-Sent Events to the end (the `finished` event).
async fn follow(app: &TestApp, run: i64) -> Vec<Value> {
    let text = app
        .client
        .get(format!(
            "{}/api/v1/maintenance/cleanup/{run}/events",
            app.base
        ))
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    crate::helpers::sse_data(&text)
}

#[tokio::test]
async fn heartbeats_tokens_limits_discovery_and_import() {
    let app = spawn_app(|c, dir| {
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::write(
            rootfs.join("etc/crontab"),
            "# bytelyst-vm-maintenance\n\
             0 3 * * * root /opt/vm-cleanup.sh >> /var/log/vm-cleanup.log 2>&1\n\
             \n\
             0 2 * * * root /opt/backup.sh && curl -fsS -X POST https://ops/api/v1/jobs/backup/ping/ok\n\
             0 2 * * 9 root /bin/bad-weekday\n",
        )
        .unwrap();
        std::fs::create_dir_all(rootfs.join("var/log")).unwrap();
        std::fs::copy(
            crate::helpers::fixtures().join("maintenance/vm-cleanup.log"),
            rootfs.join("var/log/vm-cleanup.log"),
        )
        .unwrap();
        c.maintenance.import_log = "/var/log/vm-cleanup.log".into();
        c.maintenance.cleanup = vec![];
    })
    .await;
    let admin = app.admin().await;

    // Discovery and import: the managed line, the bad line as a finding, three imported runs.
    let m = app
        .wait_json("/api/v1/maintenance", Duration::from_secs(15), |m| {
            m["cleanups"].as_array().is_some_and(|c| c.len() == 3)
        })
        .await;
    let managed = job(&m, "cron-crontab-2").expect("the managed line");
    assert_eq!(managed["source"], "managed");
    assert_eq!(managed["status"], "unmonitored");
    assert_eq!(managed["name"], "vm-cleanup.sh");
    assert!(managed["next_run_ms"].as_i64().is_some());
    assert!(
        m["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["origin"] == "/etc/crontab:5"),
        "{:#}",
        m["findings"]
    );
    assert!(m["cleanups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["trigger"] == "imported"));
    // The imported runs are months old: hygiene is known and scores 0 of 15.
    let overview = app
        .wait_json("/api/v1/score", Duration::from_secs(10), |o| {
            o["dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["id"] == "maintenance_hygiene" && d["points"].is_number())
        })
        .await;
    let hygiene = overview["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "maintenance_hygiene")
        .unwrap();
    assert_eq!(hygiene["points"], 0, "{hygiene:#}");

    // Creating a job is an admin action with validation.
    let bad = app
        .act(
            &admin,
            "/api/v1/maintenance/jobs",
            Some(json!({"slug": "backup", "name": "Backup", "schedule": "every night"})),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let no_csrf = app
        .request(
            reqwest::Method::POST,
            "/api/v1/maintenance/jobs",
            Some(&admin),
            None,
        )
        .json(&json!({"slug": "backup", "name": "Backup", "schedule": "0 2 * * *"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 403);
    let created = app
        .act(&admin, "/api/v1/maintenance/jobs", Some(json!({"slug": "backup", "name": "Nightly backup", "schedule": "0 2 * * *", "grace_secs": 3600})))
        .await;
    assert_eq!(created.status(), 201);
    let token = job_token(created).await;
    let again = app
        .act(
            &admin,
            "/api/v1/maintenance/jobs",
            Some(json!({"slug": "backup", "name": "x", "schedule": "0 2 * * *"})),
        )
        .await;
    assert_eq!(again.status(), 409);

    // The crontab line that pings the job is merged into the job's row.
    let row = wait_status(&app, "backup", "waiting").await;
    assert!(
        row["command"].as_str().unwrap().contains("/opt/backup.sh"),
        "{row:#}"
    );
    assert_eq!(row["origin"], "/etc/crontab:4");

    // Pings: start → running, ok → ok, fail with a log tail and exit code → failed.
    assert_eq!(
        ping(&app, "/api/v1/jobs/backup/ping/start", &token, "").await,
        204
    );
    wait_status(&app, "backup", "running").await;
    assert_eq!(
        ping(&app, "/api/v1/jobs/backup/ping/ok", &token, "").await,
        204
    );
    let ok = wait_status(&app, "backup", "ok").await;
    let run = &ok["runs"][0];
    assert_eq!(run["result"], "ok");
    assert!(run["started_ms"].as_i64().unwrap() <= run["ended_ms"].as_i64().unwrap());
    assert_eq!(
        ping(
            &app,
            "/api/v1/jobs/backup/ping/fail?exit_code=3",
            &token,
            "rsync: disk full\n"
        )
        .await,
        204
    );
    let failed = wait_status(&app, "backup", "failed").await;
    assert_eq!(failed["runs"][0]["exit_code"], 3);
    assert_eq!(failed["runs"][0]["log_tail"], "rsync: disk full\n");
    assert!(failed["reason"].as_str().unwrap().contains("exit code 3"));
    // A failed job is named on the overview.
    app.wait_json("/api/v1/score", Duration::from_secs(10), |o| {
        o["verdict"]["causes"].as_array().is_some_and(|c| {
            c.iter().any(|c| {
                c["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Nightly backup failed")
            })
        })
    })
    .await;

    // Wrong or missing tokens are 401 and counted; a body over the limit is 413.
    assert_eq!(
        ping(&app, "/api/v1/jobs/backup/ping", "wrong", "").await,
        401
    );
    assert_eq!(
        ping(&app, "/api/v1/jobs/nobody/ping", &token, "").await,
        401
    );
    let anonymous = app
        .client
        .post(format!("{}/api/v1/jobs/backup/ping", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        ping(
            &app,
            "/api/v1/jobs/backup/ping/fail",
            &token,
            &"x".repeat(17 * 1024)
        )
        .await,
        413
    );
    // Not a ping path: the guard wants a session there.
    assert_eq!(
        ping(&app, "/api/v1/jobs/backup/ping/later", &token, "").await,
        401
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("steward_job_pings_total{result=\"refused\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("steward_job_pings_total{result=\"accepted\"} 3"));
    assert!(metrics.contains("steward_jobs{status=\"failed\"} 1"));

    // Rotation: the old token stops working at once. Deletion: pings are refused.
    let rotated = app
        .act(&admin, "/api/v1/maintenance/jobs/backup/rotate", None)
        .await;
    assert_eq!(rotated.status(), 200);
    let new_token = job_token(rotated).await;
    assert_eq!(
        ping(&app, "/api/v1/jobs/backup/ping", &token, "").await,
        401
    );
    assert_eq!(
        ping(&app, "/api/v1/jobs/backup/ping", &new_token, "").await,
        204
    );
    assert_eq!(
        app.act(&admin, "/api/v1/maintenance/jobs/backup/delete", None)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.act(&admin, "/api/v1/maintenance/jobs/backup/delete", None)
            .await
            .status(),
        404
    );
    assert_eq!(
        ping(&app, "/api/v1/jobs/backup/ping", &new_token, "").await,
        401
    );
    let audit = app.audit_log(&admin).await;
    for action in ["job-create", "job-rotate", "job-delete"] {
        assert!(
            audit
                .iter()
                .any(|e| e["action"] == action && e["target"] == "backup"),
            "{action} missing from {audit:#?}"
        );
    }
    // Refused pings are counted rows (per address and minute), not one row each.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let audit = app.audit_log(&admin).await;
        if audit
            .iter()
            .any(|e| e["action"] == "job-ping" && e["result"] == "refused")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no job-ping refusal in {audit:#?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_cleanup_run_streams_progress_is_recorded_and_lifts_the_score() {
    let app = spawn_app(|c, dir| {
        let apt = dir.join("rootfs/var/cache/apt/archives");
        std::fs::create_dir_all(apt.join("partial")).unwrap();
        std::fs::write(apt.join("big_1.0_amd64.deb"), vec![0u8; 1 << 20]).unwrap();
        std::fs::write(apt.join("lock"), b"").unwrap();
        let marker = dir.join("ran");
        let srv = dir.join("rootfs/srv");
        std::fs::create_dir_all(srv.join("big/inner")).unwrap();
        std::fs::create_dir_all(srv.join("small")).unwrap();
        std::fs::write(srv.join("big/inner/blob"), vec![1u8; 2 << 20]).unwrap();
        std::fs::write(srv.join("small/x"), b"x").unwrap();
        c.maintenance.culprit_paths = vec!["/srv".into()];
        c.maintenance.culprit_interval_secs = 1;
        c.maintenance.cleanup = vec![
            CleanupStep::AptCache,
            CleanupStep::Command {
                name: "touch-marker".into(),
                command: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    format!("touch {}", marker.display()),
                ],
            },
            CleanupStep::Command {
                name: "fails".into(),
                command: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    "echo no space >&2; exit 4".into(),
                ],
            },
        ];
    })
    .await;
    let admin = app.admin().await;
    // Before any run, hygiene is unknown and says why.
    let o = app.json("/api/v1/score").await;
    let hygiene = |o: &Value| {
        o["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == "maintenance_hygiene")
            .cloned()
            .unwrap()
    };
    assert!(hygiene(&o)["points"].is_null(), "{:#}", hygiene(&o));

    // A run without a dry run is refused; the dry run measures each step.
    let unconfirmed = app
        .act(
            &admin,
            "/api/v1/maintenance/cleanup",
            Some(json!({"dry_run": 999})),
        )
        .await;
    assert_eq!(unconfirmed.status(), 404);
    let plan: Value = app
        .act(&admin, "/api/v1/maintenance/cleanup/plan", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plan["steps"][0]["name"], "apt_cache");
    assert_eq!(plan["steps"][0]["freed_bytes"], 1 << 20);
    assert_eq!(plan["steps"][0]["items"], 1);
    assert!(
        plan["steps"][1]["freed_bytes"].is_null(),
        "a command cannot be estimated"
    );
    assert!(
        app.dir
            .path()
            .join("rootfs/var/cache/apt/archives/big_1.0_amd64.deb")
            .exists(),
        "a dry run changes nothing"
    );

    let started = app
        .act(
            &admin,
            "/api/v1/maintenance/cleanup",
            Some(json!({"dry_run": plan["dry_run"]})),
        )
        .await;
    assert_eq!(started.status(), 202);
    let run = started.json::<Value>().await.unwrap()["run"]
        .as_i64()
        .unwrap();
    // One run at a time (the steps are quick, so the second start may also find it finished).
    let second = app
        .act(
            &admin,
            "/api/v1/maintenance/cleanup",
            Some(json!({"dry_run": plan["dry_run"]})),
        )
        .await;
    assert!(
        matches!(second.status().as_u16(), 409 | 202),
        "{}",
        second.status()
    );
    let events = follow(&app, run).await;
    let phases: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_string(),
                e["phase"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        phases[..6],
        [
            ("apt_cache".into(), "running".into()),
            ("apt_cache".into(), "done".into()),
            ("touch-marker".into(), "running".into()),
            ("touch-marker".into(), "done".into()),
            ("fails".into(), "running".into()),
            ("fails".into(), "failed".into()),
        ]
    );
    assert_eq!(phases[6].1, "finished");
    assert!(events[5]["message"].as_str().unwrap().contains("no space"));
    assert_eq!(
        events[1]["freed_bytes"],
        1 << 20,
        "the run freed what the dry run promised"
    );
    assert!(app.dir.path().join("ran").exists());
    assert!(!app
        .dir
        .path()
        .join("rootfs/var/cache/apt/archives/big_1.0_amd64.deb")
        .exists());

    // Recorded as partial (one step failed) with disk before and after; hygiene scores 15.
    let m = app
        .wait_json("/api/v1/maintenance", Duration::from_secs(10), |m| {
            m["cleanups"]
                .as_array()
                .is_some_and(|c| c.iter().any(|r| r["id"] == run && r["result"] != "running"))
        })
        .await;
    let rec = m["cleanups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == run)
        .unwrap();
    assert_eq!(rec["result"], "partial");
    assert_eq!(rec["trigger"], "manual");
    assert_eq!(rec["steps"].as_array().unwrap().len(), 3);
    assert!(
        rec["disk_before_bytes"].as_u64().is_some() && rec["disk_after_bytes"].as_u64().is_some()
    );
    let o = app
        .wait_json("/api/v1/score", Duration::from_secs(10), |o| {
            hygiene(o)["points"] == 15
        })
        .await;
    assert!(
        hygiene(&o)["value_text"]
            .as_str()
            .unwrap()
            .contains("days ago"),
        "{:#}",
        hygiene(&o)
    );
    let audit = app.audit_log(&admin).await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "cleanup" && e["result"] == "dry-run"),
        "{audit:#?}"
    );
    assert!(audit
        .iter()
        .any(|e| e["action"] == "cleanup" && e["result"] == "ok"));
    // The largest folders under the configured path are named, largest first.
    let m = app
        .wait_json("/api/v1/maintenance", Duration::from_secs(10), |m| {
            m["culprits"].as_array().is_some_and(|c| c.len() >= 2)
        })
        .await;
    let culprits = m["culprits"].as_array().unwrap();
    assert_eq!(culprits[0]["key"], "dir:/srv/big", "{culprits:#?}");
    assert!(culprits[0]["bytes"].as_u64().unwrap() >= 2 << 20);
    assert_eq!(culprits[1]["key"], "dir:/srv/small");
    // The disk trend marks the run.
    let trend = app.json("/api/v1/trend/disk?range=1h").await;
    let flags = trend["flags"].as_array().unwrap();
    assert!(
        flags.iter().any(|f| f["kind"] == "event"
            && f["text"]
                .as_str()
                .unwrap()
                .contains("cleanup (manual, partial) freed 1.0 MiB")),
        "{flags:#?}"
    );
}

#[tokio::test]
async fn cleanup_prunes_real_docker_as_the_dry_run_promised() {
    let Some(engine) = Engine::start() else {
        return;
    };
    // An unused image holding 2 MiB of its own, made by committing a container.
    engine.run_cmd(
        "maker",
        &[],
        &[
            "sh",
            "-c",
            "/bin/busybox dd if=/dev/zero of=/blob bs=1M count=2 && sleep 600",
        ],
    );
    std::thread::sleep(Duration::from_secs(2));
    engine.ok(&["commit", "maker", "steward-test/unused:1"]);
    engine.ok(&["rm", "-f", "maker"]);
    // A stopped container, a stopped one labelled to keep, and a running one.
    engine.run_cmd("old-stopped", &[], &["sh", "-c", "exit 0"]);
    engine.run_cmd(
        "kept",
        &["--label", "steward.keep=1"],
        &["sh", "-c", "exit 0"],
    );
    engine.run("busy", &[]);
    std::thread::sleep(Duration::from_millis(1500));
    let host = engine.host();
    let app = spawn_app(move |c, _| {
        c.docker.enabled = true;
        c.docker.host = host;
        // The engine's log files are on this machine's own filesystem.
        c.paths.rootfs = "/".into();
        c.maintenance.culprit_interval_secs = 1;
        c.maintenance.cleanup = vec![
            CleanupStep::Containers { older_than_days: 0 },
            CleanupStep::Images { older_than_days: 0 },
        ];
    })
    .await;
    let admin = app.admin().await;
    let plan: Value = app
        .act(&admin, "/api/v1/maintenance/cleanup/plan", None)
        .await
        .json()
        .await
        .unwrap();
    let (containers, images) = (&plan["steps"][0], &plan["steps"][1]);
    assert!(
        containers["error"].is_null() && images["error"].is_null(),
        "{plan:#}"
    );
    assert_eq!(containers["items"], 1, "{containers:#}");
    assert!(containers["detail"]
        .as_str()
        .unwrap()
        .contains("old-stopped"));
    assert_eq!(images["items"], 1, "{images:#}");
    assert!(images["detail"]
        .as_str()
        .unwrap()
        .contains("steward-test/unused:1"));
    let promised = images["freed_bytes"].as_u64().unwrap();
    assert!(promised >= 2 << 20, "{promised}");

    let run = app
        .act(
            &admin,
            "/api/v1/maintenance/cleanup",
            Some(json!({"dry_run": plan["dry_run"]})),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["run"]
        .as_i64()
        .unwrap();
    let events = follow(&app, run).await;
    let done: Vec<&Value> = events.iter().filter(|e| e["phase"] == "done").collect();
    assert_eq!(done.len(), 2, "{events:#?}");
    let freed = done[1]["freed_bytes"].as_u64().unwrap();
    // The engine's own count of reclaimed bytes matches the dry run within 64 KiB.
    assert!(
        freed.abs_diff(promised) <= 64 * 1024,
        "dry run {promised}, run {freed}"
    );
    let images = engine.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(!images.contains("steward-test/unused"), "{images}");
    assert!(
        images.contains("steward-test/"),
        "the image in use stays: {images}"
    );
    let names = engine.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!names.contains("old-stopped"), "{names}");
    assert!(names.contains("kept") && names.contains("busy"), "{names}");

    // What takes the disk: the images, and the log of the container that writes a line a
    // second, growing (the growth is fitted from the history samples).
    let m = app
        .wait_json("/api/v1/maintenance", Duration::from_secs(30), |m| {
            m["culprits"].as_array().is_some_and(|c| {
                c.iter().any(|k| {
                    k["key"] == "container_logs:busy"
                        && k["growth_per_day"].as_f64().is_some_and(|g| g > 0.0)
                })
            })
        })
        .await;
    let culprits = m["culprits"].as_array().unwrap();
    let images = culprits
        .iter()
        .find(|k| k["key"] == "docker_images")
        .expect("images measured");
    assert!(images["bytes"].as_u64().unwrap() > 0);
    assert_eq!(images["step"], "docker_images");
    let trend = app.json("/api/v1/trend/disk?range=1h").await;
    assert!(
        trend["growth"]
            .as_str()
            .is_some_and(|g| g.contains("grows")),
        "{:#}",
        trend["growth"]
    );
}

#[tokio::test]
async fn a_scheduled_cleanup_runs_the_same_steps_on_its_schedule() {
    // Every minute: the first run comes within 60 s of the start (the test waits up to 75 s).
    let app = spawn_app(|c, dir| {
        let marker = dir.join("scheduled-ran");
        c.maintenance.cleanup_schedule = "* * * * *".into();
        c.maintenance.cleanup = vec![CleanupStep::Command {
            name: "mark".into(),
            command: vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("touch {}", marker.display()),
            ],
        }];
    })
    .await;
    let m = app
        .wait_json("/api/v1/maintenance", Duration::from_secs(10), |m| {
            job(m, "steward-cleanup").is_some()
        })
        .await;
    let row = job(&m, "steward-cleanup").unwrap();
    assert_eq!(row["source"], "cleanup");
    assert_eq!(row["schedule"], "* * * * *");
    assert!(row["next_run_ms"].as_i64().is_some());
    let m = app
        .wait_json("/api/v1/maintenance", Duration::from_secs(75), |m| {
            m["cleanups"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|r| r["trigger"] == "scheduled" && r["result"] == "ok")
            })
        })
        .await;
    let run = m["cleanups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["trigger"] == "scheduled")
        .unwrap();
    assert_eq!(run["actor"], "schedule");
    assert_eq!(run["steps"][0]["name"], "mark");
    assert!(app.dir.path().join("scheduled-ran").exists());
}
