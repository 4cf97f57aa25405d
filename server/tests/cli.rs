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
