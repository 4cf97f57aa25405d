//! Models benchmarks (issue 13). Run with `scripts/bench.sh models` or
//! `cargo bench -p steward-tests --bench models -- [ssr|rss]`.
//!
//! - `ssr`: the overview and `/models` under `wrk` (50 connections, 10 s each), side by side in
//!   one run: a Steward with no model backends and one with 10 — 4 Ollama and 3 vLLM stand-ins
//!   that answer, and 3 that accept every connection and never answer (the stand-ins of
//!   `steward_tests::model_servers`; real Ollama and vLLM cannot run here).
//! - `rss`: `steward serve` (the release binary) idle with the same 10 backends, resident
//!   memory after 30 s, beside one with none.

#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

use steward_tests::model_servers::{self, Mode, StandIn};

/// Ten backends: 4 Ollama, 3 vLLM, 3 hung (Ollama stand-ins that never answer).
async fn stand_ins() -> Vec<(String, &'static str, StandIn)> {
    let mut out = Vec::new();
    for i in 0..4 {
        out.push((
            format!("ollama-{i}"),
            "ollama",
            model_servers::ollama().await,
        ));
    }
    for i in 0..3 {
        out.push((format!("vllm-{i}"), "vllm", model_servers::vllm().await));
    }
    for i in 0..3 {
        let s = model_servers::ollama().await;
        s.set_mode(Mode::Hang);
        out.push((format!("hung-{i}"), "ollama", s));
    }
    out
}

fn backends(list: &[(String, &'static str, StandIn)]) -> Vec<server::config::ModelBackendConfig> {
    list.iter()
        .map(|(name, kind, s)| server::config::ModelBackendConfig {
            name: name.clone(),
            kind: serde_json::from_value(serde_json::json!(kind)).unwrap(),
            url: s.url.clone(),
            token_file: None,
            timeout_secs: 2,
        })
        .collect()
}

async fn wrk(url: &str) -> String {
    let out = tokio::process::Command::new("wrk")
        .args(["-t2", "-c50", "-d10s", "--latency", url])
        .output()
        .await
        .expect("wrk is installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let pick = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map(|l| l.split_whitespace().last().unwrap_or("").to_string())
            .unwrap_or_else(|| "?".into())
    };
    format!(
        "p50 {:>8}  p90 {:>8}  p99 {:>8}  {:>9} req/s",
        pick("50%"),
        pick("90%"),
        pick("99%"),
        pick("Requests/sec")
    )
}

async fn start(
    edit: impl FnOnce(&mut server::config::Config),
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tempfile::TempDir,
) {
    let (app, dir) = common::bench_app(edit).await;
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = stopped.await;
            })
            .await;
    });
    (addr, stop, dir)
}

async fn ssr() {
    let list = stand_ins().await;
    let configured = backends(&list);
    let (none, stop_none, _d1) = start(|c| c.models.interval_secs = 5).await;
    let (ten, stop_ten, _d2) = start(move |c| {
        c.models.interval_secs = 5;
        c.models.backends = configured;
    })
    .await;
    // Wait until the hung ones have timed out once: the page then shows them down.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m: serde_json::Value = reqwest::get(format!("http://{ten}/api/v1/models"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let states: Vec<&str> = m["backends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["state"].as_str().unwrap())
            .collect();
        if states.iter().filter(|s| **s == "down").count() == 3
            && states.iter().filter(|s| **s == "ok").count() == 7
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "backends never settled: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let page = reqwest::get(format!("http://{ten}/models"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("hung-2") && page.contains("no answer within 2 s"));
    println!(
        "SSR under wrk, 50 connections, 10 s each ({} cores):",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for path in ["/", "/models"] {
        println!(
            "{path:<8} no backends      {}",
            wrk(&format!("http://{none}{path}")).await
        );
        println!(
            "{path:<8} 10 (3 hung)      {}",
            wrk(&format!("http://{ten}{path}")).await
        );
    }
    let _ = stop_none.send(());
    let _ = stop_ten.send(());
}

async fn rss() {
    let bin = std::env::var("STEWARD_BIN")
        .unwrap_or_else(|_| format!("{}/../target/release/steward", env!("CARGO_MANIFEST_DIR")));
    let list = stand_ins().await;
    let mut toml = String::from(
        "[auth]\nanonymous_read = true\n[docker]\nenabled = false\n[models]\ninterval_secs = 10\n",
    );
    for (name, kind, s) in &list {
        toml.push_str(&format!(
            "[[models.backends]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl = \"{}\"\ntimeout_secs = 2\n",
            s.url
        ));
    }
    let mut results = Vec::new();
    for (label, config) in [
        (
            "no backends",
            "[auth]\nanonymous_read = true\n[docker]\nenabled = false\n".to_string(),
        ),
        ("10 backends (3 hung)", toml),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("steward.toml"), config).unwrap();
        std::fs::write(dir.path().join("pw"), "bench-password-123\n").unwrap();
        let port = steward_tests::free_port();
        let mut child = tokio::process::Command::new(&bin)
            .arg("--config")
            .arg(dir.path().join("steward.toml"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir.path().join("data"))
            .arg("--admin-password-file")
            .arg(dir.path().join("pw"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the release binary (make build, or STEWARD_BIN)");
        tokio::time::sleep(Duration::from_secs(30)).await;
        let pid = child.id().unwrap();
        results.push((label, steward_tests::rss_kb(pid)));
        let _ = child.kill().await;
    }
    for (label, kb) in results {
        println!(
            "steward serve idle 30 s, {label:<22} RSS {:.1} MB",
            kb as f64 / 1024.0
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = args.is_empty();
    if all || args.iter().any(|a| a == "ssr") {
        ssr().await;
    }
    if all || args.iter().any(|a| a == "rss") {
        rss().await;
    }
}
