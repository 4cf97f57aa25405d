//! The models panel's shared types: what the server collects per backend and per GPU, and what
//! the page and `GET /api/v1/models` show.

use serde::{Deserialize, Serialize};

use crate::vitals::CollectorStatus;

/// What kind of server a backend is; it decides which endpoints Steward reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    Ollama,
    Llamacpp,
    Vllm,
    /// Any other OpenAI-compatible server: `/v1/models` only.
    Openai,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Ollama => "ollama",
            BackendKind::Llamacpp => "llamacpp",
            BackendKind::Vllm => "vllm",
            BackendKind::Openai => "openai",
        }
    }

    /// The name operators know it by.
    pub fn title(self) -> &'static str {
        match self {
            BackendKind::Ollama => "Ollama",
            BackendKind::Llamacpp => "llama.cpp",
            BackendKind::Vllm => "vLLM",
            BackendKind::Openai => "OpenAI-compatible",
        }
    }
}

/// A backend's circuit breaker: closed (checked every round), open (not called until the
/// cool-off ends), half-open (one probe decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}

/// The breaker as shown: its state and counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BreakerView {
    pub state: BreakerState,
    /// Failed checks in a row.
    pub consecutive_failures: u32,
    /// Times the breaker opened since start.
    pub opened_total: u64,
    /// Half-open probes sent since start.
    pub probes_total: u64,
    /// Checks skipped because the breaker was open.
    pub skipped_total: u64,
    /// When the next probe may go (while open).
    pub retry_at_ms: Option<i64>,
}

/// How a backend answered its last check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendState {
    /// Not checked yet.
    Starting,
    /// Every call answered.
    Ok,
    /// It answered, but some calls failed (named in `problems`).
    Degraded,
    /// The check failed (or the breaker is open after failures).
    Down,
}

impl BackendState {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendState::Starting => "starting",
            BackendState::Ok => "ok",
            BackendState::Degraded => "degraded",
            BackendState::Down => "down",
        }
    }
}

/// Whether Steward can load and unload models on a backend, and why not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Control {
    /// Load = generate with `keep_alive`, unload = `keep_alive: 0` (Ollama).
    Ollama,
    /// Load = `POST /models/load`, unload = `POST /models/unload` (llama.cpp in router mode:
    /// one instance per loaded model, each started with the router's or its preset's arguments).
    LlamacppRouter,
    /// The backend serves what it was started with.
    ReadOnly { reason: String },
}

/// A model file a backend can load.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskModel {
    pub name: String,
    pub size_bytes: Option<u64>,
    pub family: Option<String>,
    pub parameter_size: Option<String>,
    pub quantization: Option<String>,
    pub modified_ms: Option<i64>,
    /// When it was last loaded, as far as Steward saw.
    pub last_used_ms: Option<i64>,
    /// The file, where the backend says (llama.cpp router: the instance's `--model`).
    #[serde(default)]
    pub path: Option<String>,
    /// The context it loads with when the backend fixes it (llama.cpp router: `--ctx-size`).
    #[serde(default)]
    pub load_context: Option<u64>,
    /// What went wrong the last time it was loaded (llama.cpp router: the instance exited).
    #[serde(default)]
    pub load_error: Option<String>,
}

/// A model a backend holds in memory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadedModel {
    pub name: String,
    /// Memory it takes (Ollama's `size`; llama.cpp: the server's resident memory).
    pub size_bytes: Option<u64>,
    /// Of which in GPU memory.
    pub vram_bytes: Option<u64>,
    pub context_length: Option<u64>,
    /// When the backend will unload it unless used (Ollama's `expires_at`).
    pub expires_at_ms: Option<i64>,
    /// Not ready to serve: `loading` or `sleeping` (llama.cpp router); none when serving.
    #[serde(default)]
    pub status: Option<String>,
}

