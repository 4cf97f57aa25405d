//! The agent's heartbeat: the wire schema (version 1) and the hub's validation rules (pure).
//!
//! Parsing is strict (unknown fields are a 400: a new field means a new schema version). Then
//! each field is kept, brought into range, or dropped, by these rules:
//!
//! | Field | Rule |
//! |---|---|
//! | `schema` | must be 1, else the heartbeat is refused |
//! | `collected_ms` | at most `clock_skew` ahead of the hub and at most `max_age` old, else refused |
//! | `metrics` | at most 1,024; a name not in Steward's metric table is dropped |
//! | a metric's label | required exactly when the metric has one; ≤ 128 bytes, no control characters |
//! | the same metric twice | the second is dropped |
//! | percentages (util, used, pressure) | clamped to 0–100 |
//! | temperatures | −50…150 °C, else dropped (a sensor glitch, not a temperature) |
//! | bytes, rates, counts, loads, watts | ≥ 0, else dropped |
//! | used ≤ total | memory available, swap used and VRAM used are clamped to their totals |
//! | `gpus` | at most 64; an id is 1–128 bytes, each once; a name over 128 bytes or with control characters is dropped (the id names it) |
//! | `gpu_error`, `containers_error` | control characters dropped, cut to 256 characters |
//! | `containers` | unhealthy and running are clamped to total |
//! | `agent_version` | 1–64 printable characters, else refused |
//! | `unhealthy` | at most 256 names; a name Docker would not allow is dropped |
//! | `container_list` | at most 256, else refused; an entry with a name Docker would not allow, or a name sent twice, is dropped; `image` cut to 256 and `status` to 128 characters, control characters dropped; `health` kept for running containers only |
//! | `models` | at most 32, else refused; a backend name that is not 1–64 of a-z, 0-9, - and _, or a name sent twice, is dropped; `kind` and `state` outside Steward's lists are refused by the parser; a negative or non-finite `requests_running`, `requests_waiting`, `tokens_per_s` or `ttft_p50_s` is dropped; `kv_cache_pct` clamped to 0–100; `loaded` cut to 64 names of 128 characters, `version` to 64, `error` to 256, control characters dropped |
//! | `allowed_actions` | kinds this hub does not know are refused by the parser |
//! | `action_reports` | at most 64, else refused; `queued`/`delivered`/`expired` states dropped |
//!
//! `unhealthy`, `allowed_actions`, `action_reports`, `gpu_error`, `containers_error`, `container_list`, `models` and a GPU's `name` and
//! `power_limit_w` came later in schema 1: optional, and an agent leaves them out when empty, so an older hub still takes its heartbeats (upgrade
//! hubs first: an older hub refuses a heartbeat that carries them).
//!
//! A dropped field is reported back in the answer and counted on the host; a clamped one too.

use app::fleet::action::{
    valid_container_name, ActionKind, ActionReport, ActionState, MAX_REPORTS, MAX_UNHEALTHY,
};
use app::fleet::{
    AgentStatus, ContainerCounts, HostBackend, HostContainer, MAX_BACKENDS, MAX_CONTAINERS,
    MAX_LOADED,
};
use app::models::{GpuReport, GpuSummary};
use app::vitals::metric_def::{self, LabelKind, MetricId};
use app::vitals::thresholds::Thresholds;
use app::vitals::{Level, Metric, Unit, Vitals};
use serde::{Deserialize, Serialize};

/// The schema version this hub reads.
pub const SCHEMA: u32 = 1;
pub const MAX_METRICS: usize = 1024;
pub const MAX_GPUS: usize = 64;
const MAX_LABEL: usize = 128;
const MAX_NOTE: usize = 256;
/// Temperatures outside this range are sensor glitches.
const CELSIUS: (f64, f64) = (-50.0, 150.0);

/// One heartbeat as the agent sends it (`POST /api/v1/agent/heartbeat`, JSON, optionally gzip).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub schema: u32,
    pub agent_version: String,
    #[serde(default)]
    pub status: AgentStatus,
    /// The agent's sequence number: increases by one per heartbeat, kept across restarts.
    pub seq: u64,
    /// When the sample was taken (agent clock, ms since the epoch).
    pub collected_ms: i64,
    #[serde(default)]
    pub cores: u32,
    /// The mount the disk dimension of the host's score reads (default `/`).
    #[serde(default = "root")]
    pub disk_mount: String,
    #[serde(default)]
    pub metrics: Vec<WireMetric>,
    #[serde(default)]
    pub gpus: Vec<WireGpu>,
    #[serde(default)]
    pub containers: Option<ContainerCounts>,
    /// The agent's own buffer: how many heartbeats wait, how many it dropped since it started.
    #[serde(default)]
    pub buffer: BufferReport,
    /// Names of the host's unhealthy containers (what a fleet restart would name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unhealthy: Vec<String>,
    /// The actions the agent's config allows (`agent.allow_actions`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_actions: Vec<ActionKind>,
    /// Progress and results of actions the hub ordered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub action_reports: Vec<ActionReport>,
    /// Why the agent could not read its GPUs (NVML failing, say); absent when it could, or
    /// when the host has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_error: Option<String>,
    /// Why the agent could not read Docker (its socket refused, a call timed out); absent
    /// when it could, or when `docker.enabled` is off. `containers` is then absent too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers_error: Option<String>,
    /// The host's containers (name, image, state, health, status words), unhealthy and
    /// stopped first when the agent has more than [`MAX_CONTAINERS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_list: Vec<HostContainer>,
    /// The host's model servers as the agent's checks saw them (`[[models.backends]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<HostBackend>,
}

