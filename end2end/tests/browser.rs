//! Browser tests: Debian's headless Chromium, driven over WebDriver (chromedriver + fantoccini),
//! against the release build of `steward serve` watching this machine's real /proc.
//!
//! Needs `cargo leptos build --release` first (`make test` does it); the binary and site are taken
//! from STEWARD_BIN and STEWARD_SITE_ROOT, or from `target/`.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use steward_tests::docker_engine::Engine;
use steward_tests::{free_port, Proc};

/// The overview test reads as a visitor and needs no Docker.
const VISITOR: &str = "[auth]\nanonymous_read = true\n[docker]\nenabled = false\n";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn steward_bin() -> PathBuf {
    let bin = std::env::var_os("STEWARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/release/steward"));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo leptos build --release` (make test does)",
        bin.display()
    );
    bin
}

fn site_root() -> PathBuf {
    let root = std::env::var_os("STEWARD_SITE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/site"));
    assert!(
        root.join("pkg/steward.wasm").exists(),
        "no built site under {}",
        root.display()
    );
    root
}

/// The password of the `admin` user the browser tests sign in with.
const ADMIN_PASSWORD: &str = "browser-admin-password";

/// Starts `steward serve` on `listen` with `config` (TOML) and returns it with its bound address.
fn start_steward(data: &Path, listen: &str, config: &str) -> (Proc, SocketAddr) {
    let config_path = data.join("steward.toml");
    std::fs::write(
        &config_path,
        format!("[history]\nflush_interval_secs = 1\n{config}"),
    )
    .unwrap();
    let password = data.join("admin.pw");
    std::fs::write(&password, ADMIN_PASSWORD).unwrap();
    let config = config_path;
    let mut child = Command::new(steward_bin())
        .args(["--config"])
        .arg(&config)
        .args([
            "--collect-interval",
            "1",
            "serve",
            "--listen",
            listen,
            "--data-dir",
        ])
        .arg(data)
        .arg("--site-root")
        .arg(site_root())
        .arg("--admin-password-file")
        .arg(&password)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("steward starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("steward listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    (Proc(child), addr)
}

fn start_chromedriver() -> (Proc, u16) {
    let port = free_port();
    let child =
        Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (make test installs Debian's chromium-driver)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not open port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Proc(child), port)
}

async fn browser(port: u16, profile: &Path) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        &format!("--user-data-dir={}", profile.display()),
    ];
    let mut caps = serde_json::Map::new();
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": binary, "args": args }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("WebDriver session")
}

async fn attr(c: &Client, css: &str, name: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .attr(name)
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Polls until `check` holds, failing with `what` after `timeout`.
async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn overview_hydrates_updates_live_and_fits_a_phone() {
    let tmp = tempfile::tempdir().unwrap();
    let (steward, addr) = start_steward(tmp.path(), "127.0.0.1:0", VISITOR);
    let (_driver, port) = start_chromedriver();
    let c = browser(port, &tmp.path().join("profile")).await;
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("http://{addr}/")).await.unwrap();

    // Hydrated: an Effect (which only runs in the browser) set the marker.
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(r#"[data-hydrated="true"]"#))
        .await
        .expect("the page hydrates (WASM loaded and ran)");
    let score: u32 = text(&c, r#"[data-testid="score-value"]"#)
        .await
        .parse()
        .expect("score is a number");
    assert!(score <= 100);

    // Live: a new collection round arrives through the stream without a reload.
    c.execute("window.__stewardNoReload = true;", vec![])
        .await
        .unwrap();
    let first = attr(&c, r#"[data-testid="updated"]"#, "data-collected-at").await;
    eventually(
        "a live update replaces the vitals",
        Duration::from_secs(15),
        || async { attr(&c, r#"[data-testid="updated"]"#, "data-collected-at").await != first },
    )
    .await;
    let still = c
        .execute("return window.__stewardNoReload === true;", vec![])
        .await
        .unwrap();
    assert_eq!(
        still,
        serde_json::Value::Bool(true),
        "the page was not reloaded"
    );
    assert_eq!(text(&c, r#"[data-testid="link"]"#).await, "live");

    // Drill-down: the dimension's bands and the last hour as a sparkline.
    c.find(Locator::Css(r#"button[data-dimension="memory_pressure"]"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css(
            r#"[data-testid="drilldown"] .bands li.current"#,
        ))
        .await
        .expect("drill-down shows the current band");
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(".drilldown .sparkline path"))
        .await
        .expect("drill-down draws the last hour");

    // Fits a 390 px phone: nothing wider than the viewport.
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "page is wider than 390 px by {overflow}"
    );
    let shots = workspace().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(
        shots.join("overview-390.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // The stream drops: the page says so, and reconnects when the server is back.
    drop(steward);
    eventually(
        "the page reports the lost stream",
        Duration::from_secs(15),
        || async {
            text(&c, r#"[data-testid="link"]"#)
                .await
                .contains("reconnecting")
        },
    )
    .await;
    let (_steward, _) = start_steward(tmp.path(), &addr.to_string(), VISITOR);
    eventually("the page reconnects", Duration::from_secs(20), || async {
        text(&c, r#"[data-testid="link"]"#).await == "live"
    })
    .await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn containers_panel_filters_and_bulk_restarts_through_the_modal() {
    let Some(engine) = Engine::start() else {
        return;
    };
    engine.run("web-a", &["--label", "com.docker.compose.project=shop"]);
    engine.run("web-b", &["--label", "com.docker.compose.project=shop"]);
    engine.run("db", &["--memory", "64m"]);
    // The watchdog is off here, so the modal (not the watchdog) does the restarting.
    let config = format!(
        "[docker]\nhost = \"{}\"\ninterval_secs = 1\nstop_timeout_secs = 5\n[watchdog]\nenabled = false\n",
        engine.host()
    );
    let tmp = tempfile::tempdir().unwrap();
    let (_steward, addr) = start_steward(tmp.path(), "127.0.0.1:0", &config);
    let (_driver, port) = start_chromedriver();
    let c = browser(port, &tmp.path().join("profile")).await;
    c.set_window_size(390, 844).await.unwrap();

    // Not signed in: the panel sends us to the sign-in form, which brings us back.
    c.goto(&format!("http://{addr}/containers")).await.unwrap();
    let form = c
        .form(Locator::Css(".auth-form form"))
        .await
        .expect("sign-in form");
    form.set_by_name("username", "admin")
        .await
        .unwrap()
        .set_by_name("password", ADMIN_PASSWORD)
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(r#".containers[data-hydrated="true"]"#))
        .await
        .expect("the container panel hydrates after sign-in");
    assert!(text(&c, r#"[data-testid="user"]"#).await.contains("admin"));

    engine.make_unhealthy("web-a");
    engine.make_unhealthy("web-b");
    eventually(
        "two containers turn unhealthy on the page",
        Duration::from_secs(30),
        || async { text(&c, r#"[data-filter="unhealthy"]"#).await == "Unhealthy (2)" },
    )
    .await;

    // Filters: unhealthy, by stack, and search; timed from click to the next frame.
    let ms = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               const t0 = performance.now();
               document.querySelector('[data-filter="unhealthy"]').click();
               requestAnimationFrame(() => done(performance.now() - t0));"#,
            vec![],
        )
        .await
        .unwrap();
    println!(
        "filter response (3 containers): {:.2} ms",
        ms.as_f64().unwrap()
    );
    let rows = c.find_all(Locator::Css("[data-container]")).await.unwrap();
    let mut names = Vec::new();
    for r in rows {
        names.push(r.attr("data-container").await.unwrap().unwrap());
    }
    assert_eq!(names, ["web-a", "web-b"]);
    c.find(Locator::Css(r#"[data-filter="all"]"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let search = c
        .find(Locator::Css(r#"[data-testid="search"]"#))
        .await
        .unwrap();
    search.send_keys("db").await.unwrap();
    eventually("search keeps only db", Duration::from_secs(5), || async {
        c.find_all(Locator::Css("[data-container]"))
            .await
            .unwrap()
            .len()
            == 1
    })
    .await;
    search.clear().await.unwrap();
    c.execute(
        "const s = document.querySelector('[data-testid=search]'); s.value = ''; s.dispatchEvent(new Event('input'));",
        vec![],
    )
    .await
    .unwrap();

    // The modal lists exactly the unhealthy containers, fixed when it opened.
    c.find(Locator::Css(r#"[data-testid="bulk-restart"]"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(r#"[data-testid="bulk-list"]"#))
        .await
        .expect("the confirmation lists the containers");
    let listed = text(&c, r#"[data-testid="bulk-list"]"#).await;
    assert_eq!(listed.lines().collect::<Vec<_>>(), ["web-a", "web-b"]);
    // db turns unhealthy while the modal is open: the confirmation must not include it.
    let db_started = engine.started_at("db");
    let (a_started, b_started) = (engine.started_at("web-a"), engine.started_at("web-b"));
    engine.make_unhealthy("db");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let shots = workspace().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(
        shots.join("bulk-modal-390.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    c.find(Locator::Css(r#"[data-testid="bulk-confirm"]"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css(r#"[data-testid="bulk-done"]"#))
        .await
        .expect("progress streams to the end");
    assert_eq!(
        text(&c, r#"[data-testid="bulk-done"]"#).await,
        "2 restarted, 0 failed"
    );
    for name in ["web-a", "web-b"] {
        let phase = attr(&c, &format!(r#"[data-target="{name}"]"#), "data-phase").await;
        assert_eq!(phase, "ok", "{name}");
    }
    assert_ne!(engine.started_at("web-a"), a_started);
    assert_ne!(engine.started_at("web-b"), b_started);
    assert_eq!(
        engine.started_at("db"),
        db_started,
        "db was not in the confirmed list"
    );
    std::fs::write(
        shots.join("bulk-done-390.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // Fits a phone.
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "panel is wider than 390 px by {overflow}"
    );
    c.close().await.unwrap();
}
