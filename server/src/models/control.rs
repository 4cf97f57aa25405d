//! The pre-load check and load / unload. The check reads the latest snapshot (and, for Ollama,
//! the model's architecture from `/api/show`, cached); a load goes through the backend's API
//! under a long timeout, then the measured memory is compared with the estimate and kept, so
//! the next estimate on that backend is corrected by what past ones missed.

use std::time::Duration;

use app::models::estimate::{self, EstimateInput, Target, Verdict};
use app::models::{Architecture, BackendKind, Control, EstimateError, Models};
use serde::{Deserialize, Serialize};

use crate::models::{parse, ModelsService};

/// A load may take minutes (a large model read from a slow disk).
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(600);

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

    /// The architecture of `model` on `backend`: llama.cpp's served GGUF from the snapshot,
    /// Ollama's from `/api/show` (cached per model).
    async fn architecture(
        &self,
        snapshot: &Models,
        backend: &str,
        model: &str,
    ) -> Result<Option<Architecture>, ControlError> {
        let b = snapshot.backends.iter().find(|b| b.name == backend);
        match b.map(|b| b.kind) {
            Some(BackendKind::Ollama) => {
                let key = (backend.to_string(), model.to_string());
                if let Some(a) = super::lock(&self.architectures).get(&key) {
                    return Ok(Some(a.clone()));
                }
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
                match parse::ollama_show(&body) {
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
            _ => Ok(b.and_then(|b| b.architecture.clone())),
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
        let arch = self.architecture(snapshot, backend, &q.model).await?;
        let context = q
            .context
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

    /// Loads `model` (Ollama: generate with `keep_alive` and no prompt), then measures what it
    /// took (`/api/ps`) and learns from the estimate. Returns the measured bytes.
    pub async fn load(
        &self,
        actor: &str,
        backend: &str,
        model: &str,
        context: Option<u64>,
        keep_alive: &str,
        estimated: Option<u64>,
    ) -> Result<Option<u64>, ControlError> {
        let cfg = self.backend_config(backend)?;
        let client = self.writable(cfg)?;
        let mut body = serde_json::json!({ "model": model, "keep_alive": keep_alive });
        if let Some(c) = context {
            body["options"] = serde_json::json!({ "num_ctx": c });
        }
        let answer = client
            .post("/api/generate", &body, LOAD_TIMEOUT)
            .await
            .map_err(|e| ControlError::Backend(e.to_string()))?;
        parse::ollama_generate(&answer).map_err(|e| ControlError::Backend(e.to_string()))?;
        let ps = client
            .get("/api/ps")
            .await
            .map_err(|e| ControlError::Backend(e.to_string()))?;
        let measured = parse::ollama_ps(&ps)
            .map_err(|e| ControlError::Backend(e.to_string()))?
            .into_iter()
            .find(|m| m.name == model)
            .and_then(|m| m.size_bytes);
        if let (Some(e), Some(m)) = (estimated, measured) {
            {
                let mut errors = super::lock(&self.errors);
                let learned = estimate::learn(errors.get(backend), e, m);
                errors.insert(backend.to_string(), learned);
            }
            if let Err(err) = self
                .record_load((backend, model, context, e, m, actor))
                .await
            {
                // The load happened; only its lesson is lost. Said, not hidden.
                tracing::warn!(backend, model, "could not record the load: {err}");
            }
        }
        Ok(measured)
    }

    /// Unloads `model` (Ollama: `keep_alive: 0`).
    pub async fn unload(&self, backend: &str, model: &str) -> Result<(), ControlError> {
        let cfg = self.backend_config(backend)?;
        let client = self.writable(cfg)?;
        let answer = client
            .post(
                "/api/generate",
                &serde_json::json!({ "model": model, "keep_alive": 0 }),
                LOAD_TIMEOUT,
            )
            .await
            .map_err(|e| ControlError::Backend(e.to_string()))?;
        parse::ollama_generate(&answer).map_err(|e| ControlError::Backend(e.to_string()))?;
        Ok(())
    }

    fn writable(
        &self,
        cfg: &crate::config::ModelBackendConfig,
    ) -> Result<super::check::Client, ControlError> {
        match super::check::control(cfg.kind) {
            Control::Ollama => self.client(cfg).map_err(ControlError::Backend),
            Control::ReadOnly { reason } => Err(ControlError::ReadOnly(cfg.name.clone(), reason)),
        }
    }

    /// Refuses at once when `backend` is unknown or read-only (before any estimate).
    pub fn ensure_writable(&self, backend: &str) -> Result<(), ControlError> {
        self.writable(self.backend_config(backend)?).map(|_| ())
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

/// A load's result as the API answers it.
#[derive(Debug, Serialize)]
pub struct LoadResult {
    pub verdict: Verdict,
    pub measured_bytes: Option<u64>,
}