fn root() -> String {
    "/".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireMetric {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `null` when the agent could not read it; `note` then says why.
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WireGpu {
    /// The card's index or bus id: the metrics' label.
    pub id: String,
    #[serde(default)]
    pub util_pct: Option<f64>,
    #[serde(default)]
    pub temperature_c: Option<f64>,
    #[serde(default)]
    pub vram_used_bytes: Option<f64>,
    #[serde(default)]
    pub vram_total_bytes: Option<f64>,
    #[serde(default)]
    pub power_w: Option<f64>,
    /// The card's model name, as its driver says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_limit_w: Option<f64>,
}

impl WireGpu {
    fn from_gpu(g: &app::models::Gpu) -> Self {
        Self {
            id: g.index.to_string(),
            util_pct: g.util_pct,
            temperature_c: g.temperature_c,
            vram_used_bytes: g.vram_used_bytes.map(|v| v as f64),
            vram_total_bytes: g.vram_total_bytes.map(|v| v as f64),
            power_w: g.power_w,
            name: Some(g.name.clone()),
            power_limit_w: g.power_limit_w,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BufferReport {
    pub queued: u64,
    pub dropped_total: u64,
}

/// Why a whole heartbeat is refused (400 with this text).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HeartbeatError {
    #[error("unsupported schema version {0} (this hub reads {SCHEMA})")]
    Schema(u32),
    #[error(
        "collected_ms is {0} ms ahead of the hub's clock (allowed: {1} ms); fix the agent's clock"
    )]
    Ahead(i64, i64),
    #[error("collected_ms is {0} ms old (kept at most {1} ms); the heartbeat is too old to store")]
    TooOld(i64, i64),
    #[error("{what}: {n} entries, at most {max}")]
    TooMany {
        what: &'static str,
        n: usize,
        max: usize,
    },
    #[error("agent_version must be 1–64 printable characters")]
    AgentVersion,
    #[error("disk_mount must be an absolute path of at most 256 bytes")]
    DiskMount,
}

/// What a heartbeat says beyond its samples: the host's unhealthy containers, the actions its
/// agent allows, and its reports on actions.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ActionNews {
    pub unhealthy: Vec<String>,
    pub allowed: Vec<ActionKind>,
    pub reports: Vec<ActionReport>,
}

/// The limits a heartbeat is judged by.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub clock_skew_ms: i64,
    pub max_age_ms: i64,
}

/// A heartbeat that passed, in the hub's terms.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    pub vitals: Vitals,
    pub status: AgentStatus,
    pub agent_version: String,
    pub seq: u64,
    pub disk_mount: String,
    pub containers: Option<ContainerCounts>,
    pub buffer: BufferReport,
    pub news: ActionNews,
    /// `field: reason` of each dropped field.
    pub rejected: Vec<String>,
    /// `field: from → to` of each clamped field.
    pub clamped: Vec<String>,
    /// The host's GPUs as its page shows them, with the readings as kept above.
    pub gpus: Vec<GpuSummary>,
    pub gpu_error: Option<String>,
    pub containers_error: Option<String>,
    /// Its containers, in the page's order ([`HostContainer::sort`]).
    pub container_list: Vec<HostContainer>,
    /// Its model servers, as kept by the rules above.
    pub models: Vec<HostBackend>,
}

impl Accepted {
    /// The samples history keeps of this heartbeat (and the remote writer sends): its metrics,
    /// GPUs included, and each model server's latency, queue and tokens/s, all at the time the
    /// agent collected them.
    pub fn samples(&self) -> Vec<crate::store::history::Sample> {
        use crate::store::history::task::{samples_from_vitals, ModelServerReadings};
        let mut out = samples_from_vitals(&self.vitals);
        for b in &self.models {
            out.extend(ModelServerReadings::from(b).samples(&b.name, self.vitals.collected_at_ms));
        }
        out
    }
}

/// Applies the rules above; `host` is the token's host (never a field of the body).
pub fn validate(
    hb: Heartbeat,
    host: &str,
    now_ms: i64,
    limits: Limits,
    thresholds: &Thresholds,
) -> Result<Accepted, HeartbeatError> {
    if hb.schema != SCHEMA {
        return Err(HeartbeatError::Schema(hb.schema));
    }
    let ahead = hb.collected_ms.saturating_sub(now_ms);
    if ahead > limits.clock_skew_ms {
        return Err(HeartbeatError::Ahead(ahead, limits.clock_skew_ms));
    }
    let age = now_ms.saturating_sub(hb.collected_ms);
    if age > limits.max_age_ms {
        return Err(HeartbeatError::TooOld(age, limits.max_age_ms));
    }
    if hb.agent_version.is_empty()
        || hb.agent_version.chars().count() > 64
        || hb.agent_version.chars().any(char::is_control)
    {
        return Err(HeartbeatError::AgentVersion);
    }
    if !hb.disk_mount.starts_with('/') || hb.disk_mount.len() > 256 {
        return Err(HeartbeatError::DiskMount);
    }
    if hb.metrics.len() > MAX_METRICS {
        return Err(HeartbeatError::TooMany {
            what: "metrics",
            n: hb.metrics.len(),
            max: MAX_METRICS,
        });
    }
    if hb.gpus.len() > MAX_GPUS {
        return Err(HeartbeatError::TooMany {
            what: "gpus",
            n: hb.gpus.len(),
            max: MAX_GPUS,
        });
    }
    for (what, n, max) in [
        ("unhealthy", hb.unhealthy.len(), MAX_UNHEALTHY),
        ("action_reports", hb.action_reports.len(), MAX_REPORTS),
        ("container_list", hb.container_list.len(), MAX_CONTAINERS),
        ("models", hb.models.len(), MAX_BACKENDS),
    ] {
        if n > max {
            return Err(HeartbeatError::TooMany { what, n, max });
        }
    }
    let mut out = Judge {
        thresholds,
        metrics: Vec::with_capacity(hb.metrics.len() + 4 * hb.gpus.len()),
        rejected: Vec::new(),
        clamped: Vec::new(),
        gpus: Vec::with_capacity(hb.gpus.len()),
    };
    for m in hb.metrics {
        out.metric(m);
    }
    for g in hb.gpus {
        out.gpu(g);
    }
    out.used_within_total(
        MetricId::MemAvailableBytes,
        MetricId::MemTotalBytes,
        None,
        None,
    );
    out.used_within_total(
        MetricId::SwapUsedBytes,
        MetricId::SwapTotalBytes,
        None,
        None,
    );
    let containers = hb.containers.map(|c| out.containers(c));
    let news = out.news(hb.unhealthy, hb.allowed_actions, hb.action_reports);
    let container_list = out.container_list(hb.container_list);
    let models = out.models(hb.models);
    Ok(Accepted {
        vitals: Vitals {
            host: host.to_string(),
            cores: hb.cores,
            collected_at_ms: hb.collected_ms,
            metrics: out.metrics,
            top_rss: Vec::new(),
            top_cpu: Vec::new(),
        },
        status: hb.status,
        agent_version: hb.agent_version,
        seq: hb.seq,
        disk_mount: hb.disk_mount,
        containers,
        buffer: hb.buffer,
        news,
        rejected: out.rejected,
        clamped: out.clamped,
        gpus: out.gpus,
        gpu_error: hb.gpu_error.map(error_text),
        containers_error: hb.containers_error.map(error_text),
        container_list,
        models,
    })
}

