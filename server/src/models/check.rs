//! One check of one backend: the calls its kind answers, made concurrently, each under the
//! backend's timeout. The first call says whether the backend is up at all (its failure is the
//! check's error); the others only make the check degraded, named in `problems`.

use std::time::Duration;

use app::models::{Architecture, BackendKind, Control, DiskModel, LoadedModel};

use crate::models::parse::{self, Exposition};

/// The largest body read from a backend (a `/v1/models` of thousands of models fits).
const MAX_BODY: usize = 8 << 20;

/// A backend's HTTP client: base URL, bearer token, timeout.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
    pub timeout: Duration,
}

/// Why a call failed, in words for the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("{0}: no answer within {1} s")]
    Timeout(String, u64),
    #[error("{0}: HTTP {1}{2}")]
    Status(String, u16, String),
    #[error("{0}: {1}")]
    Connect(String, String),
    #[error("{0}: answer larger than {MAX_BODY} bytes")]
    TooLarge(String),
}

impl Client {
    pub async fn get(&self, path: &str) -> Result<Vec<u8>, CallError> {
        self.call(reqwest::Method::GET, path, None, self.timeout)
            .await
    }

    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<Vec<u8>, CallError> {
        self.call(reqwest::Method::POST, path, Some(body), timeout)
            .await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<Vec<u8>, CallError> {
        let what = format!("{method} {path}");
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let mut req = self.http.request(method, url).timeout(timeout);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let fail = |e: reqwest::Error| {
            if e.is_timeout() {
                CallError::Timeout(what.clone(), timeout.as_secs())
            } else {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg = s.to_string();
                    src = s.source();
                }
                CallError::Connect(what.clone(), msg)
            }
        };
        let work = async {
            let mut resp = req.send().await.map_err(fail)?;
            let status = resp.status();
            let mut out = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(fail)? {
                out.extend_from_slice(&chunk);
                if out.len() > MAX_BODY {
                    return Err(CallError::TooLarge(what.clone()));
                }
            }
            if !status.is_success() {
                return Err(CallError::Status(
                    what.clone(),
                    status.as_u16(),
                    reason(&out),
                ));
            }
            Ok(out)
        };
        // reqwest's timeout covers the body too; this is the belt to its braces.
        tokio::time::timeout(timeout + Duration::from_millis(250), work)
            .await
            .unwrap_or_else(|_| Err(CallError::Timeout(what.clone(), timeout.as_secs())))
    }
}

/// The server's own words for an error status: Ollama's and vLLM's `{"error": …}` (vLLM may
/// nest a `message`), clipped, after ": ".
fn reason(body: &[u8]) -> String {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let text = v.as_ref().and_then(|v| {
        v["error"]
            .as_str()
            .or_else(|| v["error"]["message"].as_str())
            .or_else(|| v["message"].as_str())
            .map(str::to_string)
    });
    match text {
        Some(t) if !t.is_empty() => {
            let clipped: String = t.chars().take(200).collect();
            format!(": {clipped}")
        }
        _ => String::new(),
    }
}

/// What one check found.
#[derive(Debug, Default, Clone)]
pub struct Checked {
    pub version: Option<String>,
    pub models: Vec<DiskModel>,
    pub loaded: Vec<LoadedModel>,
    pub requests_running: Option<f64>,
    pub requests_waiting: Option<f64>,
    pub slots_busy: Option<u32>,
    pub slots_total: Option<u32>,
    pub slot_context: Option<u64>,
    pub kv_cache_pct: Option<f64>,
    /// A generated-tokens counter, for tokens/s between checks.
    pub tokens_total: Option<f64>,
    pub ttft_p50_s: Option<f64>,
    pub ttft_p95_s: Option<f64>,
    pub architecture: Option<Architecture>,
    /// The model file the server serves (llama.cpp's `/props`).
    pub model_path: Option<String>,
    /// A llama.cpp router's models (router mode), for their files and instances.
    pub router: Option<Vec<parse::RouterModel>>,
    /// How Steward can control the backend, when this check learnt it (a llama-server's
    /// `/props`); `None` keeps what was known, so a failed `/props` or `/models` never flips a
    /// router to read-only.
    pub control: Option<Control>,
    pub problems: Vec<String>,
}

/// How the check's optional calls went: parsed data, or a problem.
fn note<T, E: std::fmt::Display>(problems: &mut Vec<String>, r: Result<T, E>) -> Option<T> {
    r.map_err(|e| problems.push(e.to_string())).ok()
}