/// The architecture numbers the KV-cache estimate needs (GGUF metadata keys
/// `{arch}.block_count`, `.attention.head_count_kv`, `.embedding_length`,
/// `.attention.head_count`, `.context_length`; Ollama's `/api/show` `model_info` uses the same).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    pub name: String,
    pub layers: u64,
    pub kv_heads: u64,
    pub heads: u64,
    pub embedding: u64,
    /// Per-head key size when the model says so (`attention.key_length`), else embedding / heads.
    pub head_dim: Option<u64>,
    pub context_max: Option<u64>,
    pub vocab: Option<u64>,
}

impl Architecture {
    /// Size of one attention head's key (and value).
    pub fn head_size(&self) -> u64 {
        self.head_dim
            .unwrap_or_else(|| self.embedding.checked_div(self.heads).unwrap_or(0))
    }
}

/// One backend as the last check saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelBackend {
    pub name: String,
    pub kind: BackendKind,
    pub url: String,
    pub state: BackendState,
    pub breaker: BreakerView,
    pub version: Option<String>,
    /// How long the last check took.
    pub check_ms: Option<u64>,
    pub checked_ms: Option<i64>,
    pub last_ok_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    /// Calls of the last check that failed while others answered.
    pub problems: Vec<String>,
    pub requests_running: Option<f64>,
    pub requests_waiting: Option<f64>,
    pub slots_busy: Option<u32>,
    pub slots_total: Option<u32>,
    /// Context size per slot (llama.cpp).
    pub slot_context: Option<u64>,
    /// KV-cache use, 0–100 %.
    pub kv_cache_pct: Option<f64>,
    /// Generated tokens per second between the last two checks.
    pub tokens_per_s: Option<f64>,
    pub ttft_p50_s: Option<f64>,
    pub ttft_p95_s: Option<f64>,
    pub models: Vec<DiskModel>,
    pub loaded: Vec<LoadedModel>,
    /// The served model's architecture (llama.cpp: from its GGUF; Ollama: per model on request).
    pub architecture: Option<Architecture>,
    /// Resident memory of the backend's process, when it runs on this host and was found.
    pub process_rss_bytes: Option<u64>,
    pub control: Control,
    /// Mean error of past pre-load estimates on this backend (measured / estimated − 1), and
    /// how many loads it rests on.
    pub estimate_error: Option<EstimateError>,
}

impl ModelBackend {
    /// Memory held by its loaded models (the backend's process when nothing else is known).
    pub fn loaded_bytes(&self) -> u64 {
        let by_models: u64 = self.loaded.iter().filter_map(|m| m.size_bytes).sum();
        if by_models > 0 {
            by_models
        } else {
            self.process_rss_bytes.unwrap_or(0)
        }
    }
}

/// What past estimates missed by, per backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EstimateError {
    /// Mean of measured / estimated − 1 (0.1 = loads took 10 % more than estimated).
    pub mean: f64,
    pub samples: u32,
}

/// GPU maker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuVendor {
    Nvidia,
    Amd,
}

/// A process holding GPU memory, with its container when it runs in one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GpuProcess {
    pub pid: u32,
    pub vram_bytes: Option<u64>,
    pub container: Option<String>,
}

/// One GPU's readings; `None` where the driver does not say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    pub index: u32,
    pub vendor: GpuVendor,
    pub name: String,
    pub util_pct: Option<f64>,
    pub vram_used_bytes: Option<u64>,
    pub vram_total_bytes: Option<u64>,
    pub temperature_c: Option<f64>,
    pub power_w: Option<f64>,
    pub power_limit_w: Option<f64>,
    pub fan_pct: Option<f64>,
    pub processes: Vec<GpuProcess>,
}

impl Gpu {
    pub fn vram_free_bytes(&self) -> Option<u64> {
        Some(self.vram_total_bytes?.saturating_sub(self.vram_used_bytes?))
    }
}

/// A GPU as the overview's card shows it: the live readings, without its processes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuSummary {
    pub index: u32,
    pub name: String,
    pub util_pct: Option<f64>,
    pub vram_used_bytes: Option<u64>,
    pub vram_total_bytes: Option<u64>,
    pub temperature_c: Option<f64>,
    pub power_w: Option<f64>,
    pub power_limit_w: Option<f64>,
}

