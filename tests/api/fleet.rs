//! The fleet over HTTP: hosts and their tokens (add, rotate with grace, revoke, counted
//! refusals), the heartbeat's validation answers (400, 413, clamped fields, gzip), the fleet
//! state with badges and scores, and a real `steward agent` process that keeps collecting
//! while its hub is down and replays everything, in order, when the hub is back, drains on
//! SIGTERM, and reports its host's containers from a real Docker engine.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Session, TestApp};

const HEARTBEAT: &str = "/api/v1/agent/heartbeat";

fn now_ms() -> i64 {
    app::shared::clock::now_ms()
}

/// A small valid heartbeat (schema 1).
fn beat(seq: u64, metrics: Value) -> Value {
    json!({
        "schema": 1,
        "agent_version": "0.1.0-test",
        "status": "ready",
        "seq": seq,
        "collected_ms": now_ms(),
        "cores": 4,
        "disk_mount": "/",
        "metrics": metrics,
        "containers": {"total": 3, "running": 3, "unhealthy": 1},
    })
}

async fn send(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.request(Method::POST, HEARTBEAT, None, None)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn add_host(app: &TestApp, admin: &Session, name: &str) -> String {
    let r = app
        .act(admin, "/api/v1/fleet/hosts", Some(json!({ "name": name })))
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    v["token"].as_str().unwrap().to_string()
}

async fn host(app: &TestApp, name: &str) -> Value {
    app.json(&format!("/api/v1/fleet/hosts/{name}")).await
}

#[tokio::test]
async fn tokens_are_added_rotated_with_grace_and_revoked_and_refusals_are_counted() {
    let app = spawn_app(|c, _| c.fleet.token_grace_secs = 3600).await;
    let admin = app.admin().await;
    let first = add_host(&app, &admin, "web-01").await;
    let again = app
        .act(
            &admin,
            "/api/v1/fleet/hosts",
            Some(json!({ "name": "web-01" })),
        )
        .await;
    assert_eq!(again.status(), 409);
    let bad = app
        .act(
            &admin,
            "/api/v1/fleet/hosts",
            Some(json!({ "name": "Web 01" })),
        )
        .await;
    assert_eq!(bad.status(), 400);

    let never = host(&app, "web-01").await;
    assert_eq!(never["badge"], "never_seen");
    assert_eq!(send(&app, &first, &beat(1, json!([]))).await.status(), 200);

    // Rotation: both tokens work during the grace period, and the page says which is which.
    let r = app
        .act(&admin, "/api/v1/fleet/hosts/web-01/rotate", None)
        .await;
    assert_eq!(r.status(), 200);
    let second = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    assert_eq!(send(&app, &first, &beat(2, json!([]))).await.status(), 200);
    assert_eq!(send(&app, &second, &beat(3, json!([]))).await.status(), 200);
    let h = host(&app, "web-01").await;
    let tokens = h["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert_eq!(
        tokens.iter().filter(|t| t["expires_ms"].is_i64()).count(),
        1,
        "the old token shows its grace end: {tokens:?}"
    );
    assert!(tokens.iter().all(|t| t["last_used_ms"].is_i64()));
    assert!(
        !h.to_string().contains(&first) && !h.to_string().contains(&second),
        "tokens are never shown back"
    );

    // Revocation: both stop at once; each use is refused and counted on the host.
    let r = app
        .act(&admin, "/api/v1/fleet/hosts/web-01/revoke", None)
        .await;
    assert_eq!(r.status(), 200);
    for token in [&first, &second, &second] {
        let r = send(&app, token, &beat(4, json!([]))).await;
        assert_eq!(r.status(), 401);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"], "this agent token was revoked");
    }
    let h = host(&app, "web-01").await;
    assert_eq!(h["refused_tokens"], 3);
    assert_eq!(h["heartbeats_total"], 3);

    // A token no host ever had is counted fleet-wide.
    assert_eq!(
        send(&app, "made-up", &beat(1, json!([]))).await.status(),
        401
    );
    let page = app.json("/api/v1/fleet/hosts").await;
    assert_eq!(page["unknown_tokens"], 1);

    // A viewer cannot add hosts (the guard test covers every action; this is the fleet's).
    let anonymous = app
        .request(Method::POST, "/api/v1/fleet/hosts", None, None)
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let r = app
        .act(&admin, "/api/v1/fleet/hosts/web-01/delete", None)
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(app.get("/api/v1/fleet/hosts/web-01").await.status(), 404);
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
        "host-add ok",
        "host-add failed",
        "host-rotate ok",
        "host-revoke ok",
        "host-delete ok",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn heartbeats_are_validated_clamped_compressed_and_limited() {
    let app = spawn_app(|c, _| c.fleet.heartbeat_body_limit = 64 * 1024).await;
    let admin = app.admin().await;
    let token = add_host(&app, &admin, "gpu-01").await;

    // Accepted, with one field clamped and one dropped, both reported and counted.
    let body = beat(
        1,
        json!([
            {"name": "cpu_steal_pct", "value": 7.5},
            {"name": "cpu_busy_pct", "value": 140.0},
            {"name": "mem_total_bytes", "value": 8.0e9},
            {"name": "mem_available_bytes", "value": 2.0e9},
            {"name": "disk_used_pct", "label": "/", "value": 40.0},
            {"name": "cpu_magic_pct", "value": 1.0},
        ]),
    );
    let r = send(&app, &token, &body).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["acked"], 1);
    assert_eq!(answer["clamped"], json!(["cpu_busy_pct: 140 → 100"]));
    assert_eq!(
        answer["rejected"],
        json!(["cpu_magic_pct: not a metric Steward knows"])
    );
    let h = host(&app, "gpu-01").await;
    assert_eq!(h["badge"], "live");
    assert_eq!(h["rejected_fields"], 1);
    assert_eq!(h["clamped_fields"], 1);
    assert_eq!(h["status"], "ready");
    assert_eq!(h["agent_version"], "0.1.0-test");
    let steal = h["vitals"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "cpu_steal_pct")
        .unwrap();
    assert_eq!(steal["level"], "warn", "judged by the hub's thresholds");
    // The same host as a card: its score's value without the dimensions, the card's
    // metrics only.
    let full = &app.json("/api/v1/fleet/hosts?q=gpu-01&view=full").await["hosts"][0];
    let card = &app.json("/api/v1/fleet/hosts?q=gpu-01&view=card").await["hosts"][0];
    assert_eq!(card["host"], "gpu-01");
    assert_eq!(card["score"]["value"], full["score"]["value"]);
    assert!(!full["score"]["dimensions"].as_array().unwrap().is_empty());
    assert_eq!(card["score"]["dimensions"], serde_json::json!([]));
    let names = |h: &Value| -> Vec<String> {
        h["vitals"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names(card).len() < names(full).len(), "{:?}", names(card));
    assert!(names(card).iter().all(|n| names(full).contains(n)));
    assert_eq!(app.get("/api/v1/fleet/hosts?view=tiny").await.status(), 400);
    // The host's score comes from the same code as the local one: CPU (steal), memory, disk,
    // services (the container counts) and LLM readiness (available RAM) are known from the
    // heartbeat; maintenance hygiene is not reported by agents.
    let score = &h["score"];
    assert!(score["value"].as_u64().is_some(), "{score}");
    assert_eq!(score["known"], 5, "{score}");

    // Gzip bodies are accepted.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(beat(2, json!([])).to_string().as_bytes())
        .unwrap();
    let r = app
        .request(Method::POST, HEARTBEAT, None, None)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);

    // Malformed, unknown fields, a future clock, a new schema: 400 with the reason.
    let cases: Vec<(Value, &str)> = vec![
        (json!({"schema": 1}), "missing field"),
        (
            {
                let mut b = beat(3, json!([]));
                b["extra"] = json!(1);
                b
            },
            "unknown field `extra`",
        ),
        (
            {
                let mut b = beat(3, json!([]));
                b["collected_ms"] = json!(now_ms() + 3_600_000);
                b
            },
            "ahead of the hub's clock",
        ),
        (
            {
                let mut b = beat(3, json!([]));
                b["schema"] = json!(2);
                b
            },
            "unsupported schema version 2",
        ),
        (
            {
                let mut b = beat(3, json!([]));
                b["status"] = json!("sleeping");
                b
            },
            "unknown variant `sleeping`",
        ),
    ];
    for (body, reason) in cases {
        let r = send(&app, &token, &body).await;
        assert_eq!(r.status(), 400, "{body}");
        let e: Value = r.json().await.unwrap();
        assert!(
            e["error"].as_str().unwrap().contains(reason),
            "{reason} in {e}"
        );
    }
    let r = app
        .request(Method::POST, HEARTBEAT, None, None)
        .bearer_auth(&token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Over the body limit, compressed or not (the limit is on the decompressed size).
    let big = "x".repeat(100 * 1024);
    let mut b = beat(4, json!([]));
    b["agent_version"] = json!(big);
    assert_eq!(send(&app, &token, &b).await.status(), 413);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(b.to_string().as_bytes()).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 4096, "compresses well: {}", bomb.len());
    let r = app
        .request(Method::POST, HEARTBEAT, None, None)
        .bearer_auth(&token)
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    let h = host(&app, "gpu-01").await;
    assert_eq!(
        h["heartbeats_total"], 2,
        "refused heartbeats are not stored"
    );
    assert!(
        h["last_rejections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("heartbeat refused")),
        "{h}"
    );
    // Filtering and paging.
    let page = app.json("/api/v1/fleet/hosts?badge=live&q=gpu").await;
    assert_eq!(page["matched"], 1);
    assert_eq!(page["counts"]["live"], 1);
    let page = app.json("/api/v1/fleet/hosts?badge=stale").await;
    assert_eq!(page["matched"], 0);
    assert_eq!(app.get("/api/v1/fleet/hosts?badge=odd").await.status(), 400);
    assert_eq!(
        app.get("/api/v1/fleet/hosts?limit=100000").await.status(),
        400
    );
    app.stop().await;
}

/// The release binary the process tests run; panics with how to get it when it is missing.
pub(crate) fn steward_bin() -> PathBuf {
    let bin = std::env::var("STEWARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/steward")
        });
    assert!(
        bin.exists(),
        "this test runs the release binary {} (make test builds it)",
        bin.display()
    );
    bin
}