fn parsed<T>(
    r: Result<Vec<u8>, CallError>,
    f: impl FnOnce(&[u8]) -> Result<T, parse::ParseError>,
) -> Result<T, String> {
    let body = r.map_err(|e| e.to_string())?;
    f(&body).map_err(|e| e.to_string())
}

/// Runs the check for `kind`; `Err` is why the backend is down.
pub async fn check(kind: BackendKind, c: &Client) -> Result<Checked, String> {
    match kind {
        BackendKind::Ollama => ollama(c).await,
        BackendKind::Llamacpp => llamacpp(c).await,
        BackendKind::Vllm => vllm(c).await,
        BackendKind::Openai => openai(c).await,
    }
}

/// Why a llama-server that is not a router cannot load or unload.
const LLAMACPP_SINGLE: &str = "this llama-server serves the model it was started with (-m); start it \
     without -m, with --models-dir or --models-preset (router mode), to load and unload from Steward";

/// How Steward can change what a backend holds (before a check says more: a llama-server is
/// writable once its `/props` says it is a router).
pub fn control(kind: BackendKind) -> Control {
    match kind {
        BackendKind::Ollama => Control::Ollama,
        BackendKind::Llamacpp => Control::ReadOnly {
            reason: LLAMACPP_SINGLE.into(),
        },
        BackendKind::Vllm => Control::ReadOnly {
            reason: "vLLM serves the model it was started with".into(),
        },
        BackendKind::Openai => Control::ReadOnly {
            reason: "an OpenAI-compatible API has no load or unload".into(),
        },
    }
}

async fn ollama(c: &Client) -> Result<Checked, String> {
    let version = parsed(c.get("/api/version").await, parse::ollama_version)?;
    let (tags, ps) = tokio::join!(c.get("/api/tags"), c.get("/api/ps"));
    let mut out = Checked {
        version: Some(version),
        ..Default::default()
    };
    out.models = note(&mut out.problems, parsed(tags, parse::ollama_tags)).unwrap_or_default();
    out.loaded = note(&mut out.problems, parsed(ps, parse::ollama_ps)).unwrap_or_default();
    Ok(out)
}

async fn llamacpp(c: &Client) -> Result<Checked, String> {
    let mut out = Checked::default();
    match c.get("/health").await {
        Ok(_) => {}
        // 503 while the model loads: up, not ready.
        Err(CallError::Status(_, 503, _)) => out
            .problems
            .push("GET /health: loading the model (503)".into()),
        Err(e) => return Err(e.to_string()),
    }
    // `/props` says whether this is a router (whose other endpoints need a model named).
    let props = note(
        &mut out.problems,
        parsed(c.get("/props").await, parse::llamacpp_props),
    );
    if let Some(p) = &props {
        out.version = p.build.clone();
        if p.router {
            out.control = Some(Control::LlamacppRouter);
            llamacpp_router(c, &mut out).await;
            return Ok(out);
        }
        out.model_path = p.model_path.clone();
        out.slot_context = p.context;
        out.control = Some(control(BackendKind::Llamacpp));
    }
    let (slots, metrics, models) =
        tokio::join!(c.get("/slots"), c.get("/metrics"), c.get("/v1/models"));
    llamacpp_slots_and_metrics(&mut out, slots, metrics);
    // Without `/slots`, `/props` still says how many there are.
    out.slots_total = out
        .slots_total
        .or(props.as_ref().and_then(|p| p.total_slots));
    out.models = note(&mut out.problems, parsed(models, parse::openai_models)).unwrap_or_default();
    // The served model is the loaded one.
    out.loaded = out
        .models
        .iter()
        .map(|m| LoadedModel {
            name: m.name.clone(),
            context_length: out.slot_context,
            ..Default::default()
        })
        .collect();
    Ok(out)
}

