//! The container image (`make image`): built by scripts/image.sh on the private engine from the
//! release binary and site, run as compose.yaml runs it (host /proc, /sys and / read-only,
//! `pid: host`, host network, the engine's socket, a read-only root and no capabilities), it
//! reads this host's vitals and the engine's containers.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use steward_tests::docker_engine::Engine;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test]
async fn the_image_runs_with_host_mounts_and_reads_the_host_and_its_containers() {
    let Some(engine) = Engine::start() else {
        return;
    };
    let bin = std::env::var("STEWARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("target/release/steward"));
    let site = std::env::var("STEWARD_SITE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("target/site"));
    assert!(
        bin.exists() && site.join("pkg/steward.wasm").exists(),
        "the image test needs the release build ({} and {}); make test builds them",
        bin.display(),
        site.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let built = std::process::Command::new(workspace().join("scripts/image.sh"))
        .arg("steward-test:image")
        .env("DOCKER_HOST", engine.host())
        .env("STEWARD_BIN", &bin)
        .env("STEWARD_SITE_ROOT", &site)
        .env("IMAGE_CONTEXT", tmp.path().join("ctx"))
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "make image: {}",
        String::from_utf8_lossy(&built.stderr)
    );

    engine.run("probe", &[]);
    let config = tmp.path().join("steward.toml");
    std::fs::write(&config, "[auth]\nanonymous_read = true\n").unwrap();
    let port = steward_tests::free_port();
    let socket = engine.socket.display().to_string();
    let mounts = |root: &str| {
        vec![
            "-v".to_string(),
            "/proc:/host/proc:ro".to_string(),
            "-v".into(),
            "/sys:/host/sys:ro".into(),
            "-v".into(),
            format!("/:/host/root:{root}"),
            "-v".into(),
            format!("{socket}:/var/run/docker.sock"),
            "-v".into(),
            format!("{}:/etc/steward.toml:ro", config.display()),
        ]
    };
    let run = |name: &str, root: &str| {
        let mut args: Vec<String> = [
            "--network",
            "host",
            "--pid",
            "host",
            "--read-only",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges:true",
            "--tmpfs",
            "/tmp",
            "-e",
            "STEWARD_PATH_PROCFS=/host/proc",
            "-e",
            "STEWARD_PATH_SYSFS=/host/sys",
            "-e",
            "STEWARD_PATH_ROOTFS=/host/root",
            "-e",
            "STEWARD_DOCKER_HOST=unix:///var/run/docker.sock",
            "-e",
            "STEWARD_CONFIG=/etc/steward.toml",
        ]
        .map(String::from)
        .to_vec();
        args.extend(mounts(root));
        args.extend(
            ["steward-test:image", "serve", "--listen"]
                .map(String::from)
                .into_iter()
                .chain([format!("127.0.0.1:{port}")]),
        );
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = engine.cli(&[&["run", "-d", "--name", name][..], &refs].concat());
        engine.adopt(name);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // compose.yaml mounts / with rslave, so later host mounts show up; a machine whose / is a
    // private mount refuses that, and a plain read-only bind is what it can do.
    let (ok, err) = run("steward-image", "ro,rslave");
    if !ok {
        eprintln!(
            "rslave bind refused here ({}); using a plain read-only bind",
            err.trim()
        );
        engine.cli(&["rm", "-f", "steward-image"]);
        let (ok, err) = run("steward-image", "ro");
        assert!(ok, "docker run: {err}");
    }

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (vitals, containers) = loop {
        let v = client.get(format!("{base}/api/v1/vitals")).send().await;
        let c = client.get(format!("{base}/api/v1/containers")).send().await;
        if let (Ok(v), Ok(c)) = (v, c) {
            let v: serde_json::Value = v.json().await.unwrap_or_default();
            let c: serde_json::Value = c.json().await.unwrap_or_default();
            let has_probe = c["items"]
                .as_array()
                .is_some_and(|i| i.iter().any(|c| c["name"] == "probe"));
            if !v["vitals"].is_null() && has_probe {
                break (v, c);
            }
        }
        let logs = engine.cli(&["logs", "steward-image"]);
        assert!(
            Instant::now() < deadline,
            "the image did not serve the host's vitals and containers: {}{}",
            String::from_utf8_lossy(&logs.stdout),
            String::from_utf8_lossy(&logs.stderr)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // The host's name and its root filesystem, read through the mounts.
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(vitals["vitals"]["host"], hostname.trim());
    let metrics = vitals["vitals"]["metrics"].as_array().unwrap();
    let root_disk = metrics
        .iter()
        .find(|m| m["name"] == "disk_used_pct" && m["label"] == "/")
        .unwrap_or_else(|| panic!("no root filesystem in {metrics:#?}"));
    assert!(root_disk["value"].as_f64().is_some(), "{root_disk}");
    assert_eq!(containers["status"]["state"], "ok", "{containers}");
}
