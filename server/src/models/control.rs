//! The pre-load check and load / unload. The check reads the latest snapshot (and the model's
//! architecture: Ollama's `/api/show`, a llama.cpp model's GGUF header, cached); a load runs
//! in the background as a job whose progress is streamed (asked → loading, with the backend's
//! progress where it reports one → loaded and measured, or failed), then the measured memory
//! is compared with the estimate and kept, so the next estimate on that backend is corrected
//! by what past ones missed. Loads and unloads are audited with their outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::models::estimate::{self, EstimateInput, Target, Verdict};
use app::models::{
    Architecture, BackendKind, Control, EstimateError, LoadEvent, LoadPhase, Models,
};
use app::shared::clock::now_ms;
use app::shared::format::bytes;
use serde::Deserialize;

use crate::models::check::Client;
use crate::models::{parse, process, ModelsService};
use crate::store::audit::{Action, Entry, Outcome};

/// A load may take minutes (a large model read from a slow disk).
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// How often a load says it is still going, and a router's status is polled.
const TICK: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(300);

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no backend named {0:?} is configured")]
    UnknownBackend(String),
    #[error("backend {backend:?} has no model {model:?}")]
    UnknownModel { backend: String, model: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("backend {0:?} is read-only: {1}")]
    ReadOnly(String, String),
    #[error("the backend failed: {0}")]
    Backend(String),
    #[error("a load is already running on {0:?} (job {1}); one at a time per backend")]
    Busy(String, u64),
    #[error("no model load {0}")]
    UnknownJob(u64),
}

/// A load an admin asked for, after its check.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    pub actor: String,
    pub backend: String,
    pub model: String,
    pub context: Option<u64>,
    /// Ollama's keep-alive duration.
    pub keep_alive: String,
}

/// What the pre-load check is asked.
#[derive(Debug, Clone, Deserialize)]
pub struct EstimateQuery {
    pub model: String,
    /// Context in tokens (default: the model's trained context, at most 8,192).
    pub context: Option<u64>,
    /// Bytes per KV-cache element (default 2, the f16 cache; 1 for q8_0).
    pub kv_bytes: Option<f64>,
}

/// Context bounds: below 128 tokens nothing useful runs; above 1M no server supports it.
const CONTEXT: std::ops::RangeInclusive<u64> = 128..=1 << 20;