/// Folds a `/slots` and a `/metrics` answer (one server's, or one router instance's) into
/// `out`, adding to what earlier instances gave.
fn llamacpp_slots_and_metrics(
    out: &mut Checked,
    slots: Result<Vec<u8>, CallError>,
    metrics: Result<Vec<u8>, CallError>,
) {
    let add = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    match slots {
        Err(CallError::Status(_, 501, _)) => out
            .problems
            .push("GET /slots: disabled (start llama-server with --slots)".into()),
        r => {
            if let Some((busy, total, ctx)) =
                note(&mut out.problems, parsed(r, parse::llamacpp_slots))
            {
                out.slots_busy = Some(out.slots_busy.unwrap_or(0) + busy);
                out.slots_total = Some(out.slots_total.unwrap_or(0) + total);
                out.slot_context = out.slot_context.or(ctx);
            }
        }
    }
    match metrics {
        Err(CallError::Status(_, 501, _)) => out
            .problems
            .push("GET /metrics: disabled (start llama-server with --metrics)".into()),
        r => {
            if let Some(e) = note(
                &mut out.problems,
                r.map(|b| parse::exposition(&String::from_utf8_lossy(&b))),
            ) {
                out.requests_running =
                    add(out.requests_running, e.sum("llamacpp:requests_processing"));
                out.requests_waiting =
                    add(out.requests_waiting, e.sum("llamacpp:requests_deferred"));
                out.tokens_total = add(out.tokens_total, e.sum("llamacpp:tokens_predicted_total"));
                // The fullest instance's KV cache is the one that matters.
                let kv = e
                    .sum("llamacpp:kv_cache_usage_ratio")
                    .map(|r| (r * 100.0).clamp(0.0, 100.0));
                out.kv_cache_pct = match (out.kv_cache_pct, kv) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
        }
    }
}

/// Router mode: the models it knows (`/models`), and for each loaded instance its slots and
/// metrics (`?model=…&autoload=false`, so a check never starts a load).
async fn llamacpp_router(c: &Client, out: &mut Checked) {
    let models = match parsed(c.get("/models").await, parse::llamacpp_router_models) {
        Ok(m) => m,
        Err(e) => {
            out.problems.push(e);
            return;
        }
    };
    out.models = models
        .iter()
        .map(|m| DiskModel {
            name: m.id.clone(),
            path: m.path.clone(),
            load_context: m.context,
            load_error: m
                .failed_exit
                .map(|code| format!("its last load failed: the instance exited with code {code}")),
            ..Default::default()
        })
        .collect();
    out.loaded = models
        .iter()
        .filter(|m| matches!(m.status.as_str(), "loaded" | "loading" | "sleeping"))
        .map(|m| LoadedModel {
            name: m.id.clone(),
            context_length: m.context,
            status: (m.status != "loaded").then(|| m.status.clone()),
            ..Default::default()
        })
        .collect();
    let serving: Vec<String> = models
        .iter()
        .filter(|m| m.status == "loaded")
        .map(|m| format!("?model={}&autoload=false", parse::query_value(&m.id)))
        .collect();
    let answers = futures::future::join_all(serving.iter().map(|q| async move {
        let (slots, metrics) = (format!("/slots{q}"), format!("/metrics{q}"));
        tokio::join!(c.get(&slots), c.get(&metrics))
    }))
    .await;
    for (slots, metrics) in answers {
        llamacpp_slots_and_metrics(out, slots, metrics);
    }
    out.router = Some(models);
}

fn vllm_metrics(out: &mut Checked, e: &Exposition) {
    out.requests_running = e.sum("vllm:num_requests_running");
    out.requests_waiting = e.sum("vllm:num_requests_waiting");
    // Newer vLLM: kv_cache_usage_perc; older: gpu_cache_usage_perc. Both are 0–1 ratios.
    out.kv_cache_pct = e
        .first_sum(&["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"])
        .map(|r| (r * 100.0).clamp(0.0, 100.0));
    out.tokens_total = e.sum("vllm:generation_tokens_total");
    out.ttft_p50_s = e.quantile("vllm:time_to_first_token_seconds", 0.5);
    out.ttft_p95_s = e.quantile("vllm:time_to_first_token_seconds", 0.95);
}

async fn vllm(c: &Client) -> Result<Checked, String> {
    c.get("/health").await.map_err(|e| e.to_string())?;
    let (version, models, metrics) =
        tokio::join!(c.get("/version"), c.get("/v1/models"), c.get("/metrics"));
    let mut out = Checked::default();
    out.version = note(
        &mut out.problems,
        parsed(version, |b| {
            serde_json::from_slice::<serde_json::Value>(b)
                .ok()
                .and_then(|v| v["version"].as_str().map(str::to_string))
                .ok_or(parse::ParseError::Missing {
                    endpoint: "/version",
                    what: "version",
                })
        }),
    );
    out.models = note(&mut out.problems, parsed(models, parse::openai_models)).unwrap_or_default();
    if let Some(e) = note(
        &mut out.problems,
        metrics.map(|b| parse::exposition(&String::from_utf8_lossy(&b))),
    ) {
        vllm_metrics(&mut out, &e);
    }
    out.loaded = out
        .models
        .iter()
        .map(|m| LoadedModel {
            name: m.name.clone(),
            ..Default::default()
        })
        .collect();
    Ok(out)
}

async fn openai(c: &Client) -> Result<Checked, String> {
    let models = parsed(c.get("/v1/models").await, parse::openai_models)?;
    Ok(Checked {
        models,
        ..Default::default()
    })
}
