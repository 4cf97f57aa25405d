//! `steward check` and config errors, run as the real binary against the fixture procfs tree.

use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn steward() -> Command {
    steward_reading(&fixtures().join("procfs"))
}

fn steward_reading(procfs: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_steward"));
    // Keep a developer's ./steward.toml or environment out of the test.
    c.current_dir(std::env::temp_dir())
        .env_remove("STEWARD_CONFIG")
        .arg("--path.procfs")
        .arg(procfs)
        .arg("--path.sysfs")
        .arg(fixtures().join("sysfs"))
        .arg("--path.rootfs")
        .arg(std::env::temp_dir())
        .args(["--collect-interval", "1"]);
    c
}

#[test]
fn check_prints_a_table_and_exits_with_the_worst_level() {
    let out = steward().arg("check").output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    // Warnings (swap in use, load per core, rclone ×3, …) and unknowns, nothing critical.
    assert_eq!(out.status.code(), Some(1), "{table}");
    assert!(
        table.starts_with("host fixture-host (2 cores)\nMETRIC"),
        "{table}"
    );
    let rclone = table
        .lines()
        .find(|l| l.starts_with("process_count[rclone]"))
        .unwrap();
    assert!(
        rclone.contains(" 3 ") && rclone.contains("> 2") && rclone.ends_with("WARN"),
        "{rclone}"
    );
    assert!(
        table.contains("problem: "),
        "unknown readings are explained: {table}"
    );
    assert!(table.trim_end().ends_with("overall: WARN"), "{table}");
}

#[test]
fn check_json_is_machine_readable() {
    let out = steward().args(["check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "warn");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["vitals"]["host"], "fixture-host");
}

#[test]
fn unreadable_host_exits_2_with_the_reason() {
    let out = steward_reading(std::path::Path::new("/nonexistent-steward-proc"))
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent-steward-proc/stat"), "{err}");
}

#[test]
fn bad_config_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("steward.toml");
    std::fs::write(
        &file,
        "[thresholds]\ndisk_used_pct = { warn = 99, crit = 90 }\n",
    )
    .unwrap();
    let out = steward()
        .arg("--config")
        .arg(&file)
        .arg("check")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("disk_used_pct: warn (99) is above crit (90)"),
        "{err}"
    );

    let out = steward()
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .arg("check")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file"));
}