/// An agent's error message as kept: control characters dropped, cut to 256 characters.
fn error_text(e: String) -> String {
    cut(&e, MAX_NOTE)
}

/// Text as kept: control characters dropped, cut to `max` characters.
fn cut(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Most characters of a container's status words.
const MAX_STATUS: usize = 128;
/// Most characters of a loaded model's name and of a backend's version.
const MAX_MODEL_NAME: usize = 128;
const MAX_VERSION: usize = 64;

struct Judge<'a> {
    thresholds: &'a Thresholds,
    metrics: Vec<Metric>,
    rejected: Vec<String>,
    clamped: Vec<String>,
    gpus: Vec<GpuSummary>,
}

impl Judge<'_> {
    fn models(&mut self, list: Vec<HostBackend>) -> Vec<HostBackend> {
        let mut kept: Vec<HostBackend> = Vec::with_capacity(list.len());
        for mut b in list {
            if !app::maintenance::valid_slug(&b.name) {
                self.rejected.push(format!(
                    "models: {:?} is not a backend name",
                    short(&b.name)
                ));
                continue;
            }
            if kept.iter().any(|k| k.name == b.name) {
                self.rejected.push(format!("models: {} sent twice", b.name));
                continue;
            }
            let name = b.name.clone();
            for (what, value) in [
                ("requests_running", &mut b.requests_running),
                ("requests_waiting", &mut b.requests_waiting),
                ("tokens_per_s", &mut b.tokens_per_s),
                ("ttft_p50_s", &mut b.ttft_p50_s),
            ] {
                if let Some(v) = *value {
                    if !v.is_finite() || v < 0.0 {
                        self.rejected
                            .push(format!("models: {name} {what}: {v} is not a count or rate"));
                        *value = None;
                    }
                }
            }
            if let Some(v) = b.kv_cache_pct {
                if !v.is_finite() {
                    self.rejected.push(format!(
                        "models: {name} kv_cache_pct: {v} is not a percentage"
                    ));
                    b.kv_cache_pct = None;
                } else if !(0.0..=100.0).contains(&v) {
                    let to = v.clamp(0.0, 100.0);
                    self.clamped
                        .push(format!("models: {name} kv_cache_pct: {v} → {to}"));
                    b.kv_cache_pct = Some(to);
                }
            }
            if b.loaded.len() > MAX_LOADED {
                self.rejected.push(format!(
                    "models: {name} loaded: {} names, the first {MAX_LOADED} kept",
                    b.loaded.len()
                ));
                b.loaded.truncate(MAX_LOADED);
            }
            b.loaded = b
                .loaded
                .iter()
                .map(|m| cut(m, MAX_MODEL_NAME))
                .filter(|m| !m.is_empty())
                .collect();
            b.version = b
                .version
                .map(|v| cut(&v, MAX_VERSION))
                .filter(|v| !v.is_empty());
            b.error = b.error.map(error_text);
            kept.push(b);
        }
        kept.sort_by(|a, b| a.name.cmp(&b.name));
        kept
    }

    fn container_list(&mut self, list: Vec<HostContainer>) -> Vec<HostContainer> {
        use app::containers::{ContainerState, Health};
        let mut kept: Vec<HostContainer> = Vec::with_capacity(list.len());
        for c in list {
            if !valid_container_name(&c.name) {
                self.rejected.push(format!(
                    "container_list: {:?} is not a container name",
                    short(&c.name)
                ));
            } else if kept.iter().any(|k| k.name == c.name) {
                self.rejected
                    .push(format!("container_list: {} sent twice", c.name));
            } else {
                let running = c.state == ContainerState::Running;
                kept.push(HostContainer {
                    image: cut(&c.image, MAX_NOTE),
                    status: cut(&c.status, MAX_STATUS),
                    // Docker keeps a stopped container's last health; it is not unhealthy now.
                    health: if running { c.health } else { Health::None },
                    ..c
                });
            }
        }
        HostContainer::sort(&mut kept);
        kept
    }

    fn news(
        &mut self,
        unhealthy: Vec<String>,
        mut allowed: Vec<ActionKind>,
        reports: Vec<ActionReport>,
    ) -> ActionNews {
        let mut names = Vec::with_capacity(unhealthy.len());
        for n in unhealthy {
            if !valid_container_name(&n) {
                self.rejected.push(format!(
                    "unhealthy: {:?} is not a container name",
                    short(&n)
                ));
            } else if !names.contains(&n) {
                names.push(n);
            }
        }
        allowed.sort();
        allowed.dedup();
        let mut kept = Vec::with_capacity(reports.len());
        for r in reports {
            let bad = if matches!(
                r.state,
                ActionState::Queued | ActionState::Delivered | ActionState::Expired
            ) {
                Some(format!("state {} is the hub's to set", r.state.key()))
            } else if r.id.is_empty() || r.id.len() > 64 {
                Some("an action id is 1–64 bytes".into())
            } else if r.results.len() > app::fleet::action::MAX_ACTION_CONTAINERS {
                Some("too many results".into())
            } else if r.results.iter().any(|c| !valid_container_name(&c.name)) {
                Some("a result names no valid container".into())
            } else {
                None
            };
            match bad {
                Some(why) => self
                    .rejected
                    .push(format!("action_reports[{}]: {why}", short(&r.id))),
                None => kept.push(ActionReport {
                    message: r.message.map(|m| m.chars().take(MAX_NOTE).collect()),
                    results: r
                        .results
                        .into_iter()
                        .map(|mut c| {
                            c.message = c.message.map(|m| m.chars().take(MAX_NOTE).collect());
                            c
                        })
                        .collect(),
                    ..r
                }),
            }
        }
        ActionNews {
            unhealthy: names,
            allowed,
            reports: kept,
        }
    }

    fn metric(&mut self, m: WireMetric) {
        let key = app::vitals::series_key(&m.name, m.label.as_deref());
        let Some(def) = metric_def::by_name(&m.name) else {
            return self
                .rejected
                .push(format!("{}: not a metric Steward knows", short(&key)));
        };
        match (&m.label, def.label) {
            (None, LabelKind::None) => {}
            (Some(_), LabelKind::None) => {
                return self
                    .rejected
                    .push(format!("{}: this metric takes no label", short(&key)));
            }
            (None, _) => {
                return self
                    .rejected
                    .push(format!("{}: this metric needs a label", short(&key)));
            }
            (Some(l), _)
                if l.is_empty() || l.len() > MAX_LABEL || l.chars().any(char::is_control) =>
            {
                return self.rejected.push(format!(
                    "{}: a label is 1–{MAX_LABEL} bytes without control characters",
                    short(&key)
                ));
            }
            (Some(_), _) => {}
        }
        if self
            .metrics
            .iter()
            .any(|x| x.name == m.name && x.label == m.label)
        {
            return self.rejected.push(format!("{key}: sent twice"));
        }
        let value = match m.value {
            None => None,
            Some(v) => match self.in_range(&key, def.unit, v) {
                Some(v) => Some(v),
                None => return,
            },
        };
        self.push(def.id, m.label, value, m.note);
    }

    /// The value by its unit's rule: clamped, kept, or `None` when dropped (and reported).
    fn in_range(&mut self, key: &str, unit: Unit, v: f64) -> Option<f64> {
        if !v.is_finite() {
            self.rejected.push(format!("{key}: not a finite number"));
            return None;
        }
        match unit {
            Unit::Percent => {
                let c = v.clamp(0.0, 100.0);
                if c != v {
                    self.clamped.push(format!("{key}: {v} → {c}"));
                }
                Some(c)
            }
            Unit::Celsius if !(CELSIUS.0..=CELSIUS.1).contains(&v) => {
                self.rejected.push(format!(
                    "{key}: {v} °C is outside {}…{} °C",
                    CELSIUS.0, CELSIUS.1
                ));
                None
            }
            Unit::Celsius => Some(v),
            _ if v < 0.0 => {
                self.rejected.push(format!("{key}: {v} is negative"));
                None
            }
            _ => Some(v),
        }
    }

    fn push(
        &mut self,
        id: MetricId,
        label: Option<String>,
        value: Option<f64>,
        note: Option<String>,
    ) {
        let def = id.def();
        let threshold = def
            .threshold
            .and_then(|k| self.thresholds.by_key(k, label.as_deref()));
        let level = match value {
            Some(v) => threshold.map(|t| t.level(v)).unwrap_or(Level::Ok),
            None => Level::Unknown,
        };
        let note = match (value, note) {
            (_, Some(n)) => Some(n.chars().take(MAX_NOTE).collect()),
            (None, None) => Some("the agent could not read it".to_string()),
            (Some(_), None) => None,
        };
        self.metrics.push(Metric {
            name: def.name.to_string(),
            label,
            value,
            unit: def.unit,
            level,
            warn: threshold.and_then(|t| t.warn),
            crit: threshold.and_then(|t| t.crit),
            note,
        });
    }

    fn gpu(&mut self, g: WireGpu) {
        if g.id.is_empty() || g.id.len() > MAX_LABEL || g.id.chars().any(char::is_control) {
            return self.rejected.push(format!(
                "gpus[{}]: a GPU id is 1–{MAX_LABEL} bytes",
                short(&g.id)
            ));
        }
        if self.metrics.iter().any(|m| {
            m.name == MetricId::GpuUtilPct.name() && m.label.as_deref() == Some(g.id.as_str())
        }) {
            return self.rejected.push(format!("gpus[{}]: sent twice", g.id));
        }
        let fields = [
            (MetricId::GpuUtilPct, g.util_pct),
            (MetricId::GpuTemperatureC, g.temperature_c),
            (MetricId::GpuVramUsedBytes, g.vram_used_bytes),
            (MetricId::GpuPowerW, g.power_w),
        ];
        for (id, value) in fields {
            let key = id.series_key(Some(&g.id));
            let value = match value {
                Some(v) => match self.in_range(&key, id.def().unit, v) {
                    Some(v) => Some(v),
                    None => continue,
                },
                None => None,
            };
            self.push(id, Some(g.id.clone()), value, None);
        }
        let total = g.vram_total_bytes.filter(|t| t.is_finite() && *t >= 0.0);
        if let Some(total) = total {
            self.clamp_to(MetricId::GpuVramUsedBytes, Some(&g.id), total);
        }
        let name = match g.name {
            Some(n) if n.len() > MAX_LABEL || n.chars().any(char::is_control) => {
                self.rejected.push(format!(
                    "gpus[{}].name: over {MAX_LABEL} bytes or unprintable",
                    g.id
                ));
                None
            }
            n => n.filter(|n| !n.trim().is_empty()),
        };
        let power_limit_w = match g.power_limit_w {
            Some(w) if !w.is_finite() || w < 0.0 => {
                self.rejected
                    .push(format!("gpus[{}].power_limit_w: {w} is not a power", g.id));
                None
            }
            w => w,
        };
        let kept = |id: MetricId| {
            self.metrics
                .iter()
                .find(|m| m.name == id.name() && m.label.as_deref() == Some(g.id.as_str()))
                .and_then(|m| m.value)
        };
        let summary = GpuSummary {
            index: g.id.parse().unwrap_or(self.gpus.len() as u32),
            name: name.unwrap_or_else(|| format!("GPU {}", g.id)),
            util_pct: kept(MetricId::GpuUtilPct),
            vram_used_bytes: kept(MetricId::GpuVramUsedBytes).map(|v| v as u64),
            vram_total_bytes: total.map(|t| t as u64),
            temperature_c: kept(MetricId::GpuTemperatureC),
            power_w: kept(MetricId::GpuPowerW),
            power_limit_w,
        };
        self.gpus.push(summary);
    }

    /// Clamps `used` to `total` when both were sent.
    fn used_within_total(
        &mut self,
        used: MetricId,
        total: MetricId,
        used_label: Option<&str>,
        total_label: Option<&str>,
    ) {
        let total = self
            .metrics
            .iter()
            .find(|m| m.name == total.name() && m.label.as_deref() == total_label)
            .and_then(|m| m.value);
        if let Some(total) = total {
            self.clamp_to(used, used_label, total);
        }
    }

    fn clamp_to(&mut self, id: MetricId, label: Option<&str>, max: f64) {
        let key = id.series_key(label);
        if let Some(m) = self
            .metrics
            .iter_mut()
            .find(|m| m.name == id.name() && m.label.as_deref() == label)
        {
            if let Some(v) = m.value.filter(|v| *v > max) {
                m.value = Some(max);
                self.clamped.push(format!("{key}: {v} → {max} (its total)"));
            }
        }
    }

    fn containers(&mut self, c: ContainerCounts) -> ContainerCounts {
        let mut out = c;
        if c.running > c.total {
            out.running = c.total;
            self.clamped
                .push(format!("containers.running: {} → {}", c.running, c.total));
        }
        if c.unhealthy > c.total {
            out.unhealthy = c.total;
            self.clamped.push(format!(
                "containers.unhealthy: {} → {}",
                c.unhealthy, c.total
            ));
        }
        out
    }
}

