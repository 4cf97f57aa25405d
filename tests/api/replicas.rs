//! Two hub replicas — the real release binary, each in its own process — on one real
//! PostgreSQL, with real agents pointed at both: the replicas share the fleet registry, one
//! holds the sweep's lease, and when that one is killed with SIGKILL under load the agents
//! fail over, no heartbeat either replica acked is missing from the shared registry, the other
//! replica takes the sweep over within one interval, and a session made on the dead replica
//! still works on the live one. A silent host's `heartbeat_stale` alert is judged by one
//! replica at a time (one notice, not one per replica), shown by both, acknowledged on the one
//! that does not judge it, and carried on by the survivor after the kill (still acknowledged,
//! not notified again). A shared heartbeat job that fails is shown by both and notified once.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use server::fleet::store::FleetStore;
use steward_tests::postgres::Postgres;
use steward_tests::receivers::Receivers;

use super::fleet::{agent_command, steward_bin};
use super::fleet_durability::spawn_serve;
use super::maintenance::job_token;

/// Seconds between sweep rounds: the lease moves within one of them.
const SWEEP_SECS: u64 = 1;
const PASSWORD: &str = "replica-password";

/// A process killed when the test ends, however it ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a replica on `port` with its own data folder and the shared database; its alerts
/// go to the webhook `hook`, a host is stale after 3 s, its jobs refresh hourly (sooner only
/// when a replica announces a change), and the fleet history's rollups run every second.
fn start_replica(dir: &Path, name: &str, port: u16, database: &str, hook: &str) -> Proc {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    Proc(spawn_serve(
        &dir,
        port,
        &format!(
            "[docker]\nenabled = false\n[collector]\ninterval_secs = 1\n\
             [database]\nurl = \"{database}\"\n\
             [fleet.sweep]\ninterval_secs = {SWEEP_SECS}\ntimeout_ms = 500\n\
             [maintenance]\ninterval_secs = 3600\n[history]\nflush_interval_secs = 1\n\
             [alerts]\nfor_secs = 0\n[alerts.rules.heartbeat_stale]\nwarn = 3\ncrit = 100000\n\
             [[alerts.webhooks]]\nname = \"ops\"\nurl = \"{hook}\"\n"
        ),
        PASSWORD,
    ))
}

/// Signs in as the admin on `base`; returns the session cookie (`name=value`) and the
/// session's CSRF token.
async fn login(base: &str) -> (String, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "sign-in on {base}");
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let body: serde_json::Value = r.json().await.unwrap();
    (cookie, body["csrf"].as_str().unwrap().to_string())
}