impl ModelsService {
    fn backend_config(
        &self,
        name: &str,
    ) -> Result<&crate::config::ModelBackendConfig, ControlError> {
        self.config
            .backends
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| ControlError::UnknownBackend(name.to_string()))
    }

    /// The architecture of `model` on `backend`: per model for Ollama (`/api/show`) and a
    /// llama.cpp router (the model's GGUF header), cached; a single-model llama-server's from
    /// the snapshot (its served GGUF). `None` when it cannot be read (said in the log; the
    /// estimate then notes that the KV cache is unknown).
    async fn architecture(
        &self,
        snapshot: &Models,
        backend: &str,
        model: &str,
    ) -> Result<Option<Architecture>, ControlError> {
        let Some(b) = snapshot.backends.iter().find(|b| b.name == backend) else {
            return Ok(None);
        };
        let per_model = b.kind == BackendKind::Ollama || b.control == Control::LlamacppRouter;
        if !per_model {
            return Ok(b.architecture.clone());
        }
        let key = (backend.to_string(), model.to_string());
        if let Some(a) = super::lock(&self.architectures).get(&key) {
            return Ok(Some(a.clone()));
        }
        let read = if b.kind == BackendKind::Ollama {
            let cfg = self.backend_config(backend)?;
            let client = self.client(cfg).map_err(ControlError::Backend)?;
            let body = client
                .post(
                    "/api/show",
                    &serde_json::json!({ "model": model }),
                    client.timeout,
                )
                .await
                .map_err(|e| ControlError::Backend(e.to_string()))?;
            parse::ollama_show(&body).map_err(|e| e.to_string())
        } else {
            b.models
                .iter()
                .find(|m| m.name == model)
                .and_then(|m| m.path.as_deref())
                .ok_or_else(|| "the router does not say where the file is".to_string())
                .and_then(|path| super::read_architecture(&self.paths.rootfs, path))
        };
        match read {
            Ok(a) => {
                super::lock(&self.architectures).insert(key, a.clone());
                Ok(Some(a))
            }
            Err(e) => {
                tracing::info!(backend, model, "architecture unknown: {e}");
                Ok(None)
            }
        }
    }

    /// The pre-load check: estimate, target memory, verdict, what is most at risk.
    pub async fn check_load(
        &self,
        snapshot: &Models,
        backend: &str,
        q: &EstimateQuery,
    ) -> Result<Verdict, ControlError> {
        let cfg = self.backend_config(backend)?;
        let b = snapshot
            .backends
            .iter()
            .find(|b| b.name == backend)
            .ok_or_else(|| ControlError::UnknownBackend(backend.to_string()))?;
        let disk = b.models.iter().find(|m| m.name == q.model).ok_or_else(|| {
            ControlError::UnknownModel {
                backend: backend.to_string(),
                model: q.model.clone(),
            }
        })?;
        let weights = disk.size_bytes.ok_or_else(|| {
            ControlError::BadRequest(format!(
                "the backend does not say how large {:?} is, so no estimate can be made",
                q.model
            ))
        })?;
        let kv_bytes = q.kv_bytes.unwrap_or(2.0);
        if !(0.25..=4.0).contains(&kv_bytes) {
            return Err(ControlError::BadRequest(
                "kv_bytes must be between 0.25 and 4".into(),
            ));
        }
        // A router starts each instance with the context its preset or its own flags give.
        if let (Some(fixed), Some(asked)) = (disk.load_context, q.context) {
            if fixed != asked {
                return Err(ControlError::BadRequest(format!(
                    "{backend} loads {:?} with a context of {fixed} tokens (its --ctx-size); \
                     the context cannot be changed per load",
                    q.model
                )));
            }
        }
        let arch = self.architecture(snapshot, backend, &q.model).await?;
        let context = q
            .context
            .or(disk.load_context)
            .or_else(|| {
                arch.as_ref()
                    .and_then(|a| a.context_max)
                    .map(|c| c.min(8192))
            })
            .unwrap_or(4096);
        if !CONTEXT.contains(&context) {
            return Err(ControlError::BadRequest(format!(
                "context must be between {} and {} tokens",
                CONTEXT.start(),
                CONTEXT.end()
            )));
        }
        let est = estimate::estimate(
            &EstimateInput {
                kind: cfg.kind,
                weights_bytes: weights,
                architecture: arch,
                context,
                kv_bytes_per_element: kv_bytes,
            },
            b.estimate_error.as_ref(),
        );
        let target = target(snapshot).ok_or_else(|| {
            ControlError::Backend(
                "host memory is not known yet (the models collector has not run)".into(),
            )
        })?;
        Ok(estimate::judge(
            est,
            target,
            estimate::most_at_risk(snapshot.at_risk.clone(), 5),
        ))
    }

    /// Starts a checked load in the background and returns its job: the progress is the
    /// job's events, the last one `loaded` (with the measured memory) or `failed`. One load
    /// runs per backend at a time.
    pub fn start_load(
        self: &Arc<Self>,
        req: LoadRequest,
        verdict: &Verdict,
    ) -> Result<u64, ControlError> {
        let (client, control) = self.writable(&req.backend)?;
        let id = {
            let mut loading = super::lock(&self.loading);
            if let Some(&job) = loading.get(&req.backend) {
                if self.loads.running(job) {
                    return Err(ControlError::Busy(req.backend.clone(), job));
                }
            }
            let id = self.loads.start();
            loading.insert(req.backend.clone(), id);
            id
        };
        let estimated = verdict.estimate.total_bytes;
        self.emit(
            id,
            LoadPhase::Started,
            format!(
                "{} Asking {} to load {}.",
                verdict.text, req.backend, req.model
            ),
            None,
            (Some(estimated), None),
        );
        let this = self.clone();
        let verdict_text = verdict.text.clone();
        tokio::spawn(async move {
            let result = match control {
                Control::Ollama => this.load_ollama(&client, &req, id).await,
                Control::LlamacppRouter => this.load_router(&client, &req, id).await,
                Control::ReadOnly { reason } => {
                    Err(ControlError::ReadOnly(req.backend.clone(), reason))
                }
            };
            if let Ok(Some(measured)) = result {
                this.learn(&req, estimated, measured).await;
            }
            let (phase, message, detail) = match &result {
                Ok(measured) => {
                    let m = measured.map_or("not reported".into(), |b| bytes(b as f64));
                    (
                        LoadPhase::Loaded,
                        format!(
                            "Loaded {}: estimated {}, measured {m}.",
                            req.model,
                            bytes(estimated as f64)
                        ),
                        format!("{verdict_text} — measured {m}"),
                    )
                }
                Err(e) => (
                    LoadPhase::Failed,
                    e.to_string(),
                    format!("{verdict_text} — {e}"),
                ),
            };
            this.audit(
                (&req.actor, &req.backend, &req.model),
                Action::ModelLoad,
                result.is_ok(),
                Some(&detail),
            )
            .await;
            this.emit(
                id,
                phase,
                message,
                None,
                (Some(estimated), result.ok().flatten()),
            );
            let mut loading = super::lock(&this.loading);
            if loading.get(&req.backend) == Some(&id) {
                loading.remove(&req.backend);
            }
            drop(loading);
            this.poke();
        });
        Ok(id)
    }

    fn emit(
        &self,
        id: u64,
        phase: LoadPhase,
        message: String,
        progress: Option<f64>,
        (estimated_bytes, measured_bytes): (Option<u64>, Option<u64>),
    ) {
        let event = LoadEvent {
            ts_ms: now_ms(),
            phase,
            message,
            progress,
            estimated_bytes,
            measured_bytes,
        };
        let last = event.is_last();
        self.loads.emit(id, event, last);
    }

    /// A load job's events so far and, while it runs, the rest.
    pub fn load_events(
        &self,
        id: u64,
    ) -> Result<
        (
            Vec<LoadEvent>,
            Option<tokio::sync::broadcast::Receiver<LoadEvent>>,
        ),
        ControlError,
    > {
        self.loads.subscribe(id).ok_or(ControlError::UnknownJob(id))
    }

    /// Ollama: generate with `keep_alive` and no prompt loads the model; it reports no
    /// progress, so the job says every few seconds that it is still waiting. Then `/api/ps`
    /// says what the model takes.
    async fn load_ollama(
        &self,
        client: &Client,
        req: &LoadRequest,
        id: u64,
    ) -> Result<Option<u64>, ControlError> {
        let mut body = serde_json::json!({ "model": req.model, "keep_alive": req.keep_alive });
        if let Some(c) = req.context {
            body["options"] = serde_json::json!({ "num_ctx": c });
        }
        let started = Instant::now();
        let call = client.post("/api/generate", &body, LOAD_TIMEOUT);
        tokio::pin!(call);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
        self.emit(
            id,
            LoadPhase::Loading,
            format!("Ollama is reading {} into memory…", req.model),
            None,
            (None, None),
        );
        let answer = loop {
            tokio::select! {
                r = &mut call => break r,
                _ = tick.tick() => self.emit(
                    id,
                    LoadPhase::Loading,
                    format!("Still loading — {} s", started.elapsed().as_secs()),
                    None,
                    (None, None),
                ),
            }
        };
        let answer = answer.map_err(|e| ControlError::Backend(e.to_string()))?;
        parse::ollama_generate(&answer).map_err(|e| ControlError::Backend(e.to_string()))?;
        let ps = client
            .get("/api/ps")
            .await
            .map_err(|e| ControlError::Backend(e.to_string()))?;
        Ok(parse::ollama_ps(&ps)
            .map_err(|e| ControlError::Backend(e.to_string()))?
            .into_iter()
            .find(|m| m.name == req.model)
            .and_then(|m| m.size_bytes))
    }

    /// A llama.cpp router: `POST /models/load` starts an instance; its status in `/models`
    /// goes loading (with the router's progress where it reports one) → loaded, or unloaded
    /// with the instance's exit code. The instance's resident memory is what it took.
    async fn load_router(
        &self,
        client: &Client,
        req: &LoadRequest,
        id: u64,
    ) -> Result<Option<u64>, ControlError> {
        let backend_err = |e: super::check::CallError| ControlError::Backend(e.to_string());
        client
            .post(
                "/models/load",
                &serde_json::json!({ "model": req.model }),
                client.timeout,
            )
            .await
            .map_err(backend_err)?;
        let started = Instant::now();
        let mut said = (Instant::now(), None::<f64>);
        let mut seen_loading = false;
        let mut failures = 0;
        self.emit(
            id,
            LoadPhase::Loading,
            format!("llama.cpp is starting an instance for {}…", req.model),
            None,
            (None, None),
        );
        let port = loop {
            if started.elapsed() > LOAD_TIMEOUT {
                return Err(ControlError::Backend(format!(
                    "{} was not loaded after {} s",
                    req.model,
                    LOAD_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
            let models = match client
                .get("/models")
                .await
                .map_err(backend_err)
                .and_then(|b| {
                    parse::llamacpp_router_models(&b)
                        .map_err(|e| ControlError::Backend(e.to_string()))
                }) {
                Ok(m) => {
                    failures = 0;
                    m
                }
                // A few missed polls are the router being busy; more are an answer.
                Err(e) if failures < 5 => {
                    failures += 1;
                    tracing::info!(backend = %req.backend, "load poll: {e}");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let m = models.iter().find(|m| m.id == req.model).ok_or_else(|| {
                ControlError::Backend(format!("the router no longer lists {}", req.model))
            })?;
            match m.status.as_str() {
                "loaded" => break m.port,
                // The router keeps the last load's `failed` until this load starts, so a
                // failure counts once this load was seen loading (or had time to be).
                "unloaded"
                    if m.failed_exit.is_some() && (seen_loading || started.elapsed() > TICK) =>
                {
                    return Err(ControlError::Backend(format!(
                        "the instance for {} exited with code {} while loading",
                        req.model,
                        m.failed_exit.unwrap_or(-1)
                    )));
                }
                "unloaded" if seen_loading => {
                    return Err(ControlError::Backend(format!(
                        "{} was unloaded before it finished loading",
                        req.model
                    )));
                }
                "loading" => {
                    seen_loading = true;
                    if m.progress != said.1 || said.0.elapsed() >= TICK {
                        said = (Instant::now(), m.progress);
                        let pct = m
                            .progress
                            .map_or(String::new(), |p| format!(" ({:.0} %)", p * 100.0));
                        self.emit(
                            id,
                            LoadPhase::Loading,
                            format!("Loading{pct} — {} s", started.elapsed().as_secs()),
                            m.progress,
                            (None, None),
                        );
                    }
                }
                _ => {}
            }
        };
        // The instance's memory, when it runs on this host.
        let procfs = &self.paths.procfs;
        Ok(port
            .filter(|_| super::loopback_port(&client.base).is_some())
            .and_then(|p| process::listener_pid(procfs, p))
            .and_then(|pid| process::rss_bytes(procfs, pid)))
    }

    /// Learns from a measured load and keeps it.
    async fn learn(&self, req: &LoadRequest, estimated: u64, measured: u64) {
        {
            let mut errors = super::lock(&self.errors);
            let learned = estimate::learn(errors.get(&req.backend), estimated, measured);
            errors.insert(req.backend.clone(), learned);
        }
        if let Err(err) = self
            .record_load((
                &req.backend,
                &req.model,
                req.context,
                estimated,
                measured,
                &req.actor,
            ))
            .await
        {
            // The load happened; only its lesson is lost. Said, not hidden.
            tracing::warn!(backend = %req.backend, model = %req.model, "could not record the load: {err}");
        }
    }

    /// Records a load or unload of `backend`/`model` by `actor`.
    async fn audit(
        &self,
        (actor, backend, model): (&str, &str, &str),
        action: Action,
        ok: bool,
        detail: Option<&str>,
    ) {
        if let Some(audit) = &self.audit {
            audit
                .record(Entry {
                    actor,
                    action,
                    target: &format!("{backend}/{model}"),
                    outcome: if ok { Outcome::Ok } else { Outcome::Failed },
                    detail,
                })
                .await;
        }
    }

    /// Unloads `model` (Ollama: `keep_alive: 0`; a llama.cpp router: `POST /models/unload`),
    /// audited.
    pub async fn unload(
        &self,
        actor: &str,
        backend: &str,
        model: &str,
    ) -> Result<(), ControlError> {
        let result = self.unload_now(backend, model).await;
        let detail = result.as_ref().err().map(|e| e.to_string());
        self.audit(
            (actor, backend, model),
            Action::ModelUnload,
            result.is_ok(),
            detail.as_deref(),
        )
        .await;
        self.poke();
        result
    }

    async fn unload_now(&self, backend: &str, model: &str) -> Result<(), ControlError> {
        let (client, control) = self.writable(backend)?;
        let backend_err = |e: super::check::CallError| ControlError::Backend(e.to_string());
        match control {
            Control::LlamacppRouter => {
                client
                    .post(
                        "/models/unload",
                        &serde_json::json!({ "model": model }),
                        client.timeout,
                    )
                    .await
                    .map_err(backend_err)?;
            }
            _ => {
                let answer = client
                    .post(
                        "/api/generate",
                        &serde_json::json!({ "model": model, "keep_alive": 0 }),
                        LOAD_TIMEOUT,
                    )
                    .await
                    .map_err(backend_err)?;
                parse::ollama_generate(&answer)
                    .map_err(|e| ControlError::Backend(e.to_string()))?;
            }
        }
        Ok(())
    }

    /// The backend's client and how Steward controls it, or why it cannot (read-only: a
    /// llama-server not in router mode, vLLM, a plain OpenAI-compatible API).
    fn writable(&self, backend: &str) -> Result<(Client, Control), ControlError> {
        let cfg = self.backend_config(backend)?;
        let control = self
            .snapshot()
            .backends
            .iter()
            .find(|b| b.name == backend)
            .map_or_else(|| super::check::control(cfg.kind), |b| b.control.clone());
        match control {
            Control::ReadOnly { reason } => Err(ControlError::ReadOnly(cfg.name.clone(), reason)),
            c => Ok((self.client(cfg).map_err(ControlError::Backend)?, c)),
        }
    }

    /// Refuses at once when `backend` is unknown or read-only (before any estimate).
    pub fn ensure_writable(&self, backend: &str) -> Result<(), ControlError> {
        self.writable(backend).map(|_| ())
    }

    /// What past estimates on `backend` missed by.
    pub fn estimate_error(&self, backend: &str) -> Option<EstimateError> {
        super::lock(&self.errors).get(backend).cloned()
    }
}

/// The memory a load goes into: the GPU with the most free VRAM when there is one, else RAM.
pub fn target(m: &Models) -> Option<Target> {
    if let Some(g) = m
        .gpus
        .gpus()
        .iter()
        .filter(|g| g.vram_free_bytes().is_some())
        .max_by_key(|g| g.vram_free_bytes())
    {
        return Some(Target {
            label: format!("GPU {} VRAM", g.index),
            available_bytes: g.vram_free_bytes()?,
            total_bytes: g.vram_total_bytes?,
            swap_free_bytes: None,
        });
    }
    Some(Target {
        label: "RAM".into(),
        available_bytes: m.memory.available_bytes?,
        total_bytes: m.memory.total_bytes?,
        swap_free_bytes: m.memory.swap_free_bytes,
    })
}