impl GpuSummary {
    /// VRAM used as a percentage of the card's, when both are known.
    pub fn vram_pct(&self) -> Option<f64> {
        match (self.vram_used_bytes, self.vram_total_bytes) {
            (Some(u), Some(t)) if t > 0 => Some(u as f64 / t as f64 * 100.0),
            _ => None,
        }
    }
}

impl From<&Gpu> for GpuSummary {
    fn from(g: &Gpu) -> Self {
        Self {
            index: g.index,
            name: g.name.clone(),
            util_pct: g.util_pct,
            vram_used_bytes: g.vram_used_bytes,
            vram_total_bytes: g.vram_total_bytes,
            temperature_c: g.temperature_c,
            power_w: g.power_w,
            power_limit_w: g.power_limit_w,
        }
    }
}

/// GPU levels for the overview's cards: VRAM ≥ 90 % warns and ≥ 95 % is critical (a load
/// spills to RAM); the core ≥ 83 °C warns (where NVIDIA's data-centre cards start to slow
/// down) and ≥ 90 °C is critical.
pub fn gpu_level(g: &GpuSummary) -> crate::vitals::Level {
    use crate::vitals::Level;
    let vram_pct = g.vram_pct();
    let level = |v: Option<f64>, warn: f64, crit: f64| match v {
        Some(v) if v >= crit => Level::Crit,
        Some(v) if v >= warn => Level::Warn,
        _ => Level::Ok,
    };
    level(vram_pct, 90.0, 95.0).worst(level(g.temperature_c, 83.0, 90.0))
}

/// The GPUs: none is a state, not an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GpuReport {
    /// Not looked yet.
    Starting,
    /// No GPU on this host: inference runs on the CPU.
    None {
        detail: String,
    },
    Ok {
        gpus: Vec<Gpu>,
    },
    /// A GPU library or file failed; the GPUs read before, if any.
    Error {
        message: String,
        gpus: Vec<Gpu>,
    },
}

impl GpuReport {
    pub fn gpus(&self) -> &[Gpu] {
        match self {
            GpuReport::Ok { gpus } | GpuReport::Error { gpus, .. } => gpus,
            _ => &[],
        }
    }
}

/// Host memory as the score and the memory bar see it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostMemory {
    pub total_bytes: Option<u64>,
    pub available_bytes: Option<u64>,
    pub swap_free_bytes: Option<u64>,
}

/// The bar: used by the system | used by loaded models | free.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryBar {
    pub label: String,
    pub total_bytes: u64,
    pub system_bytes: u64,
    pub models_bytes: u64,
    pub free_bytes: u64,
}

impl MemoryBar {
    /// The RAM bar: models' memory is carved out of what is used, never more than it.
    pub fn ram(total: u64, available: u64, models: u64) -> Self {
        let used = total.saturating_sub(available);
        let models = models.min(used);
        Self {
            label: "RAM".into(),
            total_bytes: total,
            system_bytes: used - models,
            models_bytes: models,
            free_bytes: available.min(total),
        }
    }
}

/// A container or process that a load could push out (largest first; unlimited ones first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AtRisk {
    pub name: String,
    /// `container` or `process`.
    pub kind: String,
    pub bytes: u64,
    /// Its memory limit, when it has one (a container without one can take everything).
    pub limit_bytes: Option<u64>,
}

/// The models panel: every backend, the GPUs, host memory and what is most at risk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Models {
    pub backends: Vec<ModelBackend>,
    pub gpus: GpuReport,
    pub memory: HostMemory,
    pub at_risk: Vec<AtRisk>,
    pub status: CollectorStatus,
    pub as_of_ms: Option<i64>,
}

impl Models {
    /// Before the first round.
    pub fn starting() -> Self {
        Self {
            backends: Vec::new(),
            gpus: GpuReport::Starting,
            memory: HostMemory::default(),
            at_risk: Vec::new(),
            status: CollectorStatus::starting(crate::models::NAME),
            as_of_ms: None,
        }
    }