/// Acknowledges the alert `key` on the replica at `base` (signed-in `client`); it must take it.
async fn acknowledge(client: &reqwest::Client, base: &str, csrf: &str, key: &str) {
    let r = client
        .post(format!("{base}/api/v1/alerts/acknowledge"))
        .header("x-csrf-token", csrf)
        .json(&serde_json::json!({ "key": key }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Polls `url` until `ok` holds; panics with the last answer after `timeout`.
async fn wait_for(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(r) = client.get(url).send().await {
            if let Ok(v) = r.json::<serde_json::Value>().await {
                if ok(&v) {
                    return v;
                }
                assert!(Instant::now() < deadline, "timed out on {url}; last: {v:#}");
            }
        }
        assert!(Instant::now() < deadline, "timed out on {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A small heartbeat (two metrics) from the test's own senders.
fn heartbeat(seq: u64, collected_ms: i64) -> serde_json::Value {
    serde_json::json!({
        "schema": 1, "agent_version": "replica-test", "status": "ready", "seq": seq,
        "collected_ms": collected_ms, "cores": 2, "disk_mount": "/",
        "metrics": [{"name": "load1", "value": 0.5},
                    {"name": "mem_available_bytes", "value": 1.5e9}],
    })
}

/// Per host, the (sequence, collected time) of each heartbeat acked.
type Acked = Arc<Mutex<BTreeMap<String, Vec<(u64, i64)>>>>;

/// Sends heartbeats for `host` back to back, to the first replica that answers, until `stop`;
/// records the sequence numbers and times acked.
async fn send_until(
    client: reqwest::Client,
    hubs: [String; 2],
    (host, token): (String, String),
    stop: Arc<AtomicBool>,
    acked: Acked,
) {
    let (mut seq, mut last_ms, mut hub) = (0u64, 0i64, 0usize);
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let collected_ms = app::shared::clock::now_ms().max(last_ms + 1);
        last_ms = collected_ms;
        let body = heartbeat(seq, collected_ms);
        let url = format!("{}/api/v1/agent/heartbeat", hubs[hub]);
        match client
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => acked
                .lock()
                .unwrap()
                .entry(host.clone())
                .or_default()
                .push((seq, collected_ms)),
            Ok(r) => panic!("{host}: heartbeat {seq} answered {}", r.status()),
            // Not acked: the agent would keep it and send it to the other replica.
            Err(_) => hub = 1 - hub,
        }
    }
}

/// `steward agent --check` checks every hub listed: both replicas take the token; with a dead
/// one listed, the check fails and says which.
fn check_every_hub(home: &Path, hubs: &str, live: &str) {
    let run = |hubs: &str| {
        agent_command(
            &home.join("agent.toml"),
            hubs,
            &home.join("token"),
            &home.join("check"),
        )
        .arg("--check")
        .output()
        .unwrap()
    };
    let both = run(hubs);
    let said = String::from_utf8_lossy(&both.stdout);
    assert!(
        both.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&both.stderr)
    );
    assert_eq!(said.matches("took the heartbeat").count(), 2, "{said}");
    let dead = format!("http://127.0.0.1:{}", steward_tests::free_port());
    let one_dead = run(&format!("{live},{dead}"));
    let err = String::from_utf8_lossy(&one_dead.stderr);
    assert!(!one_dead.status.success());
    assert!(err.contains("1 of 2 hubs failed the check"), "{err}");
    assert!(
        err.contains(&format!("ok: {live}/api/v1/agent/heartbeat")),
        "{err}"
    );
    assert!(err.contains(&format!("cannot reach {dead}")), "{err}");
}

/// quiet-01's `heartbeat_stale` alert in an `/api/v1/alerts` answer (null when absent).
fn quiet_alert(alerts: &serde_json::Value) -> serde_json::Value {
    alerts["active"]
        .as_array()
        .and_then(|active| {
            active.iter().find(|a| {
                a["rule"] == "heartbeat_stale" && a["labels"].to_string().contains("quiet-01")
            })
        })
        .cloned()
        .unwrap_or_default()
}

/// The key an acknowledgement names quiet-01's stale alert by.
const QUIET_KEY: &str = "heartbeat_stale{host=\"quiet-01\"}";

/// Whether an `/api/v1/alerts` answer shows quiet-01's `heartbeat_stale` alert firing.
fn quiet_fires(alerts: &serde_json::Value) -> bool {
    alerts["active"].as_array().is_some_and(|active| {
        active.iter().any(|a| {
            a["rule"] == "heartbeat_stale"
                && a["state"] == "firing"
                && a["summary"]
                    .as_str()
                    .is_some_and(|s| s.contains("quiet-01"))
        })
    })
}

#[tokio::test]
async fn replicas_share_the_fleet_and_survive_the_sweep_leaders_sigkill() {
    // Fails at once, saying how to build it, when the release binary is missing.
    steward_bin();
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let ports = [steward_tests::free_port(), steward_tests::free_port()];
    let bases = ports.map(|p| format!("http://127.0.0.1:{p}"));
    let rx = Receivers::start().await;
    let hook = format!("{}/hook/ops", rx.base);
    let mut replicas = vec![Some(start_replica(
        dir.path(),
        "a",
        ports[0],
        &pg.url(),
        &hook,
    ))];
    replicas.push(Some(start_replica(
        dir.path(),
        "b",
        ports[1],
        &pg.url(),
        &hook,
    )));
    // Reading the fleet takes a session; this one is made on replica a.
    let (cookie, csrf) = login(&bases[0]).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::COOKIE,
            cookie.parse().unwrap(),
        )]))
        .build()
        .unwrap();

    // The registry, written once into the shared database: each replica's own health URL
    // as a host for the sweep, two agents and eight load senders.
    let pool = server::store::postgres::open(&pg.url(), Duration::from_secs(10), 2)
        .await
        .unwrap();
    let registry = FleetStore::postgres(pool.clone());
    for (name, base) in ["web-a", "web-b"].iter().zip(&bases) {
        registry
            .add(name, Some(&format!("{base}/healthz")))
            .await
            .unwrap();
    }
    let mut agents = Vec::new();
    for (i, hubs) in [
        format!("{},{}", bases[0], bases[1]),
        format!("{},{}", bases[1], bases[0]),
    ]
    .iter()
    .enumerate()
    {
        let name = format!("agent-{i}");
        let token = registry.add(&name, None).await.unwrap();
        let home = dir.path().join(&name);
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join("token"), format!("{token}\n")).unwrap();
        std::fs::write(
            home.join("agent.toml"),
            "[docker]\nenabled = false\n[collector]\ninterval_secs = 1\n\
             [agent]\ninterval_secs = 1\ntimeout_secs = 2\n",
        )
        .unwrap();
        if i == 0 {
            check_every_hub(&home, hubs, &bases[0]);
        }
        let child = agent_command(
            &home.join("agent.toml"),
            hubs,
            &home.join("token"),
            &home.join("data"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        agents.push(Proc(child));
    }
    // A host heard from once, on replica a, then silent: stale on both replicas' fleet.
    let quiet = registry.add("quiet-01", None).await.unwrap();
    let r = client
        .post(format!("{}/api/v1/agent/heartbeat", bases[0]))
        .bearer_auth(&quiet)
        .json(&heartbeat(1, app::shared::clock::now_ms()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut load = Vec::new();
    for i in 0..8 {
        let name = format!("load-{i}");
        let token = registry.add(&name, None).await.unwrap();
        load.push((name, token));
    }

    // Both replicas serve every host, those whose heartbeats go to the other one included:
    // live, with the vitals and the score of its newest heartbeat (shared through the
    // database); and one of them holds the sweep.
    for base in &bases {
        for agent in ["agent-0", "agent-1"] {
            let h = wait_for(
                &client,
                &format!("{base}/api/v1/fleet/hosts/{agent}"),
                Duration::from_secs(30),
                |h| h["badge"] == "live" && h["vitals"]["metrics"].is_array(),
            )
            .await;
            assert!(h["score"]["dimensions"].is_array(), "{base} {agent}: {h:#}");
            assert_eq!(h["status"], "ready", "{base} {agent}");
        }
    }
    // Samples go to the shared fleet history (no [remote_write] here): quiet-01's one
    // heartbeat, taken by replica a, is on its chart on both replicas.
    for base in &bases {
        // A replica learns a host another replica added at its next registry sync: until
        // then the host is unknown there (404), so wait for it.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let r = loop {
            let r = client
                .get(format!("{base}/api/v1/trend/memory?host=quiet-01&range=1h"))
                .send()
                .await
                .unwrap();
            if r.status() != 404 || std::time::Instant::now() > deadline {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(r.status(), 200, "{base}");
        let t: serde_json::Value = r.json().await.unwrap();
        assert_eq!(t["source"], "postgres", "{base}");
        assert!(t["note"].is_null(), "{base}: {}", t["note"]);
        let points: usize = t["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["points"].as_array().map_or(0, |p| p.len()))
            .sum();
        assert!(
            points >= 1,
            "{base}: quiet-01's heartbeat is not charted: {t:#}"
        );
    }
    let mut leaders = Vec::new();
    for base in &bases {
        let w = wait_for(
            &client,
            &format!("{base}/api/v1/fleet/workers"),
            Duration::from_secs(10),
            |w| w["sweep"]["leader"].is_boolean(),
        )
        .await;
        leaders.push(w["sweep"]["leader"] == true);
    }
    assert_eq!(
        leaders.iter().filter(|l| **l).count(),
        1,
        "one sweep leader: {leaders:?}"
    );
    let leader = leaders.iter().position(|l| *l).unwrap();
    let other = 1 - leader;
    // The follower shows the health the leader stored.
    for host in ["web-a", "web-b"] {
        wait_for(
            &client,
            &format!("{}/api/v1/fleet/hosts/{host}", bases[other]),
            Duration::from_secs(20),
            |h| h["health"]["status"] == "healthy",
        )
        .await;
    }

    // The silent host's alert fires once: one replica judges the fleet's rules.
    let firing_notices = |rule: &str, about: &str| {
        rx.received("/hook/ops")
            .iter()
            .map(|r| r.json())
            .filter(|v| {
                v["alert"]["rule"] == rule
                    && v["alert"]["summary"]
                        .as_str()
                        .is_some_and(|s| s.contains(about))
                    && v["notice"] == "firing"
            })
            .count()
    };
    let stale_notices = || firing_notices("heartbeat_stale", "quiet-01");
    let deadline = Instant::now() + Duration::from_secs(20);
    while stale_notices() == 0 {
        assert!(
            Instant::now() < deadline,
            "no heartbeat_stale notice for quiet-01"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both replicas evaluate every second: three more rounds each.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(stale_notices(), 1, "one notice, not one per replica");
    // Both replicas show it (and their badges count it); the one that does not judge it
    // names the one that does.
    let mut judged_here = Vec::new();
    for base in &bases {
        let alerts = format!("{base}/api/v1/alerts");
        let v = wait_for(&client, &alerts, Duration::from_secs(5), quiet_fires).await;
        let quiet = quiet_alert(&v);
        judged_here.push(quiet["judged_on"].is_null());
    }
    assert_eq!(
        judged_here.iter().filter(|j| **j).count(),
        1,
        "one replica judges it: {judged_here:?}"
    );
    let judge = judged_here.iter().position(|j| *j).unwrap();
    // Acknowledged on the other replica: the judge takes it on its next round, so it stops
    // the repeats, and both show who acknowledged it.
    acknowledge(&client, &bases[1 - judge], &csrf, QUIET_KEY).await;
    for base in [&bases[judge], &bases[1 - judge]] {
        wait_for(
            &client,
            &format!("{base}/api/v1/alerts"),
            Duration::from_secs(10),
            |v| quiet_fires(v) && quiet_alert(v)["acknowledged_by"] == "admin",
        )
        .await;
    }

    // A shared heartbeat job made on one replica fails through a ping to the other: both
    // judge it from the shared reports and show the alert, one notifies.
    let r = client
        .post(format!("{}/api/v1/maintenance/jobs", bases[0]))
        .header("x-csrf-token", &csrf)
        .json(
            &serde_json::json!({"slug": "backup", "name": "Nightly backup",
            "schedule": "0 2 * * *", "grace_secs": 3600}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let token = job_token(r).await;
    let r = client
        .post(format!(
            "{}/api/v1/jobs/backup/ping/fail?exit_code=3",
            bases[1]
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    for base in &bases {
        wait_for(
            &client,
            &format!("{base}/api/v1/alerts"),
            Duration::from_secs(20),
            |v| {
                v["active"].as_array().is_some_and(|a| {
                    a.iter().any(|a| {
                        a["rule"] == "job_failed"
                            && a["state"] == "firing"
                            && a["labels"].to_string().contains("backup")
                    })
                })
            },
        )
        .await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        firing_notices("job_failed", "Nightly backup"),
        1,
        "one notice for the shared job, not one per replica"
    );
    // Acknowledged on the replica that does not judge: the judge takes it, both show it.
    let job_key = "job_failed{job=\"backup\"}";
    acknowledge(&client, &bases[1 - judge], &csrf, job_key).await;
    let job_acked = |v: &serde_json::Value| {
        v["active"].as_array().is_some_and(|a| {
            a.iter()
                .any(|a| a["rule"] == "job_failed" && a["acknowledged_by"] == "admin")
        })
    };
    for base in [&bases[judge], &bases[1 - judge]] {
        wait_for(
            &client,
            &format!("{base}/api/v1/alerts"),
            Duration::from_secs(10),
            job_acked,
        )
        .await;
    }

    // A session made on the replica about to die.
    let (cookie, _) = login(&bases[leader]).await;

    // Load on both replicas, then SIGKILL of the sweep's leader mid-stream.
    let acked: Acked = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = load
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let hubs = if i % 2 == 0 {
                [bases[leader].clone(), bases[other].clone()]
            } else {
                [bases[other].clone(), bases[leader].clone()]
            };
            tokio::spawn(send_until(
                client.clone(),
                hubs,
                host.clone(),
                stop.clone(),
                acked.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let minutes_done = || async {
        sqlx::query_scalar::<_, i64>("SELECT done_until FROM fleet_rollup_state WHERE level = '1m'")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let minutes_before = minutes_done().await;
    let mut dead = replicas[leader].take().unwrap();
    dead.0.kill().unwrap();
    dead.0.wait().unwrap();
    let killed_ms = app::shared::clock::now_ms();
    let killed = Instant::now();
    drop(dead);

    // The other replica takes the sweep within one interval (plus a round's own time), and
    // its first checks find the dead replica's health URL unreachable.
    wait_for(
        &client,
        &format!("{}/api/v1/fleet/workers", bases[other]),
        Duration::from_secs(10),
        |w| w["sweep"]["leader"] == true,
    )
    .await;
    let takeover = killed.elapsed();
    let dead_host = ["web-a", "web-b"][leader];
    wait_for(
        &client,
        &format!("{}/api/v1/fleet/hosts/{dead_host}", bases[other]),
        Duration::from_secs(10),
        |h| {
            h["health"]["status"] == "unreachable"
                && h["health"]["at_ms"].as_i64() > Some(killed_ms)
        },
    )
    .await;

    // The survivor judges the fleet's rules (it did already, or takes their lease over and
    // carries the alert on: still acknowledged, and no second "firing" notice).
    wait_for(
        &client,
        &format!("{}/api/v1/alerts", bases[other]),
        Duration::from_secs(10),
        |v| {
            let quiet = quiet_alert(v);
            quiet_fires(v) && quiet["judged_on"].is_null() && quiet["acknowledged_by"] == "admin"
        },
    )
    .await;

    // Both agents now deliver to the live replica.
    for agent in ["agent-0", "agent-1"] {
        wait_for(
            &client,
            &format!("{}/api/v1/fleet/hosts/{agent}", bases[other]),
            Duration::from_secs(20),
            |h| h["last_heartbeat_ms"].as_i64() > Some(killed_ms + 1000),
        )
        .await;
    }
    assert_eq!(
        stale_notices(),
        1,
        "the alert was carried over the failover, not notified again"
    );
    // The shared job's alert too: still acknowledged on the survivor, notified once.
    wait_for(
        &client,
        &format!("{}/api/v1/alerts", bases[other]),
        Duration::from_secs(10),
        job_acked,
    )
    .await;
    assert_eq!(firing_notices("job_failed", "Nightly backup"), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }

    // Every acked heartbeat is in the shared registry: its count and its newest sequence.
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let mut total = 0;
    for (host, beats) in &acked {
        let row = registry.host(host).await.unwrap().unwrap();
        let seqs: Vec<u64> = beats.iter().map(|(seq, _)| *seq).collect();
        total += seqs.len();
        assert!(
            row.heartbeats_total >= seqs.len() as u64,
            "{host}: {} acked, {} stored",
            seqs.len(),
            row.heartbeats_total
        );
        let last_seq: i64 = sqlx::query_scalar("SELECT last_seq FROM fleet_hosts WHERE host = $1")
            .bind(host)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(last_seq as u64 >= *seqs.iter().max().unwrap(), "{host}");
        // And its samples are in the shared history, whichever replica took it.
        let stored: std::collections::BTreeSet<i64> = sqlx::query_scalar(
            "SELECT s.ts FROM fleet_samples s JOIN fleet_series x ON x.id = s.series_id \
             WHERE x.host = $1 AND x.name = 'load1'",
        )
        .bind(host)
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
        let missing: Vec<_> = beats
            .iter()
            .filter(|(_, ts)| !stored.contains(ts))
            .collect();
        assert!(
            missing.is_empty(),
            "{host}: acked, samples not stored: {missing:?}"
        );
    }
    assert_eq!(acked.len(), load.len(), "every sender was acked");

    // The fleet history's rollups go on (on the survivor, whichever replica held their
    // lease): the minute level passes the next minute boundary (rounds every second).
    let deadline = killed + Duration::from_secs(90);
    while minutes_done().await <= minutes_before {
        assert!(
            Instant::now() < deadline,
            "the fleet history's minutes stopped at {minutes_before} after the SIGKILL"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The dead replica's session works on the live one.
    let who = reqwest::Client::new()
        .get(format!("{}/api/v1/auth/session", bases[other]))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(who.status(), 200);
    assert_eq!(
        who.json::<serde_json::Value>().await.unwrap()["username"],
        "admin"
    );
    println!(
        "replica failover: sweep taken over {} ms after SIGKILL (interval {SWEEP_SECS} s); \
         {total} heartbeats acked by both replicas, none missing from PostgreSQL (registry \
         and samples)",
        takeover.as_millis()
    );
    drop(agents);
    drop(replicas);
}