/// Sequence numbers and collection times the hub stored for `host` (one per heartbeat).
async fn stored(db: &Path, host: &str) -> (i64, i64) {
    let store = server::store::history::HistoryStore::open(db)
        .await
        .unwrap();
    let times: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT r.ts) FROM samples_raw r JOIN series s ON s.id = r.series_id
         WHERE s.host = ? AND s.name = 'load1'",
    )
    .bind(host)
    .fetch_one(store.pool())
    .await
    .unwrap();
    let last_seq: i64 = sqlx::query_scalar("SELECT last_seq FROM fleet_hosts WHERE host = ?")
        .bind(host)
        .fetch_one(store.pool())
        .await
        .unwrap();
    // Every minute the rollup has passed holds all of the host's samples of it, the replayed
    // ones included: they arrive after the hub, back up, has rolled their minutes up.
    let missed: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(
        "WITH s AS (SELECT id FROM series WHERE host = ?1 AND name = 'load1'),
              r AS (SELECT (ts / 60000) * 60000 AS b, count(*) AS n FROM samples_raw
                    WHERE series_id = (SELECT id FROM s) GROUP BY b)
         SELECT r.b, r.n, m.count FROM r
         LEFT JOIN rollup_1m m ON m.series_id = (SELECT id FROM s) AND m.bucket = r.b
         WHERE r.b < (SELECT done_until FROM rollup_state WHERE level = '1m')
           AND m.count IS NOT r.n",
    )
    .bind(host)
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert!(
        missed.is_empty(),
        "minutes whose rollup lacks samples (minute, raw, rolled up): {missed:?}"
    );
    store.close().await;
    (times, last_seq)
}

