//! A host's latest state as its newest heartbeat gave it (vitals, status, containers, GPUs,
//! what its agent allows), worded for the shared database so that hub replicas on one
//! PostgreSQL show every host's score and vitals, also those whose heartbeats went to another
//! replica. Pure: encoding and decoding only; the store keeps the text, [`super::Fleet`] applies it.

use app::fleet::action::ActionKind;
use app::fleet::{AgentStatus, ContainerCounts, HostBackend, HostContainer};
use app::models::GpuSummary;
use app::vitals::Vitals;
use serde::{Deserialize, Serialize};

use super::heartbeat::Accepted;

/// The stored form's version: a replica that reads a newer one says so instead of guessing.
pub const VERSION: u32 = 1;

/// What a replica takes over from a heartbeat another replica committed.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Latest {
    pub v: u32,
    pub status: AgentStatus,
    pub vitals: Vitals,
    pub disk_mount: String,
    pub containers: Option<ContainerCounts>,
    #[serde(default)]
    pub unhealthy: Vec<String>,
    #[serde(default)]
    pub allowed: Vec<ActionKind>,
    #[serde(default)]
    pub gpus: Vec<GpuSummary>,
    #[serde(default)]
    pub gpu_error: Option<String>,
    #[serde(default)]
    pub containers_error: Option<String>,
    /// Absent in states written before the hub kept the list: read as empty.
    #[serde(default)]
    pub container_list: Vec<HostContainer>,
    /// Absent in states written before the hub kept the model servers: read as empty.
    #[serde(default)]
    pub models: Vec<HostBackend>,
}

/// The same fields, borrowed from the heartbeat, so encoding copies nothing first.
#[derive(Serialize)]
struct LatestOut<'a> {
    v: u32,
    status: AgentStatus,
    vitals: &'a Vitals,
    disk_mount: &'a str,
    containers: Option<ContainerCounts>,
    unhealthy: &'a [String],
    allowed: &'a [ActionKind],
    gpus: &'a [GpuSummary],
    gpu_error: Option<&'a str>,
    containers_error: Option<&'a str>,
    container_list: &'a [HostContainer],
    models: &'a [HostBackend],
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LatestError {
    #[error("stored state is not readable: {0}")]
    Malformed(String),
    #[error("stored state has version {0}; this build reads version {VERSION} (upgrade it)")]
    Version(u32),
}

impl Latest {
    /// The state a committed heartbeat leaves on its host.
    pub fn of(a: &Accepted) -> Self {
        Self {
            v: VERSION,
            status: a.status,
            vitals: a.vitals.clone(),
            disk_mount: a.disk_mount.clone(),
            containers: a.containers,
            unhealthy: a.news.unhealthy.clone(),
            allowed: a.news.allowed.clone(),
            gpus: a.gpus.clone(),
            gpu_error: a.gpu_error.clone(),
            containers_error: a.containers_error.clone(),
            container_list: a.container_list.clone(),
            models: a.models.clone(),
        }
    }

    /// When the agent took it (agent clock): the newest wins.
    pub fn collected_ms(&self) -> i64 {
        self.vitals.collected_at_ms
    }
}

/// The stored text of a committed heartbeat's state.
pub fn encode(a: &Accepted) -> String {
    let out = LatestOut {
        v: VERSION,
        status: a.status,
        vitals: &a.vitals,
        disk_mount: &a.disk_mount,
        containers: a.containers,
        unhealthy: &a.news.unhealthy,
        allowed: &a.news.allowed,
        gpus: &a.gpus,
        gpu_error: a.gpu_error.as_deref(),
        containers_error: a.containers_error.as_deref(),
        container_list: &a.container_list,
        models: &a.models,
    };
    // Plain data with string keys: serialising it cannot fail.
    serde_json::to_string(&out).unwrap_or_default()
}

