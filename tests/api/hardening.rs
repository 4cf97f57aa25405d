//! What a hostile client or a bad day on the host used to get away with: parallel sign-ins past
//! the limit, a setup link that outlived the first admin, an audit log anyone could fill, open
//! redirects, cross-site form posts, unaudited refusals, a full disk that left the database
//! locked, slow clients holding every connection, damage nobody noticed, and bad input that
//! answered 500 or NaN.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use app::auth::Role;

use crate::helpers::{metric, spawn_app, FirstStart, ADMIN_PASSWORD};

/// A collector's state in a `/api/v1/vitals` body, once it has reported.
fn state<'a>(body: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    body["collectors"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)?["state"]
        .as_str()
}

fn message(body: &serde_json::Value, name: &str) -> String {
    body["collectors"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn login_body(username: &str, password: &str) -> serde_json::Value {
    serde_json::json!({ "username": username, "password": password })
}

#[tokio::test]
async fn parallel_wrong_passwords_never_beat_the_sign_in_limit() {
    let app = spawn_app(|c, _| {
        c.auth.login_max_failures = 5;
        c.auth.login_window_secs = 900;
    })
    .await;
    let url = format!("{}/api/v1/auth/login", app.base);
    let attempts = (0..40).map(|i| {
        let client = app.client.clone();
        let url = url.clone();
        async move {
            client
                .post(url)
                .json(&login_body("admin", &format!("wrong-password-{i}")))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    let checked = statuses.iter().filter(|&&s| s == 401).count();
    let limited = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!(checked, 5, "only the limit is ever verified: {statuses:?}");
    assert_eq!(limited, 35, "{statuses:?}");
    app.stop().await;
}

#[tokio::test]
async fn the_setup_link_dies_once_an_admin_exists() {
    let first = FirstStart::start().await;
    let (base, token, db) = (first.base.clone(), first.token.clone(), first.db.clone());
    // An admin is made the other way (`steward user … --role admin` runs this).
    let store = server::store::history::HistoryStore::open(&db)
        .await
        .unwrap();
    let users = server::store::users::SqliteUsers(store.pool().clone());
    server::auth::upsert_user(&users, "ops", Role::Admin, "the-real-password")
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(format!("{base}/api/v1/auth/setup"))
        .json(&serde_json::json!({ "token": token, "username": "ops", "password": "attacker-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "setup is closed once an admin exists");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("admin exists"),
        "{body}"
    );
    // The admin's password is untouched, and pages send visitors to sign in, not to setup.
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&login_body("ops", "the-real-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client.get(format!("{base}/")).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("/login"), "{location}");
    first.stop().await;
}

#[tokio::test]
async fn refusals_are_counted_not_written_one_row_each() {
    let app = spawn_app(|c, _| c.auth.login_max_failures = 5).await;
    app.add_user("auditor", Role::Viewer, "auditor-password-1")
        .await;
    let auditor = app.login("auditor", "auditor-password-1").await;
    // Writes land in the WAL until a checkpoint, so both files count.
    let on_disk = || {
        ["", "-wal"]
            .iter()
            .map(|suffix| {
                std::fs::metadata(format!("{}{suffix}", app.db.display())).map_or(0, |m| m.len())
            })
            .sum::<u64>()
    };
    let size_before = on_disk();
    // Just under the 16 KiB body limit, so each one reaches the sign-in check.
    let huge_name = "n".repeat(15 * 1024);
    let url = format!("{}/api/v1/auth/login", app.base);
    for chunk in 0..30 {
        let attempts = (0..100).map(|i| {
            let client = app.client.clone();
            let url = url.clone();
            let name = format!("{huge_name}{}", chunk * 100 + i);
            async move {
                let r = client
                    .post(url)
                    .json(&login_body(&name, "wrong-password-x"))
                    .send()
                    .await
                    .unwrap();
                r.status().as_u16()
            }
        });
        for status in futures::future::join_all(attempts).await {
            assert!(status == 401 || status == 429, "{status}");
        }
    }
    // The refusals reach the log within the flush interval (1 s here), counted.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let log = app.audit_log(&auditor).await;
    let refused: Vec<_> = log
        .iter()
        .filter(|e| e["action"] == "login" && e["result"] == "refused")
        .collect();
    assert!(!refused.is_empty(), "refusals are audited: {log:?}");
    assert!(
        refused.len() <= 20,
        "3,000 refusals from one address are a few counted rows, not 3,000: {}",
        refused.len()
    );
    let counted: u64 = refused
        .iter()
        .map(|e| {
            let detail = e["detail"].as_str().unwrap_or("");
            detail
                .split(" times")
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(1)
        })
        .sum();
    assert_eq!(counted, 3000, "every refusal is counted: {refused:?}");
    for e in &refused {
        assert!(
            e["actor"].as_str().unwrap().chars().count() <= 65,
            "input is clipped"
        );
    }
    let grown = on_disk() as i64 - size_before as i64;
    println!(
        "3,000 refused sign-ins: {} audit rows, database grew {grown} bytes",
        refused.len()
    );
    assert!(grown < 1_000_000, "the database grew by {grown} bytes");
    app.stop().await;
}

#[tokio::test]
async fn the_audit_log_keeps_its_retention() {
    let app = spawn_app(|_, _| {}).await;
    let store = server::store::history::HistoryStore::open(&app.db)
        .await
        .unwrap();
    let audit = server::store::audit::AuditLog::new(store.pool().clone());
    for i in 0..1_200 {
        audit
            .record(server::store::audit::Entry {
                actor: "admin",
                action: server::store::audit::Action::Restart,
                target: &format!("c{i}"),
                outcome: server::store::audit::Outcome::Ok,
                detail: None,
            })
            .await;
    }
    let config = server::config::AuditConfig {
        retention_days: 30,
        max_rows: 1_000,
        refusal_flush_secs: 60,
    };
    for i in 0..1_100 {
        audit
            .container_event(
                "id",
                &format!("c{i}"),
                app::containers::ContainerEventKind::Health,
                None,
            )
            .await;
    }
    let now = app::shared::clock::now_ms();
    let deleted = audit.enforce_retention(&config, now).await.unwrap();
    assert_eq!(
        audit.container_events("c1099", 5).await.unwrap().len(),
        1,
        "the newest container events stay"
    );
    assert!(audit.container_events("c0", 5).await.unwrap().is_empty());
    assert!(deleted >= 200, "{deleted}");
    let left = audit.list(None, 500).await.unwrap();
    assert_eq!(left[0].target, "c1199", "the newest entries stay");
    // Past the age limit everything goes.
    let later = now + 31 * 86_400_000;
    audit.enforce_retention(&config, later).await.unwrap();
    assert!(audit.list(None, 500).await.unwrap().is_empty());
    assert!(audit.container_events("c1099", 5).await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn sign_in_never_redirects_off_site_or_fails_on_odd_next() {
    let app = spawn_app(|c, _| c.auth.login_max_failures = 50).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for next in [
        "%2F%09%2Fevil.example",
        "%2F%0A%2Fevil.example",
        "%2F%0D%0ALocation%3A%20x",
        "%2F%7F",
        "%2F%C3%A9",
        "%2F%5Cevil.example",
    ] {
        let r = no_redirects
            .post(format!("{}/api/v1/auth/login", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "username=admin&password={ADMIN_PASSWORD}&next={next}"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "next={next}");
        assert_eq!(r.headers()["location"], "/", "next={next}");
    }
    app.stop().await;
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_counted() {
    let app = spawn_app(|_, _| {}).await;
    app.add_user("viewer2", Role::Viewer, "viewer-password-2")
        .await;
    let viewer = app.login("viewer2", "viewer-password-2").await;
    let admin = app.admin().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A form on another site that signs the visitor in (login CSRF).
    let r = no_redirects
        .post(format!("{}/api/v1/auth/login", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(format!("username=admin&password={ADMIN_PASSWORD}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(!r.headers().contains_key("set-cookie"));
    // An admin's own session, from another origin, cannot act either.
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(&admin),
            Some(&admin.csrf),
        )
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The same origin is fine.
    let origin = app.base.clone();
    let r = app
        .request(reqwest::Method::POST, "/api/v1/auth/login", None, None)
        .header("origin", origin)
        .header("sec-fetch-site", "same-origin")
        .json(&login_body("admin", ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A viewer's action and a missing CSRF token are refused and audited (counted).
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/v1/containers/x/restart",
            Some(&viewer),
            Some(&viewer.csrf),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/v1/containers/x/restart",
            Some(&admin),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let log = app.audit_log(&admin).await;
    let guard: Vec<_> = log
        .iter()
        .filter(|e| e["action"] == "guard" && e["result"] == "refused")
        .collect();
    let detail = |who: &str| {
        guard
            .iter()
            .find(|e| e["actor"] == who)
            .and_then(|e| e["detail"].as_str())
            .unwrap_or("")
            .to_string()
    };
    assert!(detail("viewer2").contains("admins only"), "{guard:?}");
    assert!(detail("-").contains("cross-site"), "{guard:?}");
    assert!(
        guard
            .iter()
            .any(|e| e["actor"] == "admin" && e["detail"].as_str().unwrap_or("").contains("CSRF")),
        "{guard:?}"
    );
    app.stop().await;
}

/// A tmpfs of `size` mounted at `at`, unmounted when dropped. Needs root (CI runs as root).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "this test mounts a small tmpfs to fill it: run the tests as root (CI does)"
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Writes zeros to `path` until the filesystem is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        if f.write_all(&block).is_err() || f.sync_all().is_err() {
            // The last block may have fitted in part; fill the rest a byte at a time.
            while f.write_all(&[0]).is_ok() && f.sync_all().is_ok() {}
            return;
        }
    }
}

#[tokio::test]
async fn history_resumes_after_a_full_disk_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _mount = Tmpfs::mount(&data, "8m");
    // Several failed flushes in a row, as a real outage gives: the old code then left a
    // failed transaction's connection holding the write lock.
    let flush = 3;
    let app = spawn_app(|c, _| {
        c.data_dir = data.clone();
        c.history.flush_interval_secs = flush;
    })
    .await;
    app.wait_json("/api/v1/vitals", Duration::from_secs(15), |v| {
        state(v, "history") == Some("ok")
    })
    .await;
    let filler = data.join("filler");
    fill(&filler);
    let v = app
        .wait_json("/api/v1/vitals", Duration::from_secs(30), |v| {
            state(v, "history") == Some("error")
        })
        .await;
    let message = message(&v, "history");
    assert!(message.contains("full"), "{message}");
    let full_since = app::shared::clock::now_ms();
    // Samples keep arriving while the disk is full; they are held, not lost.
    tokio::time::sleep(Duration::from_secs(3 * flush)).await;
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    // Sign-ins work at once (they never wait on a lock left by history).
    app.admin().await;
    app.wait_json("/api/v1/vitals", Duration::from_secs(15), |v| {
        state(v, "history") == Some("ok")
    })
    .await;
    let resumed = freed.elapsed();
    println!("history resumed {resumed:?} after the disk was freed (flush interval {flush} s)");
    assert!(
        resumed < Duration::from_secs(flush + 2),
        "writing resumes within one flush interval: {resumed:?}"
    );
    let store = server::store::history::HistoryStore::open(&app.db)
        .await
        .unwrap();
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM samples_raw WHERE ts >= ? AND ts < ?")
        .bind(full_since)
        .bind(full_since + 3_000)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(
        held > 0,
        "samples taken while the disk was full were written"
    );
    app.stop().await;
}

#[tokio::test]
async fn slow_clients_are_closed_and_do_not_starve_others() {
    let app = spawn_app(|c, _| {
        c.server.header_read_timeout_secs = 1;
        c.server.max_connections = 16;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_string();
    // 40 clients send half a request and stop: more than the cap.
    let mut stalled: Vec<TcpStream> = (0..40)
        .filter_map(|_| {
            let mut s = TcpStream::connect(&addr).ok()?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .ok()?;
            Some(s)
        })
        .collect();
    // A normal request still gets through once the header timeout frees slots.
    let started = Instant::now();
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let waited = started.elapsed();
    println!("a normal request beside 40 stalled connections took {waited:?}");
    assert!(waited < Duration::from_secs(6), "{waited:?}");
    // The stalled connections were closed by the server (blocking reads, off the runtime that
    // serves them).
    let still_open = tokio::task::spawn_blocking(move || {
        stalled
            .iter_mut()
            .map(|s| {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                s.read(&mut [0u8; 256]).is_err()
            })
            .filter(|open| *open)
            .count()
    })
    .await
    .unwrap();
    assert_eq!(still_open, 0, "stalled connections still open after 5 s");
    app.stop().await;
}

#[tokio::test]
async fn an_empty_database_file_is_refused_loudly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/steward.db"), b"").unwrap();
    let mut config = server::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        ..Default::default()
    };
    config.docker.enabled = false;
    let e = match server::Application::build(config, None).await {
        Ok(_) => panic!("started over an empty database file"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("0 bytes") && e.contains("backup"), "{e}");
}

#[tokio::test]
async fn a_damaged_database_is_reported_as_the_history_error() {
    let app = spawn_app(|_, _| {}).await;
    app.wait_json("/api/v1/vitals", Duration::from_secs(15), |v| {
        state(v, "history") == Some("ok")
    })
    .await;
    // The root page of the daily rollups: no start-up step reads it, so only a check finds it.
    let (root, page): (i64, i64) = {
        let store = server::store::history::HistoryStore::open(&app.db)
            .await
            .unwrap();
        let root =
            sqlx::query_scalar("SELECT rootpage FROM sqlite_master WHERE name = 'rollup_1d'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        let page = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(store.pool())
            .await
            .unwrap();
        store.close().await;
        (root, page)
    };
    let dir = app.stop().await;
    let db = dir.path().join("data/steward.db");
    // Overwrite that page, as a bad sector or a stray write would.
    let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(((root - 1) * page) as u64))
        .unwrap();
    f.write_all(&vec![0xA5; page as usize]).unwrap();
    drop(f);
    let app = spawn_app(|c, _| c.data_dir = db.parent().unwrap().to_path_buf()).await;
    let v = app
        .wait_json("/api/v1/vitals", Duration::from_secs(15), |v| {
            state(v, "history") == Some("error")
        })
        .await;
    let message = message(&v, "history");
    assert!(
        message.contains("damaged") && message.contains("backup"),
        "{message}"
    );
    drop(dir);
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx_never_a_500() {
    let app = spawn_app(|_, _| {}).await;
    let admin = app.admin().await;
    let mut checked = 0;
    // Every server function, with no arguments and with nonsense ones.
    for (path, method) in server::http::guard::server_functions() {
        if method != reqwest::Method::GET {
            continue;
        }
        for query in [
            "",
            "?metric",
            "?first_rows=maybe",
            "?from=x&to=y&name=%FF",
            "?before=1e999",
        ] {
            let r = app.get_as(&format!("{path}{query}"), &admin).await;
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            assert!(status < 500, "{path}{query}: {status} {text}");
            if status >= 400 {
                let body: serde_json::Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{path}{query}: not JSON: {text}"));
                assert!(body["error"].is_string(), "{path}{query}: {text}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
    // The history function without its arguments is a 400 that says what is missing.
    let (path, _) = server::http::guard::server_functions()
        .into_iter()
        .find(|(p, _)| p.contains("get_history"))
        .unwrap();
    let r = app.get_as(&path, &admin).await;
    assert_eq!(r.status(), 400);
    // Malformed queries and bodies on the REST API: 400 with the JSON shape, never 415/422.
    for (method, path, body, content_type) in [
        ("GET", "/api/v1/trend/disk?from=abc&to=1", "", ""),
        (
            "GET",
            "/api/v1/trend/disk?from=-9223372036854775808&to=-9223372036854775708",
            "",
            "",
        ),
        (
            "GET",
            "/api/v1/history?metric=cpu_steal_pct&range=-1h",
            "",
            "",
        ),
        ("GET", "/api/v1/audit?before=x", "", ""),
        ("POST", "/api/v1/explore", "query=up", "text/plain"),
        (
            "POST",
            "/api/v1/explore",
            "{\"query\": 5}",
            "application/json",
        ),
        (
            "POST",
            "/api/v1/containers/restart-unhealthy",
            "[",
            "application/json",
        ),
        (
            "POST",
            "/api/v1/containers/restart-unhealthy",
            "{\"ids\": 1}",
            "application/json",
        ),
    ] {
        let mut r = app.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            path,
            Some(&admin),
            Some(&admin.csrf),
        );
        if !content_type.is_empty() {
            r = r.header("content-type", content_type).body(body);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!(
            [400, 404].contains(&status),
            "{method} {path}: {status} {text}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
        assert!(parsed["error"].is_string(), "{text}");
    }
    app.stop().await;
}

#[tokio::test]
async fn non_finite_readings_are_unknown_never_ok_or_nan() {
    let app = spawn_app(|_, _| {}).await;
    std::fs::write(app.procfs().join("loadavg"), "nan inf -nan 1/100 42\n").unwrap();
    let v = app
        .wait_json("/api/v1/vitals", Duration::from_secs(10), |v| {
            v["vitals"]["metrics"].is_array() && metric(v, "load1", None)["value"].is_null()
        })
        .await;
    let load = metric(&v, "load1", None);
    assert_eq!(load["level"], "unknown", "{load}");
    assert!(load["note"].as_str().unwrap().contains("nan"), "{load}");
    let text = app.get("/metrics").await.text().await.unwrap();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().unwrap();
        assert!(
            value.parse::<f64>().is_ok_and(f64::is_finite),
            "non-finite value in /metrics: {line}"
        );
    }
    app.stop().await;
}