#[tokio::test]
async fn a_real_agent_buffers_while_the_hub_is_down_and_replays_everything() {
    steward_bin();
    let port = steward_tests::free_port();
    let shared = tempfile::tempdir().unwrap();
    let data = shared.path().join("hub");
    let with_port = {
        let data = data.clone();
        move |c: &mut server::config::Config, _: &Path| {
            c.listen = format!("127.0.0.1:{port}").parse().unwrap();
            c.data_dir = data.clone();
        }
    };
    let hub = spawn_app(with_port.clone()).await;
    let admin = hub.admin().await;
    let token = add_host(&hub, &admin, "agent-01").await;
    let token_file = shared.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let config = shared.path().join("agent.toml");
    std::fs::write(
        &config,
        "[collector]\ninterval_secs = 1\n[agent]\ninterval_secs = 1\n",
    )
    .unwrap();
    let agent_data = shared.path().join("agent");
    // The machine's own /proc: the hub's fixture copy goes away with the first hub.
    let mut agent = agent_command(&config, &hub.base, &token_file, &agent_data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let kill = KillOnDrop(&mut agent);

    let live = hub
        .wait_json(
            "/api/v1/fleet/hosts/agent-01",
            Duration::from_secs(20),
            |h| h["badge"] == "live" && h["heartbeats_total"].as_u64() >= Some(2),
        )
        .await;
    assert_eq!(
        live["vitals"]["host"], "agent-01",
        "filed under the token's host"
    );
    assert!(live["score"]["value"].is_u64(), "{}", live["score"]);

    // The host page renders the overview's readout from the host's heartbeat, on the server.
    let page = hub.get("/fleet/agent-01").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for part in [
        "data-testid=\"fleet-host-title\"",
        "data-testid=\"gauge\"",
        "data-testid=\"score-value\"",
        "Host vitals",
        "agent-01",
    ] {
        assert!(html.contains(part), "the host page has {part}");
    }
    let missing = hub.get("/fleet/no-such-host").await.text().await.unwrap();
    assert!(
        missing.contains("no host named \"no-such-host\" in the fleet"),
        "an unknown host says so"
    );

    // The hub goes away; the agent keeps collecting into its buffer.
    hub.stop().await;
    let buffer = agent_data.join("agent-buffer");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while queued(&buffer) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent buffers while the hub is down"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Back on the same port and database: everything buffered arrives, in order, once.
    let hub = spawn_app(with_port).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while queued(&buffer) > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the buffer drains: {}",
            queued(&buffer)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // SIGTERM: the agent drains (a last heartbeat saying so, the buffer delivered) and exits.
    let pid = kill.0.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(status) = kill.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent exits within its drain time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "a drained agent exits 0: {exit:?}");
    drop(kill);
    assert_eq!(queued(&buffer), 0, "the buffer is empty after draining");
    let h = host(&hub, "agent-01").await;
    assert_eq!(h["status"], "draining", "the last heartbeat said so: {h}");
    assert_eq!(h["agent_dropped"], 0, "nothing dropped: {h}");
    let db = hub.db.clone();
    hub.stop().await;
    let (times, last_seq) = stored(&db, "agent-01").await;
    assert!(last_seq >= 5, "{last_seq}");
    assert_eq!(
        times, last_seq,
        "every heartbeat 1..{last_seq} is stored once, the draining one included, none lost across the outage"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_agent_reports_the_containers_of_its_host() {
    let Some(engine) = steward_tests::docker_engine::Engine::start() else {
        return;
    };
    engine.run("web", &[]);
    engine.run("sick", &[]);
    engine.run("done", &[]);
    engine.ok(&["stop", "-t", "3", "done"]);
    engine.make_unhealthy("sick");

    let hub = spawn_app(|_, _| {}).await;
    let agent = FastAgent::add(
        &hub,
        "docker-01",
        &format!("[docker]\nenabled = true\nhost = \"{}\"\n", engine.host()),
    )
    .await;

    // `--check` says what Docker holds besides what the hub answered.
    let said = agent.check(&hub);
    assert!(said.contains("took the heartbeat"), "{said}");
    assert!(said.contains("Docker: 3 containers, 2 running"), "{said}");

    let mut child = agent.spawn(&hub);
    let _kill = KillOnDrop(&mut child);
    let h = hub
        .wait_json(
            "/api/v1/fleet/hosts/docker-01",
            Duration::from_secs(40),
            |h| {
                h["containers"]["unhealthy"] == 1
                    && h["container_list"].as_array().is_some_and(|l| {
                        l.iter()
                            .any(|c| c["name"] == "web" && c["health"] == "healthy")
                    })
            },
        )
        .await;
    assert_eq!(
        (
            h["containers"]["total"].as_u64(),
            h["containers"]["running"].as_u64()
        ),
        (Some(3), Some(2)),
        "counted from the engine's list: {h}"
    );
    // The host page's rows: unhealthy first, then the stopped one, then the running one.
    let rows: Vec<(&str, &str, &str)> = h["container_list"]
        .as_array()
        .unwrap_or_else(|| panic!("the one-host answer lists the containers: {h}"))
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["state"].as_str().unwrap(),
                c["health"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("sick", "running", "unhealthy"),
            ("done", "exited", "none"),
            ("web", "running", "healthy")
        ],
        "{h}"
    );
    let done = &h["container_list"][1];
    assert_eq!(done["image"], steward_tests::docker_engine::IMAGE);
    assert!(
        done["status"].as_str().unwrap().starts_with("Exited ("),
        "Docker's own status words: {done}"
    );
    let page = hub.json("/api/v1/fleet/hosts").await;
    assert!(
        page["hosts"][0].get("container_list").is_none(),
        "the fleet list's cards carry no container rows: {page}"
    );

    // The engine goes away: heartbeats go on, without container counts or rows, saying why.
    drop(engine);
    let h = hub
        .wait_json(
            "/api/v1/fleet/hosts/docker-01",
            Duration::from_secs(30),
            |h| h["containers"].is_null() && h["badge"] == "live",
        )
        .await;
    assert!(h.get("container_list").is_none(), "{h}");
    assert!(h["containers_error"].is_string(), "{h}");
}

/// A real agent checks the model servers of its `[[models.backends]]` and its heartbeats carry
/// them to the hub's host page: state, version, the models held, load and speed, and a server
/// that fails as down with the reason. Ollama and vLLM are the stand-ins of
/// `tests/model_servers.rs` (they cannot run here), answering with their documented bodies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_agent_reports_the_model_servers_of_its_host() {
    use steward_tests::model_servers::{self, Mode, SMALL};
    let ollama = model_servers::ollama().await;
    let vllm = model_servers::vllm().await;
    // Ollama holds the small model before the agent starts.
    let loaded = reqwest::Client::new()
        .post(format!("{}/api/generate", ollama.url))
        .json(&json!({"model": SMALL}))
        .send()
        .await
        .unwrap();
    assert!(loaded.status().is_success());

    let hub = spawn_app(|_, _| {}).await;
    let agent = FastAgent::add(
        &hub,
        "llm-01",
        &format!(
            "[docker]\nenabled = false\n[models]\ngpus = false\n\
             [[models.backends]]\nname = \"ollama-1\"\nkind = \"ollama\"\nurl = \"{}\"\n\
             [[models.backends]]\nname = \"vllm-1\"\nkind = \"vllm\"\nurl = \"{}\"\n",
            ollama.url, vllm.url
        ),
    )
    .await;
    let said = agent.check(&hub);
    assert!(
        said.contains(&format!("Model servers: ollama-1 ok ({SMALL} loaded)")),
        "{said}"
    );

    let mut child = agent.spawn(&hub);
    let _kill = KillOnDrop(&mut child);
    // vLLM's tokens/s needs two checks of its moving counters.
    let h = hub
        .wait_json("/api/v1/fleet/hosts/llm-01", Duration::from_secs(30), |h| {
            h["models"].as_array().is_some_and(|m| {
                m.len() == 2 && m[1]["state"] == "ok" && m[1]["tokens_per_s"].is_number()
            })
        })
        .await;
    let o = &h["models"][0];
    assert_eq!(
        (&o["name"], &o["kind"], &o["state"], &o["version"]),
        (
            &json!("ollama-1"),
            &json!("ollama"),
            &json!("ok"),
            &json!("0.12.6")
        ),
        "{h}"
    );
    assert_eq!(o["loaded"], json!([SMALL]), "{h}");
    let v = &h["models"][1];
    assert_eq!(
        (&v["name"], &v["kind"]),
        (&json!("vllm-1"), &json!("vllm")),
        "{h}"
    );
    assert!(
        v["requests_waiting"].is_number() && v["kv_cache_pct"].is_number(),
        "vLLM's queue and KV cache from its /metrics: {v}"
    );
    // The servers' queue and latency are the host's stored series, read by the trend API.
    let queue = hub
        .wait_json(
            "/api/v1/trend/model_queue?range=1h&host=llm-01",
            Duration::from_secs(15),
            |t| {
                t["series"].as_array().is_some_and(|s| {
                    s.iter().any(|l| {
                        l["label"] == "vllm-1"
                            && l["points"].as_array().is_some_and(|p| !p.is_empty())
                    })
                })
            },
        )
        .await;
    assert_eq!(queue["source"], "sqlite", "{queue}");
    let latency: Value = hub
        .json("/api/v1/trend/model_latency?range=1h&host=llm-01")
        .await;
    let mut lines: Vec<&str> = latency["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["label"].as_str())
        .collect();
    lines.sort();
    assert_eq!(lines, ["ollama-1", "vllm-1"], "{latency}");
    let page = hub.json("/api/v1/fleet/hosts").await;
    assert!(
        page["hosts"][0].get("models").is_none(),
        "the fleet list's cards carry no model servers: {page}"
    );

    // Ollama fails: the next heartbeats say it is down, and why.
    ollama.set_mode(Mode::Error500);
    let h = hub
        .wait_json("/api/v1/fleet/hosts/llm-01", Duration::from_secs(30), |h| {
            h["models"][0]["state"] == "down"
        })
        .await;
    let o = &h["models"][0];
    assert!(
        o["error"]
            .as_str()
            .is_some_and(|e| e.contains("500") && e.contains("terminated")),
        "the check's reason, in Ollama's words: {o}"
    );
    assert!(
        o.get("loaded").is_none(),
        "a server that is down holds nothing we know of: {o}"
    );
    assert_eq!(h["models"][1]["state"], "ok", "{h}");
}

/// A restarted hub draws the cards' lines from the stored per-minute means at once, before
/// any heartbeat: here a host with five stored minutes of CPU and disk (and no memory) in a
/// real SQLite file, rolled up as the history task does, then a hub started on that file.
/// A hub's data folder whose history holds `samples` of `host` (added to the fleet; `None`:
/// the hub's own), rolled up to `until`; and the rollup rows written.
async fn seeded_history(
    host: Option<&str>,
    samples: &[server::store::history::Sample],
    until: i64,
) -> (tempfile::TempDir, u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = server::store::history::HistoryStore::open(&dir.path().join("steward.db"))
        .await
        .unwrap();
    match host {
        Some(host) => {
            server::fleet::store::FleetStore::new(store.pool().clone())
                .add(host, None)
                .await
                .unwrap();
            store
                .write_hosts(&[(std::sync::Arc::from(host), samples)])
                .await
                .unwrap();
        }
        None => store.write(samples).await.unwrap(),
    }
    let rolled = store.rollup(until).await.unwrap();
    store.close().await;
    (dir, rolled)
}

#[tokio::test]
async fn a_restarted_hub_draws_the_cards_lines_from_stored_minutes() {
    use server::store::history::Sample;
    const MINUTE: i64 = 60_000;
    let now = now_ms() / MINUTE * MINUTE;
    let seeded = {
        let mut samples = Vec::new();
        for m in 1..=5i64 {
            // Minutes now−11 … now−7, one sample each.
            let ts_ms = now - (12 - m) * MINUTE + 10_000;
            samples.push(Sample {
                series: app::vitals::series_key("cpu_busy_pct", None),
                ts_ms,
                value: (10 * m) as f64,
            });
            samples.push(Sample {
                series: app::vitals::series_key("disk_used_pct", Some("/")),
                ts_ms,
                value: 42.4,
            });
        }
        let (seeded, rolled) = seeded_history(Some("web-01"), &samples, now).await;
        assert!(rolled >= 10, "minutes rolled up");
        seeded
    };
    let data = seeded.path().to_path_buf();
    let hub = spawn_app(move |c, _| c.data_dir = data).await;
    let page = hub
        .wait_json("/api/v1/fleet/hosts", Duration::from_secs(10), |p| {
            p["hosts"][0]["sparks"]["cpu"].is_array()
        })
        .await;
    let host = &page["hosts"][0];
    assert!(
        host["last_heartbeat_ms"].is_null(),
        "no heartbeat came: the lines are the stored minutes: {host}"
    );
    let gap = app::fleet::spark::GAP;
    assert_eq!(
        host["sparks"],
        json!({
            "cpu": [10, 20, 30, 40, 50],
            "mem": [gap, gap, gap, gap, gap],
            "disk": [42, 42, 42, 42, 42],
        })
    );
}

#[tokio::test]
async fn a_replayed_heartbeat_reaches_the_minutes_the_hub_had_already_rolled_up() {
    use server::store::history::Sample;
    const MINUTE: i64 = 60_000;
    let now = now_ms() / MINUTE * MINUTE;
    // The hub's minutes are rolled up to now (its own samples began half an hour ago).
    let own = Sample {
        series: "load1".into(),
        ts_ms: now - 30 * MINUTE,
        value: 1.0,
    };
    let (seeded, _) = seeded_history(None, &[own], now).await;
    let data = seeded.path().to_path_buf();
    let hub = spawn_app(move |c, _| c.data_dir = data).await;
    let admin = hub.admin().await;
    let token = add_host(&hub, &admin, "late-01").await;
    // Collected ten minutes ago, arriving now: an agent's buffer replayed after a cut.
    let minute = now - 10 * MINUTE;
    let mut body = beat(1, json!([{"name": "cpu_steal_pct", "value": 7.5}]));
    body["collected_ms"] = json!(minute + 15_000);
    assert_eq!(send(&hub, &token, &body).await.status(), 200);
    // Three hours: the minute level, whose rollup had passed that minute before it came.
    let url = format!(
        "/api/v1/trend/steal?host=late-01&from={}&to={}",
        now - 180 * MINUTE,
        now + 10 * MINUTE
    );
    let has_minute = |t: &Value| {
        t["series"][0]["points"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["ts_ms"] == minute))
    };
    let trend = hub
        .wait_json(&url, Duration::from_secs(15), has_minute)
        .await;
    assert_eq!(trend["resolution"], "minute", "{trend}");
    let point = trend["series"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ts_ms"] == minute)
        .unwrap()
        .clone();
    assert_eq!(point["avg"], 7.5, "{point}");
}

/// `steward --config CONFIG agent --hub HUB --token-file TOKEN --data-dir DATA`.
pub(crate) fn agent_command(
    config: &Path,
    hub: &str,
    token: &Path,
    data: &Path,
) -> std::process::Command {
    let mut cmd = std::process::Command::new(steward_bin());
    cmd.arg("--config").arg(config).arg("agent");
    agent_flags(&mut cmd, hub, token, data);
    cmd
}

/// `steward-agent --config CONFIG --hub HUB --token-file TOKEN --data-dir DATA`: the agent
/// alone, built beside `steward` (`make test` builds both), with the same flags.
pub(crate) fn small_agent_command(
    config: &Path,
    hub: &str,
    token: &Path,
    data: &Path,
) -> std::process::Command {
    let bin = steward_bin().with_file_name("steward-agent");
    assert!(bin.exists(), "{} is built beside steward", bin.display());
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("--config").arg(config);
    agent_flags(&mut cmd, hub, token, data);
    cmd
}

fn agent_flags(cmd: &mut std::process::Command, hub: &str, token: &Path, data: &Path) {
    cmd.args(["--hub", hub, "--token-file"])
        .arg(token)
        .arg("--data-dir")
        .arg(data);
}

/// Heartbeats waiting in an agent's buffer folder.
fn queued(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

/// A host added on the hub and a `steward agent` for it that collects and sends every second:
/// its folder holds the token file and the config (`extra` after the intervals).
struct FastAgent {
    dir: tempfile::TempDir,
    token_file: PathBuf,
    config: PathBuf,
}

impl FastAgent {
    async fn add(hub: &TestApp, host: &str, extra: &str) -> Self {
        let admin = hub.admin().await;
        let token = add_host(hub, &admin, host).await;
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, &token).unwrap();
        let config = dir.path().join("agent.toml");
        std::fs::write(
            &config,
            format!("[collector]\ninterval_secs = 1\n[agent]\ninterval_secs = 1\n{extra}"),
        )
        .unwrap();
        Self {
            dir,
            token_file,
            config,
        }
    }

    fn command(&self, hub: &TestApp) -> std::process::Command {
        agent_command(
            &self.config,
            &hub.base,
            &self.token_file,
            &self.dir.path().join("agent"),
        )
    }

    /// `--check`'s output; it must succeed.
    fn check(&self, hub: &TestApp) -> String {
        let out = self.command(hub).arg("--check").output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        said
    }

    fn spawn(&self, hub: &TestApp) -> std::process::Child {
        self.command(hub)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }
}

struct KillOnDrop<'a>(&'a mut std::process::Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the fleet stream until an event named `fleet`; returns its counter.
async fn next_fleet_event(stream: &mut reqwest::Response, buf: &mut String) -> u64 {
    loop {
        if let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            if event.lines().any(|l| l == "event: fleet") {
                let data = event
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .expect("a fleet event carries data");
                return data.parse().expect("the counter is a number");
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn the_fleet_stream_tells_pages_when_the_fleet_changed() {
    let app = spawn_app(|_, _| {}).await;
    let admin = app.admin().await;
    let token = add_host(&app, &admin, "streamed-01").await;
    let mut stream = app.get("/api/v1/fleet/stream").await;
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut buf = String::new();
    let first = next_fleet_event(&mut stream, &mut buf).await;
    // A heartbeat changes the fleet: the next event has a higher count.
    assert_eq!(send(&app, &token, &beat(1, json!([]))).await.status(), 200);
    let second = next_fleet_event(&mut stream, &mut buf).await;
    assert!(second > first, "{first} → {second}");
    // Nothing changes: an event still comes within 5 s (so badges age on screen).
    let third = next_fleet_event(&mut stream, &mut buf).await;
    assert_eq!(third, second, "no change, same counter");
}

/// A fleet restart end to end: two real agents on one private Docker engine, in one group; one
/// agent allows restarts, the other does not. The admin's group plan names the first host's
/// unhealthy container and says why the second is left out; confirmed, the first agent gets the
/// action in a heartbeat answer, restarts the container in the engine, and its report settles
/// the action (streamed, stored, audited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_restarts_a_groups_unhealthy_containers_through_the_agents() {
    let Some(engine) = steward_tests::docker_engine::Engine::start() else {
        return;
    };
    engine.run("web", &[]);
    engine.run("sick", &[]);
    engine.make_unhealthy("sick");
    let started = engine.started_at("sick");

    let hub = spawn_app(|_, _| {}).await;
    let admin = hub.admin().await;
    let dir = tempfile::tempdir().unwrap();
    let mut children = Vec::new();
    let mut check = None;
    for (host, allow) in [("docker-01", true), ("closed-01", false)] {
        let token = add_host(&hub, &admin, host).await;
        let token_file = dir.path().join(format!("{host}.token"));
        std::fs::write(&token_file, &token).unwrap();
        let config = dir.path().join(format!("{host}.toml"));
        let allow = if allow {
            "allow_actions = [\"restart_unhealthy\"]\n"
        } else {
            ""
        };
        std::fs::write(
            &config,
            format!(
                "[collector]\ninterval_secs = 1\n[agent]\ninterval_secs = 1\n{allow}[docker]\nenabled = true\nhost = \"{}\"\n",
                engine.host()
            ),
        )
        .unwrap();
        let mut cmd = agent_command(&config, &hub.base, &token_file, &dir.path().join(host));
        if host == "docker-01" {
            check = Some(agent_command(
                &config,
                &hub.base,
                &token_file,
                &dir.path().join("check"),
            ));
        }
        children.push(
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    let _kill: Vec<KillOnDrop> = children.iter_mut().map(KillOnDrop).collect();
    let r = hub
        .act(
            &admin,
            "/api/v1/fleet/groups",
            Some(json!({ "name": "eu" })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = hub
        .act(
            &admin,
            "/api/v1/fleet/assign",
            Some(json!({ "hosts": ["docker-01", "closed-01"], "group": "eu" })),
        )
        .await;
    assert_eq!(r.status(), 200);
    for host in ["docker-01", "closed-01"] {
        let h = hub
            .wait_json(
                &format!("/api/v1/fleet/hosts/{host}"),
                Duration::from_secs(40),
                |h| h["unhealthy"] == json!(["sick"]),
            )
            .await;
        let allowed = if host == "docker-01" {
            json!(["restart_unhealthy"])
        } else {
            Value::Null
        };
        assert_eq!(h["allowed_actions"], allowed, "{h}");
    }
    // `--check` names the unhealthy containers and the actions the agent allows.
    let check = check.unwrap().arg("--check").output().unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(said.contains("1 unhealthy (sick)"), "{said}");
    assert!(
        said.contains("Fleet actions allowed: restart_unhealthy"),
        "{said}"
    );

    // The plan: fixed by the hub, with the host left out and why.
    let plan: Value = hub
        .act(
            &admin,
            "/api/v1/fleet/actions/plan",
            Some(json!({ "group": "eu" })),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        plan["hosts"],
        json!([{ "host": "docker-01", "containers": ["sick"] }]),
        "{plan}"
    );
    assert_eq!(plan["skipped"][0]["host"], "closed-01");
    assert!(
        plan["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("agent.allow_actions"),
        "{plan}"
    );
    let alone = hub
        .act(
            &admin,
            "/api/v1/fleet/actions/plan",
            Some(json!({ "host": "closed-01" })),
        )
        .await;
    assert_eq!(alone.status(), 409, "nothing this host's agent would run");
    let token = plan["token"].as_str().unwrap();

    // A list other than the plan's is refused and leaves the plan usable.
    let other = hub
        .act(
            &admin,
            "/api/v1/fleet/actions",
            Some(json!({ "token": token, "hosts": ["docker-01", "closed-01"] })),
        )
        .await;
    assert_eq!(other.status(), 409);
    let started_batch = hub
        .act(
            &admin,
            "/api/v1/fleet/actions",
            Some(json!({ "token": token, "hosts": ["docker-01"] })),
        )
        .await;
    assert_eq!(started_batch.status(), 202);
    let batch: Value = started_batch.json().await.unwrap();
    let id = batch["batch"].as_str().unwrap().to_string();
    let again = hub
        .act(
            &admin,
            "/api/v1/fleet/actions",
            Some(json!({ "token": token, "hosts": ["docker-01"] })),
        )
        .await;
    assert_eq!(again.status(), 409, "a confirmation runs once");

    // Progress is streamed until every host has reported.
    let stream = hub
        .get_as(&format!("/api/v1/fleet/actions/{id}/events"), &admin)
        .await;
    assert_eq!(stream.status(), 200);
    let text = tokio::time::timeout(Duration::from_secs(90), stream.text())
        .await
        .expect("the stream ends once every action has finished")
        .unwrap();
    let events = crate::helpers::sse_data(&text);
    let states: Vec<&str> = events
        .iter()
        .map(|e| e["actions"][0]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.last(), Some(&"done"), "{text}");
    assert!(
        events.last().unwrap()["finished"] == true,
        "the last event says so"
    );
    let last = &events.last().unwrap()["actions"][0];
    assert_eq!(last["host"], "docker-01");
    assert_eq!(
        last["results"],
        json!([{ "name": "sick", "outcome": "restarted" }])
    );
    assert!(last["delivered_ms"].as_i64().is_some());
    assert_ne!(
        engine.started_at("sick"),
        started,
        "the engine restarted the container"
    );

    // Stored and shown on the host, and audited both ways.
    let h = host(&hub, "docker-01").await;
    assert_eq!(h["actions"][0]["state"], "done", "{h}");
    let b = hub.json(&format!("/api/v1/fleet/actions/{id}")).await;
    assert_eq!(b["finished"], true);
    let log = hub.audit_log(&admin).await;
    let entry = |action: &str| {
        log.iter()
            .find(|e| e["action"] == action && e["target"] == "docker-01")
            .unwrap_or_else(|| panic!("no {action} entry in {log:#?}"))
    };
    assert!(entry("fleet-restart")["detail"]
        .as_str()
        .unwrap()
        .contains("sick"));
    let result = entry("fleet-restart-result");
    assert_eq!(result["actor"], "agent:docker-01");
    assert!(result["detail"]
        .as_str()
        .unwrap()
        .contains("sick restarted"));
    // The agent that does not allow restarts was never asked.
    assert!(host(&hub, "closed-01").await["actions"].is_null());
}

/// `agent.metrics_listen`: a real agent serves its own `/metrics` — the host's families as
/// `serve` names them, scored, and its deliveries — for a Prometheus beside it. The agent
/// here is `steward-agent`, the small binary (the other agent tests run `steward agent`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_agent_serves_its_own_metrics_when_asked() {
    let hub = spawn_app(|_, _| {}).await;
    let admin = hub.admin().await;
    let token = add_host(&hub, &admin, "scraped-01").await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\ninterval_secs = 1\nmetrics_listen = \"127.0.0.1:{port}\"\n[docker]\nenabled = false\n"
        ),
    )
    .unwrap();
    let mut child = small_agent_command(&config, &hub.base, &token_file, &dir.path().join("agent"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _kill = KillOnDrop(&mut child);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let text = loop {
        if let Ok(r) = reqwest::get(&url).await {
            let t = r.text().await.unwrap();
            if t.contains("steward_agent_heartbeats_acked_total") && t.contains("steward_score ") {
                let acked = t
                    .lines()
                    .find_map(|l| l.strip_prefix("steward_agent_heartbeats_acked_total "))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                if acked >= 2 {
                    break t;
                }
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scored /metrics with acked heartbeats from the agent"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        text.contains("# TYPE steward_cpu_busy_percent gauge"),
        "{text}"
    );
    assert!(text.contains("steward_agent_buffer_queued "), "{text}");
    assert!(
        text.contains("steward_agent_last_ack_timestamp_seconds "),
        "{text}"
    );
    assert!(
        !text.contains("steward_containers "),
        "Docker is off: no container counts"
    );
    // The hub holds them, from the same version as `steward`.
    let h = host(&hub, "scraped-01").await;
    assert_eq!(h["badge"], "live", "{h}");
    assert_eq!(h["agent_version"], env!("CARGO_PKG_VERSION"), "{h}");
    // A bad address is a config error, said at start.
    std::fs::write(&config, "[agent]\nmetrics_listen = \"nowhere\"\n").unwrap();
    let bad = agent_command(&config, &hub.base, &token_file, &dir.path().join("bad"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("agent.metrics_listen"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// Agent GPUs: a real agent reads its host's GPUs like `serve` does and its heartbeats carry
/// them; the hub shows them on the host (the page's GPU cards) and on the fleet card. No GPU
/// runs here, so the AMD card is node_exporter's drm fixture under `paths.sysfs` (the files
/// amdgpu writes), and an NVIDIA card is a sysfs entry with NVIDIA's vendor id: NVML is not
/// installed here, so that agent must say its GPU error, not "no GPU" (on a machine with the
/// NVIDIA driver it reads the real cards instead).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_agents_report_their_gpus_and_a_gpu_error_is_not_no_gpu() {
    let hub = spawn_app(|_, _| {}).await;
    let admin = hub.admin().await;
    let dir = tempfile::tempdir().unwrap();
    let nvidia_sysfs = dir.path().join("sysfs-nvidia");
    std::fs::create_dir_all(nvidia_sysfs.join("class/drm/card0/device")).unwrap();
    for disk in ["block/sda", "block/vda"] {
        std::fs::create_dir_all(nvidia_sysfs.join(disk)).unwrap();
    }
    std::fs::write(
        nvidia_sysfs.join("class/drm/card0/device/vendor"),
        "0x10de\n",
    )
    .unwrap();
    let amd_sysfs = crate::helpers::fixtures().join("sysfs-amdgpu");
    let mut children = Vec::new();
    let mut checks = Vec::new();
    // nvidia-01's agent also has a Docker it cannot reach: an error, not "no containers".
    let dead_docker = "[docker]\nenabled = true\nhost = \"unix:///nonexistent/docker.sock\"\n";
    for (name, sysfs, docker) in [
        ("amd-01", &amd_sysfs, "[docker]\nenabled = false\n"),
        ("nvidia-01", &nvidia_sysfs, dead_docker),
    ] {
        let token = add_host(&hub, &admin, name).await;
        let token_file = dir.path().join(format!("{name}.token"));
        std::fs::write(&token_file, &token).unwrap();
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "[agent]\ninterval_secs = 1\n{docker}[paths]\nsysfs = {:?}\n",
                sysfs.display().to_string()
            ),
        )
        .unwrap();
        let data = dir.path().join(name);
        checks.push(
            agent_command(&config, &hub.base, &token_file, &data.join("check"))
                .arg("--check")
                .output()
                .unwrap(),
        );
        children.push(
            agent_command(&config, &hub.base, &token_file, &data)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    let _kill: Vec<_> = children.iter_mut().map(KillOnDrop).collect();

    let amd = hub
        .wait_json("/api/v1/fleet/hosts/amd-01", Duration::from_secs(30), |h| {
            h["gpus"].is_array()
        })
        .await;
    let g = &amd["gpus"][0];
    assert_eq!(g["index"], 0, "{amd}");
    assert_eq!(g["util_pct"], 4.0, "gpu_busy_percent: {amd}");
    assert_eq!(g["vram_used_bytes"], 1_490_378_752u64, "{amd}");
    assert_eq!(g["vram_total_bytes"], 8_573_157_376u64, "{amd}");
    assert_eq!(g["temperature_c"], 51.0, "hwmon millidegrees: {amd}");
    assert_eq!(g["power_limit_w"], 150.0, "{amd}");
    assert!(amd["gpu_error"].is_null(), "{amd}");
    // The same readings are the host's GPU series (history, trends, alerts).
    let util = amd["vitals"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "gpu_util_pct" && m["label"] == "0")
        .cloned();
    assert_eq!(util.map(|m| m["value"].clone()), Some(json!(4.0)), "{amd}");
    // The fleet list's cards carry them too, and the card's lines (this minute's mean of the
    // host's CPU, memory and disk use, whole percent).
    let list: Value = hub.json("/api/v1/fleet/hosts?q=amd-01").await;
    let card = &list["hosts"][0];
    assert_eq!(card["gpus"][0]["util_pct"], 4.0, "{list}");
    for line in ["cpu", "mem", "disk"] {
        let points = card["sparks"][line].as_array().expect("a line");
        assert!((1..=30).contains(&points.len()), "{line}: {points:?}");
        let last = points.last().unwrap().as_u64().unwrap();
        // 255 is a gap: a test machine's `/` may be an overlay, which has no disk reading.
        assert!(
            last <= 100 || (line == "disk" && last == 255),
            "{line}: a reading, not a gap: {points:?}"
        );
    }

    // Its trends come from its own stored heartbeats (the trend API with `host`).
    let trend: Value = hub
        .json("/api/v1/trend/gpu_util?range=1h&host=amd-01")
        .await;
    assert_eq!(trend["source"], "sqlite", "{trend}");
    assert_eq!(trend["series"][0]["label"], "0", "{trend}");
    assert!(
        trend["series"][0]["points"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["avg"] == 4.0)),
        "{trend}"
    );
    assert!(trend["source_down"].is_null(), "a live host: {trend}");
    assert_eq!(
        hub.get("/api/v1/trend/gpu_util?host=nowhere-01")
            .await
            .status(),
        404
    );
    let refused = hub.get("/api/v1/trend/container_io?host=amd-01").await;
    assert_eq!(refused.status(), 400);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("not kept for fleet hosts"));
    let local: Value = hub.json("/api/v1/trend/gpu_util?range=1h").await;
    assert!(
        local["series"].as_array().unwrap().is_empty(),
        "this machine has no GPU series of its own: {local}"
    );

    let nvidia = hub
        .wait_json(
            "/api/v1/fleet/hosts/nvidia-01",
            Duration::from_secs(30),
            |h| h["gpu_error"].is_string() || h["gpus"].is_array(),
        )
        .await;
    if let Some(e) = nvidia["gpu_error"].as_str() {
        assert!(e.contains("NVML"), "says what failed: {e}");
        assert!(nvidia["gpus"].is_null(), "no card read: {nvidia}");
    }
    let docker = nvidia["containers_error"]
        .as_str()
        .unwrap_or_else(|| panic!("the agent says Docker failed: {nvidia:#}"));
    assert!(docker.contains("nonexistent"), "names the socket: {docker}");
    assert!(nvidia["containers"].is_null(), "no counts: {nvidia}");
    assert!(
        amd["containers_error"].is_null(),
        "Docker off is no error: {amd}"
    );
    let reasons: Vec<&str> = nvidia["score"]["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["reason"].as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("the agent cannot read Docker:")),
        "the services dimension says why it is unknown: {reasons:?}"
    );

    // `--check` says what it read.
    let said: Vec<String> = checks
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .collect();
    assert!(
        said[0].contains("GPUs: 0 AMD GPU (card0)"),
        "{}{}",
        said[0],
        String::from_utf8_lossy(&checks[0].stderr)
    );
    assert!(
        said[1].contains("GPUs: not readable") || said[1].contains("GPUs: 0"),
        "{}",
        said[1]
    );
    assert!(said[1].contains("Docker: not readable"), "{}", said[1]);
}