/// A field name as the answer repeats it: at most 80 characters of what was sent.
fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The heartbeat of one collected round (the agent's side).
pub fn from_vitals(
    v: &Vitals,
    seq: u64,
    status: AgentStatus,
    disk_mount: &str,
    containers: Option<ContainerCounts>,
    buffer: BufferReport,
    news: ActionNews,
) -> Heartbeat {
    Heartbeat {
        schema: SCHEMA,
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        status,
        seq,
        collected_ms: v.collected_at_ms,
        cores: v.cores,
        disk_mount: disk_mount.to_string(),
        metrics: v
            .metrics
            .iter()
            .map(|m| WireMetric {
                name: m.name.clone(),
                label: m.label.clone(),
                value: m.value,
                note: m.note.clone(),
            })
            .collect(),
        gpus: Vec::new(),
        containers,
        buffer,
        unhealthy: news.unhealthy,
        allowed_actions: news.allowed,
        action_reports: news.reports,
        gpu_error: None,
        containers_error: None,
        container_list: Vec::new(),
        models: Vec::new(),
    }
}

impl Heartbeat {
    /// Adds the round's GPU reading: each card, and the error when the agent could not read
    /// them (no GPU is neither).
    pub fn with_gpus(mut self, report: &GpuReport) -> Self {
        let (gpus, error) = match report {
            GpuReport::Ok { gpus } => (gpus.as_slice(), None),
            GpuReport::Error { message, gpus } => (gpus.as_slice(), Some(message.clone())),
            GpuReport::None { .. } | GpuReport::Starting => (&[][..], None),
        };
        self.gpus = gpus.iter().take(MAX_GPUS).map(WireGpu::from_gpu).collect();
        self.gpu_error = error;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const LIMITS: Limits = Limits {
        clock_skew_ms: 60_000,
        max_age_ms: 86_400_000,
    };

    fn beat(metrics: Vec<WireMetric>) -> Heartbeat {
        Heartbeat {
            schema: 1,
            agent_version: "0.1.0".into(),
            status: AgentStatus::Ready,
            seq: 7,
            collected_ms: NOW - 1_000,
            cores: 4,
            disk_mount: "/".into(),
            metrics,
            gpus: vec![],
            containers: None,
            buffer: BufferReport::default(),
            unhealthy: vec![],
            allowed_actions: vec![],
            action_reports: vec![],
            gpu_error: None,
            containers_error: None,
            container_list: vec![],
            models: vec![],
        }
    }

    fn m(name: &str, label: Option<&str>, value: f64) -> WireMetric {
        WireMetric {
            name: name.into(),
            label: label.map(Into::into),
            value: Some(value),
            note: None,
        }
    }

    fn check(hb: Heartbeat) -> Result<Accepted, HeartbeatError> {
        validate(hb, "web-01", NOW, LIMITS, &Thresholds::default())
    }

    fn value(a: &Accepted, name: &str, label: Option<&str>) -> Option<f64> {
        a.vitals.metric(name, label).and_then(|m| m.value)
    }

    #[test]
    fn the_schema_version_must_be_one() {
        let mut hb = beat(vec![]);
        hb.schema = 2;
        assert_eq!(check(hb), Err(HeartbeatError::Schema(2)));
    }

    #[test]
    fn unknown_fields_are_refused_by_the_parser() {
        let body = r#"{"schema":1,"agent_version":"1","seq":1,"collected_ms":1,"surprise":true}"#;
        let e = serde_json::from_str::<Heartbeat>(body).unwrap_err();
        assert!(e.to_string().contains("unknown field `surprise`"), "{e}");
    }

    #[test]
    fn timestamps_must_be_within_the_skew_window_and_the_age_limit() {
        let mut hb = beat(vec![]);
        hb.collected_ms = NOW + 60_000;
        assert!(check(hb.clone()).is_ok(), "exactly the skew is allowed");
        hb.collected_ms = NOW + 60_001;
        assert_eq!(
            check(hb.clone()),
            Err(HeartbeatError::Ahead(60_001, 60_000))
        );
        hb.collected_ms = NOW - 86_400_001;
        assert!(matches!(check(hb), Err(HeartbeatError::TooOld(..))));
    }

    #[test]
    fn percentages_are_clamped_to_0_100() {
        let a = check(beat(vec![
            m("cpu_busy_pct", None, 104.0),
            m("cpu_steal_pct", None, -2.0),
            m("mem_used_pct", None, 55.5),
        ]))
        .unwrap();
        assert_eq!(value(&a, "cpu_busy_pct", None), Some(100.0));
        assert_eq!(value(&a, "cpu_steal_pct", None), Some(0.0));
        assert_eq!(value(&a, "mem_used_pct", None), Some(55.5));
        assert_eq!(a.clamped.len(), 2, "{:?}", a.clamped);
        assert!(a.rejected.is_empty());
    }

    #[test]
    fn temperatures_outside_minus_50_to_150_are_dropped() {
        let mut hb = beat(vec![]);
        hb.gpus = vec![
            WireGpu {
                id: "0".into(),
                temperature_c: Some(151.0),
                util_pct: Some(40.0),
                ..Default::default()
            },
            WireGpu {
                id: "1".into(),
                temperature_c: Some(-50.0),
                ..Default::default()
            },
        ];
        let a = check(hb).unwrap();
        assert_eq!(value(&a, "gpu_temperature_c", Some("0")), None);
        assert!(a.vitals.metric("gpu_temperature_c", Some("0")).is_none());
        assert_eq!(value(&a, "gpu_util_pct", Some("0")), Some(40.0));
        assert_eq!(value(&a, "gpu_temperature_c", Some("1")), Some(-50.0));
        assert_eq!(
            a.rejected,
            ["gpu_temperature_c:0: 151 °C is outside -50…150 °C"]
        );
    }

    #[test]
    fn used_is_clamped_to_its_total() {
        let mut hb = beat(vec![
            m("mem_total_bytes", None, 1000.0),
            m("mem_available_bytes", None, 1500.0),
            m("swap_total_bytes", None, 0.0),
            m("swap_used_bytes", None, 10.0),
        ]);
        hb.gpus = vec![WireGpu {
            id: "0".into(),
            vram_used_bytes: Some(90.0),
            vram_total_bytes: Some(80.0),
            ..Default::default()
        }];
        let a = check(hb).unwrap();
        assert_eq!(value(&a, "mem_available_bytes", None), Some(1000.0));
        assert_eq!(value(&a, "swap_used_bytes", None), Some(0.0));
        assert_eq!(value(&a, "gpu_vram_used_bytes", Some("0")), Some(80.0));
        assert_eq!(a.clamped.len(), 3, "{:?}", a.clamped);
    }

    #[test]
    fn gpus_reach_the_host_page_as_kept_and_an_agents_gpu_error_is_kept() {
        let mut hb = beat(vec![]);
        hb.gpus = vec![
            WireGpu {
                id: "0".into(),
                util_pct: Some(130.0),
                temperature_c: Some(71.0),
                vram_used_bytes: Some(90.0),
                vram_total_bytes: Some(80.0),
                power_w: Some(300.0),
                name: Some("NVIDIA H200".into()),
                power_limit_w: Some(700.0),
            },
            WireGpu {
                id: "1".into(),
                temperature_c: Some(400.0),
                name: Some("bad\u{7}name".into()),
                power_limit_w: Some(-1.0),
                ..Default::default()
            },
        ];
        hb.gpu_error = Some(format!("NVML\nfailed {}", "x".repeat(400)));
        let a = check(hb).unwrap();
        let g0 = &a.gpus[0];
        assert_eq!(
            (g0.index, g0.name.as_str(), g0.util_pct, g0.temperature_c),
            (0, "NVIDIA H200", Some(100.0), Some(71.0)),
            "clamped like the metric"
        );
        assert_eq!(
            (
                g0.vram_used_bytes,
                g0.vram_total_bytes,
                g0.power_w,
                g0.power_limit_w
            ),
            (Some(80), Some(80), Some(300.0), Some(700.0))
        );
        let g1 = &a.gpus[1];
        assert_eq!(
            (
                g1.index,
                g1.name.as_str(),
                g1.temperature_c,
                g1.power_limit_w
            ),
            (1, "GPU 1", None, None),
            "a glitch, an unprintable name and a negative limit are dropped"
        );
        assert_eq!(a.rejected.len(), 3, "{:?}", a.rejected);
        let e = a.gpu_error.unwrap();
        assert!(
            e.starts_with("NVMLfailed") && e.chars().count() == 256,
            "{e}"
        );
    }

    #[test]
    fn an_agents_docker_error_is_kept_cut_and_left_off_the_wire_when_none() {
        let mut hb = beat(vec![]);
        let wire = serde_json::to_string(&hb).unwrap();
        assert!(!wire.contains("containers_error"), "{wire}");
        hb.containers_error = Some(format!("connect\r\nrefused {}", "y".repeat(400)));
        let e = check(hb).unwrap().containers_error.unwrap();
        assert!(
            e.starts_with("connectrefused") && e.chars().count() == 256,
            "{e}"
        );
    }

    #[test]
    fn a_container_list_is_kept_cleaned_and_in_the_pages_order() {
        use app::containers::{ContainerState, Health};
        let c = |name: &str, state, health, status: &str| HostContainer {
            name: name.into(),
            image: "nginx:1.27".into(),
            state,
            health,
            status: status.into(),
        };
        let mut hb = beat(vec![]);
        assert!(
            !serde_json::to_string(&hb)
                .unwrap()
                .contains("container_list"),
            "an empty list stays off the wire (older hubs take the heartbeat)"
        );
        hb.container_list = vec![
            c(
                "web",
                ContainerState::Running,
                Health::Healthy,
                "Up 2 hours (healthy)",
            ),
            c(
                "job",
                ContainerState::Exited,
                Health::Unhealthy,
                "Exited (1) 5 minutes ago",
            ),
            c("bad name", ContainerState::Running, Health::None, ""),
            c(
                "db",
                ContainerState::Running,
                Health::Unhealthy,
                "Up 1 hour (unhealthy)",
            ),
            c("web", ContainerState::Running, Health::None, "again"),
            HostContainer {
                image: format!("evil\u{1b}[31m{}", "i".repeat(400)),
                status: "s".repeat(300),
                ..c("api", ContainerState::Running, Health::None, "")
            },
        ];
        let a = check(hb).unwrap();
        let names: Vec<_> = a.container_list.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["db", "job", "api", "web"]);
        assert_eq!(
            a.container_list[1].health,
            Health::None,
            "a stopped container's old health is not kept"
        );
        let api = &a.container_list[2];
        assert!(api.image.starts_with("evil[31m") && api.image.chars().count() == 256);
        assert_eq!(api.status.chars().count(), 128);
        assert_eq!(
            a.rejected,
            [
                "container_list: \"bad name\" is not a container name",
                "container_list: web sent twice"
            ]
        );

        let mut hb = beat(vec![]);
        hb.container_list =
            vec![c("a", ContainerState::Running, Health::None, ""); MAX_CONTAINERS + 1];
        assert_eq!(
            check(hb).unwrap_err(),
            HeartbeatError::TooMany {
                what: "container_list",
                n: MAX_CONTAINERS + 1,
                max: MAX_CONTAINERS
            }
        );
    }

    #[test]
    fn model_servers_are_kept_cleaned_and_by_name() {
        use app::models::{BackendKind, BackendState};
        let b = |name: &str| HostBackend {
            name: name.into(),
            kind: BackendKind::Llamacpp,
            state: BackendState::Ok,
            version: None,
            error: None,
            check_ms: Some(8),
            requests_running: Some(1.0),
            requests_waiting: Some(0.0),
            tokens_per_s: Some(41.5),
            ttft_p50_s: Some(0.2),
            kv_cache_pct: Some(12.0),
            loaded: vec!["smollm2".into()],
        };
        let mut hb = beat(vec![]);
        assert!(
            !serde_json::to_string(&hb).unwrap().contains("models"),
            "no model servers stay off the wire (older hubs take the heartbeat)"
        );
        hb.models = vec![
            HostBackend {
                state: BackendState::Down,
                error: Some(format!("connection refused\u{7}{}", "e".repeat(300))),
                requests_running: Some(-1.0),
                tokens_per_s: Some(f64::NAN),
                kv_cache_pct: Some(140.0),
                version: Some("v".repeat(100)),
                loaded: vec!["m".repeat(200); MAX_LOADED + 1],
                ..b("vllm-b")
            },
            b("Bad Name"),
            b("llama-a"),
            b("llama-a"),
        ];
        let a = check(hb).unwrap();
        let names: Vec<_> = a.models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["llama-a", "vllm-b"]);
        assert_eq!(a.models[0], b("llama-a"), "a clean entry is kept as sent");
        let v = &a.models[1];
        assert_eq!((v.requests_running, v.tokens_per_s), (None, None));
        assert_eq!(v.kv_cache_pct, Some(100.0));
        assert_eq!(v.requests_waiting, Some(0.0));
        assert_eq!(v.version.as_ref().map(|s| s.len()), Some(64));
        let error = v.error.as_deref().unwrap();
        assert!(error.starts_with("connection refusede") && error.chars().count() == 256);
        assert_eq!(v.loaded.len(), MAX_LOADED);
        assert!(v.loaded.iter().all(|m| m.chars().count() == 128));
        assert_eq!(
            a.rejected,
            [
                "models: vllm-b requests_running: -1 is not a count or rate",
                "models: vllm-b tokens_per_s: NaN is not a count or rate",
                "models: vllm-b loaded: 65 names, the first 64 kept",
                "models: \"Bad Name\" is not a backend name",
                "models: llama-a sent twice",
            ]
        );
        assert_eq!(a.clamped, ["models: vllm-b kv_cache_pct: 140 → 100"]);
        // History keeps what survived the rules, per server, at the collection time.
        let mut kept: Vec<(String, f64)> = a
            .samples()
            .into_iter()
            .filter(|s| s.series.starts_with("model_"))
            .inspect(|s| assert_eq!(s.ts_ms, a.vitals.collected_at_ms))
            .map(|s| (s.series, s.value))
            .collect();
        kept.sort_by(|x, y| x.0.cmp(&y.0));
        let want = [
            ("model_check_ms:llama-a", 8.0),
            ("model_check_ms:vllm-b", 8.0),
            ("model_requests_running:llama-a", 1.0),
            ("model_requests_waiting:llama-a", 0.0),
            ("model_requests_waiting:vllm-b", 0.0),
            ("model_tokens_per_s:llama-a", 41.5),
        ];
        let want: Vec<(String, f64)> = want.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(kept, want, "a dropped reading writes no sample");

        let mut hb = beat(vec![]);
        hb.models = vec![b("x"); MAX_BACKENDS + 1];
        assert_eq!(
            check(hb).unwrap_err(),
            HeartbeatError::TooMany {
                what: "models",
                n: MAX_BACKENDS + 1,
                max: MAX_BACKENDS
            }
        );
        // A kind or state this hub does not know is the parser's 400, as the schema says.
        let mut wire = serde_json::to_value(beat(vec![])).unwrap();
        wire["models"] = serde_json::json!([{"name": "x", "kind": "tgi", "state": "ok"}]);
        assert!(serde_json::from_value::<Heartbeat>(wire).is_err());
    }

    #[test]
    fn an_agents_gpu_reading_goes_on_the_wire_with_its_error() {
        let card = app::models::Gpu {
            index: 2,
            vendor: app::models::GpuVendor::Amd,
            name: "AMD Radeon".into(),
            util_pct: Some(4.0),
            vram_used_bytes: Some(1),
            vram_total_bytes: Some(8),
            temperature_c: Some(51.0),
            power_w: Some(25.0),
            power_limit_w: Some(150.0),
            fan_pct: None,
            processes: Vec::new(),
        };
        let hb = beat(vec![]).with_gpus(&GpuReport::Error {
            message: "NVML could not be loaded".into(),
            gpus: vec![card],
        });
        assert_eq!(hb.gpu_error.as_deref(), Some("NVML could not be loaded"));
        assert_eq!(
            (
                hb.gpus[0].id.as_str(),
                hb.gpus[0].name.as_deref(),
                hb.gpus[0].vram_total_bytes
            ),
            ("2", Some("AMD Radeon"), Some(8.0))
        );
        let none = beat(vec![]).with_gpus(&GpuReport::None {
            detail: "none".into(),
        });
        assert!(none.gpus.is_empty() && none.gpu_error.is_none());
        let wire = serde_json::to_string(&none).unwrap();
        assert!(
            !wire.contains("gpu_error"),
            "left off when empty, so an older hub takes it: {wire}"
        );
        let a = check(hb).unwrap();
        assert_eq!(a.gpus[0].index, 2);
    }

    #[test]
    fn negative_bytes_counts_and_loads_are_dropped() {
        let a = check(beat(vec![
            m("disk_read_bps", None, -1.0),
            m("load1", None, -0.5),
            m("procs_d_state", None, 3.0),
        ]))
        .unwrap();
        assert_eq!(a.rejected.len(), 2, "{:?}", a.rejected);
        assert_eq!(value(&a, "procs_d_state", None), Some(3.0));
    }

    #[test]
    fn unknown_names_wrong_labels_and_repeats_are_dropped() {
        let a = check(beat(vec![
            m("cpu_magic_pct", None, 1.0),
            m("cpu_busy_pct", Some("x"), 1.0),
            m("disk_used_pct", None, 1.0),
            m("disk_used_pct", Some("/"), 40.0),
            m("disk_used_pct", Some("/"), 41.0),
            m("disk_used_pct", Some("bad\nlabel"), 1.0),
        ]))
        .unwrap();
        assert_eq!(a.rejected.len(), 5, "{:?}", a.rejected);
        assert_eq!(value(&a, "disk_used_pct", Some("/")), Some(40.0));
    }

    #[test]
    fn levels_come_from_the_hubs_thresholds_and_unknowns_keep_their_reason() {
        let a = check(beat(vec![
            m("cpu_steal_pct", None, 16.0),
            WireMetric {
                name: "psi_io_some_avg10".into(),
                label: None,
                value: None,
                note: Some("no PSI on this kernel".into()),
            },
        ]))
        .unwrap();
        let steal = a.vitals.metric("cpu_steal_pct", None).unwrap();
        assert_eq!(steal.level, Level::Crit, "the default steal crit is 15 %");
        let psi = a.vitals.metric("psi_io_some_avg10", None).unwrap();
        assert_eq!(psi.level, Level::Unknown);
        assert_eq!(psi.note.as_deref(), Some("no PSI on this kernel"));
    }

    #[test]
    fn container_counts_are_clamped_to_the_total() {
        let mut hb = beat(vec![]);
        hb.containers = Some(ContainerCounts {
            total: 3,
            running: 5,
            unhealthy: 4,
        });
        let a = check(hb).unwrap();
        assert_eq!(
            a.containers,
            Some(ContainerCounts {
                total: 3,
                running: 3,
                unhealthy: 3
            })
        );
    }

    #[test]
    fn too_many_metrics_or_a_bad_version_refuse_the_heartbeat() {
        let hb = beat(vec![m("load1", None, 1.0); MAX_METRICS + 1]);
        assert!(matches!(check(hb), Err(HeartbeatError::TooMany { .. })));
        let mut hb = beat(vec![]);
        hb.agent_version = "x".repeat(65);
        assert_eq!(check(hb), Err(HeartbeatError::AgentVersion));
        let mut hb = beat(vec![]);
        hb.disk_mount = "relative".into();
        assert_eq!(check(hb), Err(HeartbeatError::DiskMount));
    }

    #[test]
    fn a_collected_round_round_trips_through_the_wire() {
        let a = check(beat(vec![
            m("cpu_steal_pct", None, 1.5),
            m("disk_used_pct", Some("/"), 40.0),
        ]))
        .unwrap();
        let wire = from_vitals(
            &a.vitals,
            8,
            AgentStatus::Busy,
            "/",
            None,
            BufferReport::default(),
            ActionNews::default(),
        );
        let text = serde_json::to_string(&wire).unwrap();
        assert!(
            !text.contains("unhealthy") && !text.contains("action"),
            "empty action fields stay off the wire, so older hubs still take it: {text}"
        );
        let back: Heartbeat = serde_json::from_str(&text).unwrap();
        let again = check(back).unwrap();
        assert_eq!(again.vitals.metrics, a.vitals.metrics);
        assert_eq!(again.status, AgentStatus::Busy);
    }

    #[test]
    fn action_fields_keep_valid_names_and_agent_states_only() {
        use app::fleet::action::{ContainerOutcome, ContainerResult};
        let mut hb = beat(vec![]);
        hb.unhealthy = vec!["api".into(), "bad name".into(), "api".into(), "db-1".into()];
        hb.allowed_actions = vec![ActionKind::RestartUnhealthy, ActionKind::RestartUnhealthy];
        let result = ContainerResult {
            name: "api".into(),
            outcome: ContainerOutcome::Restarted,
            message: Some("x".repeat(1000)),
        };
        hb.action_reports = vec![
            ActionReport {
                id: "a1".into(),
                state: ActionState::Done,
                results: vec![result],
                message: None,
            },
            ActionReport {
                id: "a2".into(),
                state: ActionState::Expired,
                results: vec![],
                message: None,
            },
            ActionReport {
                id: "a3".into(),
                state: ActionState::Failed,
                results: vec![ContainerResult {
                    name: "../etc".into(),
                    outcome: ContainerOutcome::Failed,
                    message: None,
                }],
                message: None,
            },
        ];
        let a = check(hb.clone()).unwrap();
        assert_eq!(
            a.news.unhealthy,
            vec!["api", "db-1"],
            "invalid and repeated names dropped"
        );
        assert_eq!(a.news.allowed, vec![ActionKind::RestartUnhealthy]);
        assert_eq!(a.news.reports.len(), 1);
        assert_eq!(a.news.reports[0].id, "a1");
        assert_eq!(
            a.news.reports[0].results[0]
                .message
                .as_ref()
                .map(|m| m.len()),
            Some(MAX_NOTE),
            "long messages are cut"
        );
        assert_eq!(a.rejected.len(), 3, "{:?}", a.rejected);
        hb.unhealthy = vec!["a".into(); MAX_UNHEALTHY + 1];
        assert!(matches!(
            check(hb.clone()),
            Err(HeartbeatError::TooMany {
                what: "unhealthy",
                ..
            })
        ));
        let text = r#"{"schema":1,"agent_version":"1","seq":1,"collected_ms":1,"allowed_actions":["reboot"]}"#;
        assert!(
            serde_json::from_str::<Heartbeat>(text).is_err(),
            "an action kind this hub does not know is refused by the parser"
        );
    }
}