/// Runs `steward serve` on a free port with `data` as its data folder; returns the child and
/// its address (read from the first line it prints).
fn serve(data: &std::path::Path, config: &str) -> (ChildGuard, String) {
    use std::io::BufRead;
    std::fs::write(data.join("steward.toml"), config).unwrap();
    std::fs::write(data.join("admin.pw"), "cli-test-admin-password\n").unwrap();
    let mut child = steward()
        .arg("--config")
        .arg(data.join("steward.toml"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--admin-password-file")
        .arg(data.join("admin.pw"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("steward listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (ChildGuard(child), addr)
}

struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn memory_stays_bounded_under_300_parallel_sign_ins() {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = serve(dir.path(), "[docker]\nenabled = false\n");
    let pid = server.0.id();
    // The soft open-file limit was raised to the hard one at start.
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .skip(3)
        .take(2)
        .collect();
    assert_eq!(
        files[0], files[1],
        "soft limit raised to the hard one: {limits}"
    );
    let target: std::net::SocketAddr = addr.parse().unwrap();
    let start_mb = status_kb(pid, "VmHWM") / 1024;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // 300 addresses (127.0.1.1 …), so the per-address limit does not stop them before the
    // password check: only the bounded verification pool keeps memory down. Each argon2id
    // check holds ~19 MB; unbounded, 300 at once took 5.8 GB.
    let statuses: Vec<u16> = runtime.block_on(async {
        let attempts = (0..300u32).map(|i| async move {
            let source = std::net::SocketAddr::from(([127, 0, 1 + (i / 250) as u8, 1 + (i % 250) as u8], 0));
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(source).unwrap();
            let mut stream = socket.connect(target).await.unwrap();
            let body = format!(r#"{{"username":"user{i}","password":"not-the-password-1"}}"#);
            let request = format!(
                "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer).await;
            answer
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        });
        futures::future::join_all(attempts).await
    });
    let peak_mb = status_kb(pid, "VmHWM") / 1024;
    let checked = statuses.iter().filter(|&&s| s == 401).count();
    println!(
        "peak RSS under 300 parallel sign-ins: {peak_mb} MB (started at {start_mb} MB); {checked} checked, {} told to retry",
        statuses.len() - checked
    );
    assert!(
        statuses.iter().all(|s| [401, 503].contains(s)),
        "wrong passwords get 401, or 503 when the pool is busy: {statuses:?}"
    );
    assert!(peak_mb < 200, "peak RSS {peak_mb} MB");
}

#[test]
fn backup_writes_a_consistent_copy_while_steward_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = serve(
        dir.path(),
        "[docker]\nenabled = false\n[history]\nflush_interval_secs = 1\n",
    );
    // Let it write some history first.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::metadata(dir.path().join("steward.db-wal")).map_or(0, |m| m.len()) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no history written at {addr}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let copy = dir.path().join("copy.db");
    let out = steward()
        .args(["backup"])
        .arg(&copy)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The copy is a database on its own: it has the admin, and Steward can start on it.
    let restored = dir.path().join("restored");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(&copy, restored.join("steward.db")).unwrap();
    drop(server);
    let (_again, addr) = serve(&restored, "[docker]\nenabled = false\n");
    // The admin came along: signing in works on the restored copy.
    let body = r#"{"username":"admin","password":"cli-test-admin-password"}"#;
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    use std::io::{Read, Write};
    write!(
        stream,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let out = steward()
        .args(["backup"])
        .arg(&copy)
        .arg("--data-dir")
        .arg(&restored)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "an existing file is never overwritten"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
}

/// First run (issue 12): a missing site is said loudly, logs carry no colour codes when not on
/// a terminal, the setup link is printed once, and the password-file admin is audited.
#[test]
fn first_run_says_what_is_missing_once_in_plain_text() {
    use std::io::{BufRead, Read};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let config = data.join("steward.toml");
    std::fs::write(&config, "[docker]\nenabled = false\n").unwrap();
    let start = |extra: &[&str], lines_to_read: usize| {
        let mut child = steward()
            .arg("--config")
            .arg(&config)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .arg("--site-root")
            .arg(data.join("no-site"))
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        for _ in 0..lines_to_read {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            lines.push(line);
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        let _ = child.kill();
        let _ = child.wait();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (lines, err)
    };
    let (out, err) = start(&[], 2);
    assert!(out[0].starts_with("steward listening on"), "{out:?}");
    assert!(out[1].contains("/setup?token="), "{out:?}");
    assert!(
        !err.contains("/setup?token="),
        "the link is printed once: {err}"
    );
    assert!(
        err.contains("no built site in") && err.contains("ERROR"),
        "a missing site is said loudly: {err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "no colour codes in a pipe: {err:?}"
    );

    // The password-file admin is created, and audited.
    let password = data.join("admin.pw");
    std::fs::write(&password, "first-run-password-1\n").unwrap();
    let (out, err) = start(&["--admin-password-file", password.to_str().unwrap()], 1);
    assert!(out[0].starts_with("steward listening on"), "{out:?}");
    assert!(err.contains("created the user admin"), "{err}");
    let rows: Vec<(String, String, String, String, Option<String>)> =
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let store = server::store::history::HistoryStore::open(&data.join("steward.db"))
                .await
                .unwrap();
            let rows =
                sqlx::query_as("SELECT actor, action, target, result, detail FROM audit_log")
                    .fetch_all(store.pool())
                    .await
                    .unwrap();
            store.close().await;
            rows
        });
    let rows = format!("{rows:?}");
    assert!(
        rows.contains(
            r#"("steward", "setup", "admin", "ok", Some("first admin created from --admin-password-file"))"#
        ),
        "{rows}"
    );
}

/// `steward rules export` writes rules that Debian's `promtool check rules` accepts, with the
/// config's per-rule changes in them.
#[test]
fn exported_rules_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    std::fs::write(
        &config,
        "[alerts]\nfor_secs = 120\n[alerts.rules.cpu_steal_pct]\nfor_secs = 300\nwarn = 7.5\n[alerts.rules.image_stale]\nenabled = false\n",
    )
    .unwrap();
    let out = steward()
        .arg("--config")
        .arg(&config)
        .args(["rules", "export"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(
        yaml.contains("steward_cpu_steal_percent > 7.5 <= 15\"\n        for: 300s"),
        "{yaml}"
    );
    assert!(yaml.contains("alert: container_unhealthy\n"));
    assert!(yaml.contains("for: 120s"));
    assert!(!yaml.contains("image_stale"));
    let file = dir.path().join("steward-rules.yml");
    std::fs::write(&file, &yaml).unwrap();
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let check = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{promtool} not found ({e}); `make test` installs it"));
    let said = String::from_utf8_lossy(&check.stdout).into_owned()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "promtool: {said}\n{yaml}");
    let rules = yaml.matches("- alert:").count();
    assert!(
        said.contains(&format!("SUCCESS: {rules} rules found")),
        "{said}"
    );

    // `rules list` names every rule, one per line; an override of a rule that does not exist
    // is refused with the list.
    let out = steward().args(["rules", "list"]).output().unwrap();
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(
        list.lines().any(|l| l.starts_with("cpu_steal_pct ")),
        "{list}"
    );
    assert!(list.lines().any(|l| l.starts_with("container_unhealthy ")));
    std::fs::write(&config, "[alerts.rules.cpu_stel_pct]\nfor_secs = 1\n").unwrap();
    let out = steward()
        .arg("--config")
        .arg(&config)
        .args(["rules", "export"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no rule is named \"cpu_stel_pct\""), "{err}");
}

/// `steward dashboards export` prints Grafana JSON on the families Steward writes. (The API
/// suite runs every panel's query against a real Prometheus the hub remote-wrote to.)
#[test]
fn the_fleet_dashboard_exports_as_grafana_json() {
    let out = steward().args(["dashboards", "export"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(d["uid"], "steward-fleet");
    let panels = d["panels"].as_array().unwrap();
    assert!(panels.len() >= 10, "{d}");
    let exprs = server::fleet::dashboard::expressions(&d);
    assert!(exprs
        .iter()
        .any(|e| e.contains(r#"steward_disk_used_percent{host=~"$host",group=~"$group"}"#)));
}
