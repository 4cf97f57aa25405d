//! `spawn_app()` and fixture helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use server::config::Config;
use server::Application;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The password of the `admin` user every test app starts with.
pub const ADMIN_PASSWORD: &str = "admin-password-123";

/// A signed-in session: the cookie to send and the CSRF token for actions.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// A running server and the temp folders it reads and writes.
pub struct TestApp {
    pub base: String,
    pub db: PathBuf,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    /// The running server's hub, to publish state no collector here produces.
    pub hub: std::sync::Arc<server::hub::Hub>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub fn procfs(&self) -> PathBuf {
        self.dir.path().join("procfs")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub async fn json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path).await;
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// Polls `path` until `ok` accepts its JSON, or fails after `timeout` with the last body.
    pub async fn wait_json(
        &self,
        path: &str,
        timeout: Duration,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        self.wait_json_with(path, None, timeout, ok).await
    }

    /// [`TestApp::wait_json`] with a session's cookie.
    pub async fn wait_json_as(
        &self,
        path: &str,
        session: &Session,
        timeout: Duration,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        self.wait_json_with(path, Some(session), timeout, ok).await
    }

    async fn wait_json_with(
        &self,
        path: &str,
        session: Option<&Session>,
        timeout: Duration,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let r = match session {
                Some(s) => self.get_as(path, s).await,
                None => self.get(path).await,
            };
            assert!(r.status().is_success(), "GET {path}: {}", r.status());
            let v: serde_json::Value = r.json().await.unwrap();
            if ok(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting on {path}; last: {v:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs in with JSON; panics unless it succeeds.
    pub async fn login(&self, username: &str, password: &str) -> Session {
        let r = self
            .client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login as {username}");
        let cookie = r
            .headers()
            .get("set-cookie")
            .expect("session cookie")
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let body: serde_json::Value = r.json().await.unwrap();
        Session {
            cookie,
            csrf: body["csrf"].as_str().unwrap().to_string(),
        }
    }

    pub async fn admin(&self) -> Session {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates (or updates) a user directly in the database, as `steward user` does.
    pub async fn add_user(&self, name: &str, role: app::auth::Role, password: &str) {
        let store = server::store::history::HistoryStore::open(&self.db)
            .await
            .unwrap();
        let users = server::store::users::SqliteUsers(store.pool().clone());
        server::auth::upsert_user(&users, name, role, password)
            .await
            .unwrap();
    }

    /// Issues an agent token for `host` directly in the database.
    pub async fn agent_token(&self, host: &str) -> String {
        let store = server::store::history::HistoryStore::open(&self.db)
            .await
            .unwrap();
        let fleet = server::fleet::store::FleetStore::new(store.pool().clone());
        match fleet.add(host, None).await {
            Ok(token) => token,
            // A second token for the same host replaces the first at once.
            Err(server::fleet::store::FleetError::Exists(_)) => {
                fleet.rotate(host, 0).await.unwrap()
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// The audit log as `session` reads it, newest first.
    pub async fn audit_log(&self, session: &Session) -> Vec<serde_json::Value> {
        let r = self.get_as("/api/v1/audit", session).await;
        assert_eq!(r.status(), 200);
        r.json::<Vec<serde_json::Value>>().await.unwrap()
    }

    /// A request with the session's cookie (if any) and the given CSRF header (if any).
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        session: Option<&Session>,
        csrf: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut r = self.client.request(method, format!("{}{path}", self.base));
        if let Some(s) = session {
            r = r.header("cookie", &s.cookie);
        }
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r
    }

    /// A GET with the session's cookie (reads need no CSRF token).
    pub async fn get_as(&self, path: &str, session: &Session) -> reqwest::Response {
        self.request(reqwest::Method::GET, path, Some(session), None)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// A POST as an admin with the right CSRF token.
    pub async fn act(
        &self,
        session: &Session,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut r = self.request(
            reqwest::Method::POST,
            path,
            Some(session),
            Some(&session.csrf),
        );
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap()
    }

    /// Stops the server gracefully (flushing history) and waits for it.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(20), server)
                .await
                .expect("server stops within 20 s")
                .unwrap();
        }
        self.dir
    }
}

/// A server started with no users, as on a first install: it holds a one-time setup token.
pub struct FirstStart {
    pub base: String,
    pub token: String,
    pub db: PathBuf,
    _dir: tempfile::TempDir,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), server::StartError>>,
}

impl FirstStart {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            ..Default::default()
        };
        config.docker.enabled = false;
        config.paths.procfs = dir.path().join("no-proc");
        let db = config.database_path();
        let app = Application::build(config, None).await.unwrap();
        let token = app
            .setup_link()
            .expect("a setup link")
            .split("token=")
            .nth(1)
            .unwrap()
            .to_string();
        let base = format!("http://{}", app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        FirstStart {
            base,
            token,
            db,
            _dir: dir,
            stop,
            server,
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(20), self.server)
            .await
            .expect("server stops within 20 s")
            .unwrap()
            .unwrap();
    }
}

/// Starts Steward on port 0 against a copy of the fixture procfs, with a 1 s interval.
pub async fn spawn_app(edit: impl FnOnce(&mut Config, &Path)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let procfs = dir.path().join("procfs");
    copy_tree(&fixtures().join("procfs"), &procfs);
    let rootfs = dir.path().join("rootfs");
    for mount in ["boot", "mnt/data disk"] {
        std::fs::create_dir_all(rootfs.join(mount)).unwrap();
    }
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    config.paths.procfs = procfs;
    config.paths.sysfs = fixtures().join("sysfs");
    config.paths.rootfs = rootfs;
    config.collector.interval_secs = 1;
    config.history.flush_interval_secs = 1;
    // Counted refusals reach the audit log within a second, so tests can read them.
    config.audit.refusal_flush_secs = 1;
    // Most tests read as a visitor and have no Docker; the auth and Docker tests turn these back.
    config.auth.anonymous_read = true;
    config.docker.enabled = false;
    edit(&mut config, dir.path());
    config.validate().unwrap();
    let password_file = dir.path().join("admin.pw");
    std::fs::write(&password_file, format!("{ADMIN_PASSWORD}\n")).unwrap();
    let db = config.database_path();
    let app = Application::build(config, Some(&password_file))
        .await
        .expect("server builds");
    let base = format!("http://{}", app.local_addr());
    let hub = app.hub();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until(async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        base,
        db,
        dir,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        hub,
        stop: Some(stop),
        server: Some(server),
    }
}

/// Advances the fixture's CPU counters every 200 ms by fixed amounts, so that between any two
/// collector reads steal is exactly 10 %, iowait 10 % and busy 20 % (until
/// [`CpuTicker::set_steal_pct`] moves steal, taking from idle). Stops when dropped.
pub struct CpuTicker {
    stop: Arc<AtomicBool>,
    /// Steal ticks per 500-tick step.
    steal: Arc<std::sync::atomic::AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CpuTicker {
    pub fn start(procfs: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let steal = Arc::new(std::sync::atomic::AtomicU64::new(50));
        let (flag, steal_now) = (stop.clone(), steal.clone());
        let thread = std::thread::spawn(move || {
            // Cumulative counters: user, idle, iowait, steal (the others stay put).
            let (mut user, mut idle, mut iowait, mut stolen) =
                (10_000u64, 80_000u64, 1_000u64, 600u64);
            while !flag.load(Ordering::Relaxed) {
                // 500 ticks a step: user 100, iowait 50, steal as set, idle the rest.
                let st = steal_now.load(Ordering::Relaxed).min(350);
                user += 100;
                iowait += 50;
                stolen += st;
                idle += 350 - st;
                // user, nice, system, idle, iowait, irq, softirq, steal.
                let line = format!("cpu  {user} 200 3000 {idle} {iowait} 100 100 {stolen} 0 0\n");
                let text = format!("{line}cpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\n");
                // Rename is atomic: the collector never reads a half-written file.
                let tmp = procfs.join(".stat.tmp");
                std::fs::write(&tmp, text).unwrap();
                std::fs::rename(&tmp, procfs.join("stat")).unwrap();
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Self {
            stop,
            steal,
            thread: Some(thread),
        }
    }

    /// Sets steal to `pct` % of CPU time from the next step on (0–70, in steps of 0.2).
    pub fn set_steal_pct(&self, pct: f64) {
        self.steal
            .store((pct * 5.0).round() as u64, Ordering::Relaxed);
    }
}

impl Drop for CpuTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The value of a metric in a `/api/v1/vitals` body.
pub fn metric<'a>(
    body: &'a serde_json::Value,
    name: &str,
    label: Option<&str>,
) -> &'a serde_json::Value {
    body["vitals"]["metrics"]
        .as_array()
        .expect("metrics array")
        .iter()
        .find(|m| m["name"] == name && m["label"].as_str() == label)
        .unwrap_or_else(|| panic!("metric {name} {label:?} missing in {body:#}"))
}

/// A collector's status in a `/api/v1/vitals` body.
pub fn collector<'a>(body: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    body["collectors"]
        .as_array()
        .expect("collectors array")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("collector {name} missing in {body:#}"))
}

/// The JSON data of each Server-Sent Event in a stream's text so far.
pub fn sse_data(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str(d.trim()).unwrap())
        .collect()
}