/// Reads stored text back; a newer version or broken text is an error, never a guess.
pub fn decode(text: &str) -> Result<Latest, LatestError> {
    #[derive(Deserialize)]
    struct Versioned {
        v: u32,
    }
    let v = serde_json::from_str::<Versioned>(text)
        .map_err(|e| LatestError::Malformed(e.to_string()))?
        .v;
    if v != VERSION {
        return Err(LatestError::Version(v));
    }
    serde_json::from_str(text).map_err(|e| LatestError::Malformed(e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fleet::heartbeat::{ActionNews, BufferReport};
    use app::vitals::{Level, Metric, Unit};

    /// A heartbeat as validated, for tests here and in the fleet.
    pub(crate) fn accepted() -> Accepted {
        Accepted {
            vitals: Vitals {
                host: "web-1".into(),
                cores: 4,
                collected_at_ms: 1_700_000_000_000,
                metrics: vec![Metric {
                    name: "load1".into(),
                    label: None,
                    value: Some(0.5),
                    unit: Unit::Count,
                    level: Level::Ok,
                    warn: None,
                    crit: None,
                    note: None,
                }],
                top_rss: Vec::new(),
                top_cpu: Vec::new(),
            },
            status: AgentStatus::Busy,
            agent_version: "1.0".into(),
            seq: 7,
            disk_mount: "/data".into(),
            containers: Some(ContainerCounts {
                total: 3,
                running: 2,
                unhealthy: 1,
            }),
            buffer: BufferReport::default(),
            news: ActionNews {
                unhealthy: vec!["api".into()],
                allowed: vec![ActionKind::RestartUnhealthy],
                reports: Vec::new(),
            },
            rejected: Vec::new(),
            clamped: Vec::new(),
            gpus: vec![GpuSummary::default()],
            gpu_error: Some("NVML could not be loaded".into()),
            containers_error: None,
            container_list: vec![HostContainer {
                name: "api".into(),
                image: "api:2".into(),
                state: app::containers::ContainerState::Running,
                health: app::containers::Health::Unhealthy,
                status: "Up 3 minutes (unhealthy)".into(),
            }],
            models: vec![HostBackend {
                name: "ollama".into(),
                kind: app::models::BackendKind::Ollama,
                state: app::models::BackendState::Ok,
                version: Some("0.5.7".into()),
                error: None,
                check_ms: Some(12),
                requests_running: None,
                requests_waiting: None,
                tokens_per_s: None,
                ttft_p50_s: None,
                kv_cache_pct: None,
                loaded: vec!["llama3.2:3b".into()],
            }],
        }
    }

    #[test]
    fn a_heartbeats_state_reads_back_as_it_was_committed() {
        let a = accepted();
        let back = decode(&encode(&a)).unwrap();
        assert_eq!(back, Latest::of(&a));
        assert_eq!(back.collected_ms(), 1_700_000_000_000);
        assert_eq!(back.unhealthy, ["api"]);
        assert_eq!(back.container_list, a.container_list);
        assert_eq!(back.models, a.models);
        let mut older: serde_json::Value = serde_json::from_str(&encode(&a)).unwrap();
        older.as_object_mut().unwrap().remove("container_list");
        older.as_object_mut().unwrap().remove("models");
        let back = decode(&older.to_string()).unwrap();
        assert!(
            back.container_list.is_empty() && back.models.is_empty() && back.unhealthy == ["api"],
            "a state written before the list was kept reads as one without it"
        );
    }

    #[test]
    fn broken_or_newer_stored_state_is_an_error_not_a_guess() {
        assert!(matches!(decode("{"), Err(LatestError::Malformed(_))));
        assert!(matches!(
            decode(r#"{"v":1,"status":"ready"}"#),
            Err(LatestError::Malformed(_))
        ));
        let newer = encode(&accepted()).replacen("\"v\":1", "\"v\":2", 1);
        assert_eq!(decode(&newer), Err(LatestError::Version(2)));
    }
}