    /// Memory held by every backend's loaded models.
    pub fn models_bytes(&self) -> u64 {
        self.backends.iter().map(ModelBackend::loaded_bytes).sum()
    }

    /// The RAM bar, once host memory is known.
    pub fn ram_bar(&self) -> Option<MemoryBar> {
        Some(MemoryBar::ram(
            self.memory.total_bytes?,
            self.memory.available_bytes?,
            self.models_bytes(),
        ))
    }

    /// One bar per GPU with known memory.
    pub fn vram_bars(&self) -> Vec<MemoryBar> {
        self.gpus
            .gpus()
            .iter()
            .filter_map(|g| {
                let total = g.vram_total_bytes?;
                let used = g.vram_used_bytes?.min(total);
                let models: u64 = self
                    .backends
                    .iter()
                    .flat_map(|b| &b.loaded)
                    .filter_map(|m| m.vram_bytes)
                    .sum::<u64>()
                    .min(used);
                Some(MemoryBar {
                    label: format!("GPU {} VRAM", g.index),
                    total_bytes: total,
                    system_bytes: used - models,
                    models_bytes: models,
                    free_bytes: total - used,
                })
            })
            .collect()
    }
}

/// The collector's name in statuses and `/metrics`.
pub const NAME: &str = "models";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vitals::Level;

    #[test]
    fn gpu_levels_from_vram_and_temperature() {
        let g = |used: u64, temp: f64| GpuSummary {
            vram_used_bytes: Some(used),
            vram_total_bytes: Some(100),
            temperature_c: Some(temp),
            ..Default::default()
        };
        assert_eq!(gpu_level(&g(50, 60.0)), Level::Ok);
        assert_eq!(gpu_level(&g(90, 60.0)), Level::Warn);
        assert_eq!(gpu_level(&g(95, 60.0)), Level::Crit);
        assert_eq!(gpu_level(&g(50, 85.0)), Level::Warn);
        assert_eq!(gpu_level(&g(91, 92.0)), Level::Crit);
        assert_eq!(
            gpu_level(&GpuSummary::default()),
            Level::Ok,
            "nothing read, nothing judged"
        );
    }

    #[test]
    fn ram_bar_parts_add_up_and_models_never_exceed_used() {
        let bar = MemoryBar::ram(16, 6, 3);
        assert_eq!(
            (bar.system_bytes, bar.models_bytes, bar.free_bytes),
            (7, 3, 6)
        );
        assert_eq!(bar.system_bytes + bar.models_bytes + bar.free_bytes, 16);
        // A process RSS larger than what the kernel counts as used is capped.
        let bar = MemoryBar::ram(16, 14, 5);
        assert_eq!(
            (bar.system_bytes, bar.models_bytes, bar.free_bytes),
            (0, 2, 14)
        );
    }

    #[test]
    fn head_size_falls_back_to_embedding_over_heads() {
        let mut a = Architecture {
            embedding: 576,
            heads: 9,
            ..Default::default()
        };
        assert_eq!(a.head_size(), 64);
        a.head_dim = Some(128);
        assert_eq!(a.head_size(), 128);
        a.head_dim = None;
        a.heads = 0;
        assert_eq!(a.head_size(), 0);
    }
}

/// The phase of a model load, streamed to the pre-load dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadPhase {
    /// The check passed and the backend was asked.
    Started,
    /// The backend is reading the model (with its progress where it reports one).
    Loading,
    /// Loaded and measured: the last event.
    Loaded,
    /// The backend refused or the load failed: the last event.
    Failed,
}

/// One progress event of a model load (Server-Sent Events).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadEvent {
    pub ts_ms: i64,
    pub phase: LoadPhase,
    pub message: String,
    /// 0–1 where the backend reports progress (llama.cpp router's loading stages).
    pub progress: Option<f64>,
    pub estimated_bytes: Option<u64>,
    pub measured_bytes: Option<u64>,
}

impl LoadEvent {
    pub fn is_last(&self) -> bool {
        matches!(self.phase, LoadPhase::Loaded | LoadPhase::Failed)
    }
}
