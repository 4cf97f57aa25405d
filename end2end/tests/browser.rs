//! Browser tests: Debian's headless Chromium, driven over WebDriver (chromedriver + fantoccini),
//! against the release build of `steward serve` watching this machine's real /proc.
//!
//! Needs `cargo leptos build --release` first (`make test` does it); the binary and site are taken
//! from STEWARD_BIN and STEWARD_SITE_ROOT, or from `target/`.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

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

/// A child process that is killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `steward serve` on `listen` and returns it with its bound address.
fn start_steward(data: &Path, listen: &str) -> (Proc, SocketAddr) {
    let config = data.join("steward.toml");
    std::fs::write(&config, "[history]\nflush_interval_secs = 1\n").unwrap();
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
    let (steward, addr) = start_steward(tmp.path(), "127.0.0.1:0");
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
    let (_steward, _) = start_steward(tmp.path(), &addr.to_string());
    eventually("the page reconnects", Duration::from_secs(20), || async {
        text(&c, r#"[data-testid="link"]"#).await == "live"
    })
    .await;
    c.close().await.unwrap();
}
