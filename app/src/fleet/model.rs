//! The fleet's shared types and the badge rule (pure).

use serde::{Deserialize, Serialize};

use crate::overview::score::Score;
use crate::vitals::{Overview, Vitals};

/// A heartbeat newer than this keeps a host live (seed 002: "stale badge after 30 s").
pub const STALE_AFTER_MS: i64 = 30_000;
/// Past this a host is missing, not merely late.
pub const MISSING_AFTER_MS: i64 = 5 * 60_000;

/// Hosts on one page of the fleet panel.
pub const PAGE_ROWS: usize = 50;

/// How fresh a host's last heartbeat is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Badge {
    Live,
    /// Older than [`STALE_AFTER_MS`].
    Stale,
    /// Older than [`MISSING_AFTER_MS`].
    Missing,
    /// Registered, never heard from.
    NeverSeen,
}

impl Badge {
    /// The badge of a host whose last heartbeat arrived at `last_ms` (hub clock).
    pub fn of(last_ms: Option<i64>, now_ms: i64) -> Badge {
        match last_ms {
            None => Badge::NeverSeen,
            Some(t) if now_ms - t > MISSING_AFTER_MS => Badge::Missing,
            Some(t) if now_ms - t > STALE_AFTER_MS => Badge::Stale,
            Some(_) => Badge::Live,
        }
    }

    /// The badge named as the API writes it (`live`, `stale`, `missing`, `never_seen`).
    pub fn parse(s: &str) -> Option<Badge> {
        Some(match s {
            "live" => Badge::Live,
            "stale" => Badge::Stale,
            "missing" => Badge::Missing,
            "never_seen" => Badge::NeverSeen,
            _ => return None,
        })
    }

    /// Its name in the API and CSS classes.
    pub fn key(self) -> &'static str {
        match self {
            Badge::Live => "live",
            Badge::Stale => "stale",
            Badge::Missing => "missing",
            Badge::NeverSeen => "never_seen",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Badge::Live => "live",
            Badge::Stale => "stale",
            Badge::Missing => "missing",
            Badge::NeverSeen => "never seen",
        }
    }
}

/// What an agent says it is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    #[default]
    Ready,
    Busy,
    Draining,
}

/// One agent token as the hub shows it (never the token itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenView {
    /// The first 8 hex digits of the token's SHA-256, to tell tokens apart.
    pub id: String,
    pub created_ms: i64,
    /// Set on a rotated token: it works until then (the grace period).
    pub expires_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

/// One host of the fleet, as `GET /api/v1/fleet/hosts` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetHost {
    pub host: String,
    pub badge: Badge,
    pub created_ms: i64,
    /// When the hub received the last accepted heartbeat.
    pub last_heartbeat_ms: Option<i64>,
    pub agent_version: Option<String>,
    pub status: Option<AgentStatus>,
    /// The latest vitals the agent sent (levels judged by the hub's thresholds).
    pub vitals: Option<Vitals>,
    /// Scored with the same code as the local host's score.
    pub score: Option<Score>,
    pub containers: Option<ContainerCounts>,
    /// Heartbeats accepted since the host was added.
    pub heartbeats_total: u64,
    /// Fields dropped by the validation rules, and fields brought into range.
    pub rejected_fields: u64,
    pub clamped_fields: u64,
    /// The last few reasons, newest first.
    pub last_rejections: Vec<String>,
    /// Uses of a revoked or expired token of this host.
    pub refused_tokens: u64,
    /// Heartbeats the agent dropped from its own buffer (oldest first, when it was full).
    pub agent_dropped: u64,
    pub tokens: Vec<TokenView>,
    /// The health URL the sweep checks, if the host has one.
    pub address: Option<String>,
    /// The sweep's last check of that URL.
    pub health: Option<HealthCheck>,
    pub group: Option<String>,
    /// The host's last health changes, newest first (only in the one-host answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_changes: Vec<HealthCheck>,
    /// Names of its unhealthy containers, from the latest heartbeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unhealthy: Vec<String>,
    /// The actions its agent allows (`agent.allow_actions`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_actions: Vec<crate::fleet::action::ActionKind>,
    /// Its recent fleet actions, newest first (only in the one-host answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<crate::fleet::action::FleetAction>,
    /// Its GPUs from the latest heartbeat (validated like every field; none when it has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<crate::models::GpuSummary>,
    /// Why the agent could not read its GPUs (NVML missing, say): an error, not "no GPU".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_error: Option<String>,
    /// Why the agent could not read Docker: an error, not "no containers" (`containers` is
    /// then absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers_error: Option<String>,
    /// Its containers from the latest heartbeat, unhealthy and stopped first (only in the
    /// one-host answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_list: Vec<HostContainer>,
    /// Its model servers as its agent last checked them (only in the one-host answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<HostBackend>,
    /// The last half hour of CPU, memory and disk use, a point a minute (the card's lines).
    #[serde(default, skip_serializing_if = "crate::fleet::spark::Sparks::is_empty")]
    pub sparks: crate::fleet::spark::Sparks,
}

/// The metrics a host card shows (name, label), the only ones a card needs.
pub const CARD_METRICS: [(&str, Option<&str>); 4] = [
    ("cpu_busy_pct", None),
    ("mem_used_pct", None),
    ("disk_used_pct", Some("/")),
    ("cpu_steal_pct", None),
];

/// A card's copy of a host's vitals: its four metrics ([`CARD_METRICS`]), no top processes.
/// Copies only what it keeps (the hub makes 50 of these per page, under its lock).
pub fn card_vitals(v: &Vitals) -> Vitals {
    Vitals {
        host: v.host.clone(),
        cores: v.cores,
        collected_at_ms: v.collected_at_ms,
        metrics: v
            .metrics
            .iter()
            .filter(|m| {
                CARD_METRICS
                    .iter()
                    .any(|(n, l)| m.name == *n && m.label.as_deref() == *l)
            })
            .cloned()
            .collect(),
        top_rss: Vec::new(),
        top_cpu: Vec::new(),
    }
}

/// A card's copy of a host's score: the value and the verdict's level, no dimensions or causes.
pub fn card_score(s: &Score) -> Score {
    Score {
        value: s.value,
        points: s.points,
        max_points: s.max_points,
        known: s.known,
        total: s.total,
        dimensions: Vec::new(),
        verdict: crate::overview::verdict::Verdict {
            level: s.verdict.level,
            causes: Vec::new(),
        },
    }
}

impl FleetHost {
    /// The host as a card of the fleet panel needs it: the card's metrics, the score's value
    /// and verdict level, no top processes, dimensions or tokens. A full host is about 7 KB of
    /// JSON, and the panel's page carries its rows twice (as HTML and as hydration data). The
    /// hub builds cards from its state directly (`card_vitals`, `card_score`); this is the
    /// same rule applied to a full host.
    pub fn for_card(mut self) -> Self {
        self.vitals = self.vitals.as_ref().map(card_vitals);
        self.score = self.score.as_ref().map(card_score);
        self.tokens.clear();
        self.health_changes.clear();
        self.actions.clear();
        self.unhealthy.clear();
        self.container_list.clear();
        self.models.clear();
        self
    }

    /// The card's GPU summary and its level: how many, the mean busy %, the hottest card, the
    /// fullest VRAM; or the agent's GPU error. `None` for a host without GPUs.
    pub fn gpu_line(&self) -> Option<(String, crate::vitals::Level)> {
        use crate::vitals::Level;
        if let Some(e) = &self.gpu_error {
            return Some((format!("GPU error: {e}"), Level::Crit));
        }
        if self.gpus.is_empty() {
            return None;
        }
        let n = self.gpus.len();
        let mut parts = vec![format!("{n} GPU{}", if n == 1 { "" } else { "s" })];
        let busy: Vec<f64> = self.gpus.iter().filter_map(|g| g.util_pct).collect();
        let mut readings = Vec::new();
        if !busy.is_empty() {
            readings.push(format!(
                "{:.0} % busy",
                busy.iter().sum::<f64>() / busy.len() as f64
            ));
        }
        let hottest = self
            .gpus
            .iter()
            .filter_map(|g| g.temperature_c)
            .reduce(f64::max);
        if let Some(t) = hottest {
            readings.push(format!("{t:.0} °C"));
        }
        let fullest = self
            .gpus
            .iter()
            .filter_map(|g| g.vram_pct())
            .reduce(f64::max);
        if let Some(v) = fullest {
            readings.push(format!("VRAM {v:.0} %"));
        }
        if !readings.is_empty() {
            parts[0].push(':');
            parts.push(readings.join(", "));
        }
        let level = self
            .gpus
            .iter()
            .map(crate::models::gpu_level)
            .fold(Level::Ok, Level::worst);
        Some((parts.join(" "), level))
    }

    /// The overview's readout of this host from its latest heartbeat, so the host page shows
    /// it with the overview's own components (`None` before the first heartbeat). Agents do
    /// not report their collectors or container lists yet, so those stay empty; GPUs are the
    /// ones its heartbeat named.
    pub fn readout(&self, interval_secs: u64) -> Option<Overview> {
        Some(Overview {
            vitals: self.vitals.clone(),
            score: self.score.clone()?,
            collectors: Vec::new(),
            interval_secs,
            containers: None,
            gpus: self.gpus.clone(),
        })
    }
}

/// What the health sweep found at a host's health URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// 2xx, quick, and the body (when it says) is ok.
    Healthy,
    /// Answered, but slowly or saying it is degraded.
    Degraded,
    /// Answered with an error status, or a body saying it fails.
    Critical,
    /// No answer: refused, timed out, no route, TLS failure.
    Unreachable,
}

impl Health {
    pub const ALL: [Health; 4] = [
        Health::Healthy,
        Health::Degraded,
        Health::Critical,
        Health::Unreachable,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Critical => "critical",
            Health::Unreachable => "unreachable",
        }
    }

    pub fn parse(s: &str) -> Option<Health> {
        Health::ALL.into_iter().find(|h| h.key() == s)
    }

    /// Whether the check counts as succeeded in the sweep's statistics.
    pub fn succeeded(self) -> bool {
        matches!(self, Health::Healthy | Health::Degraded)
    }
}

/// One health check of a host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub at_ms: i64,
    pub status: Health,
    /// Time to the answer (none when there was no answer).
    pub latency_ms: Option<u32>,
    /// Why it is not healthy, or what answered ("HTTP 200").
    pub reason: String,
}

/// Hosts per health status (hosts without an address are not counted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HealthCounts {
    pub healthy: u32,
    pub degraded: u32,
    pub critical: u32,
    pub unreachable: u32,
    /// Hosts with an address the sweep has not checked yet.
    pub unchecked: u32,
}

impl HealthCounts {
    pub fn add(&mut self, health: Option<Health>) {
        match health {
            Some(Health::Healthy) => self.healthy += 1,
            Some(Health::Degraded) => self.degraded += 1,
            Some(Health::Critical) => self.critical += 1,
            Some(Health::Unreachable) => self.unreachable += 1,
            None => self.unchecked += 1,
        }
    }
}

/// The health sweep's statistics (`GET /api/v1/fleet/workers`; seed 003's worker API).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct SweepStats {
    pub enabled: bool,
    pub interval_secs: u64,
    pub concurrency: u32,
    pub timeout_ms: u64,
    /// Hosts with a health URL.
    pub targets: u32,
    pub rounds_total: u64,
    /// Checks performed; succeeded = healthy or degraded, failed = critical or unreachable.
    pub checks_total: u64,
    pub checks_succeeded: u64,
    pub checks_failed: u64,
    /// succeeded / total over every check so far (none before the first).
    pub success_rate: Option<f64>,
    pub running: bool,
    pub last_run_started_ms: Option<i64>,
    pub last_run_duration_ms: Option<u64>,
    pub last_run_checked: u32,
    /// Checks the last round could not start before its deadline (checked first next round).
    pub last_run_skipped: u32,
    /// Why the last round failed to record its results, if it did.
    pub last_error: Option<String>,
    /// Hub replicas on one PostgreSQL lease the sweep to one of them: `None` with one replica
    /// (it sweeps), `true` when this replica holds the lease, `false` when another does.
    #[serde(default)]
    pub leader: Option<bool>,
}

/// The heartbeat ingest's counters, beside the sweep's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IngestStats {
    pub accepted: u64,
    pub refused: u64,
    pub busy: u64,
    pub commits: u64,
    pub commit_failures: u64,
}

/// `GET /api/v1/fleet/workers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Workers {
    pub sweep: SweepStats,
    pub ingest: IngestStats,
}

/// A group of hosts and its score (worst and average over the hosts that sent vitals).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupView {
    pub name: String,
    pub hosts: u32,
    pub scored: u32,
    pub worst_score: Option<u32>,
    pub average_score: Option<f64>,
    pub counts: BadgeCounts,
}

/// A group's score over its hosts' scores (`None`: the host sent no vitals yet): how many
/// were scored, the worst and the average.
pub fn group_score(
    scores: impl IntoIterator<Item = Option<u32>>,
) -> (u32, Option<u32>, Option<f64>) {
    let (mut n, mut worst, mut sum) = (0u32, None::<u32>, 0u64);
    for s in scores.into_iter().flatten() {
        n += 1;
        sum += s as u64;
        worst = Some(worst.map_or(s, |w| w.min(s)));
    }
    let average = (n > 0).then(|| sum as f64 / n as f64);
    (n, worst, average)
}

/// A group name: 1–64 of a-z, 0-9, `.`, `-`, `_`.
pub fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// A host's container counts, as its agent reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ContainerCounts {
    pub total: u32,
    pub running: u32,
    pub unhealthy: u32,
}

/// Most containers one heartbeat lists (a host with more lists its unhealthy and stopped ones
/// first, see [`HostContainer::sort`]).
pub const MAX_CONTAINERS: usize = 256;

/// One container of a fleet host, from its agent's container list: the host page's table.
/// The list has no per-container stats (reading them costs an agent a call per container), so
/// CPU and memory per container are the local panel's only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostContainer {
    pub name: String,
    pub image: String,
    pub state: crate::containers::ContainerState,
    /// Docker's health check, for running containers only (`none` without one).
    #[serde(default)]
    pub health: crate::containers::Health,
    /// Docker's status words ("Up 5 minutes (healthy)", "Exited (1) 2 hours ago").
    #[serde(default)]
    pub status: String,
}

impl HostContainer {
    /// The order an operator reads them in: unhealthy first, then those not running, then
    /// the rest, each by name.
    pub fn sort(list: &mut [HostContainer]) {
        list.sort_by(|a, b| a.rank().cmp(&b.rank()).then_with(|| a.name.cmp(&b.name)));
    }

    fn rank(&self) -> u8 {
        use crate::containers::{ContainerState, Health};
        match (self.health, self.state) {
            (Health::Unhealthy, _) => 0,
            (_, ContainerState::Running) => 2,
            _ => 1,
        }
    }
}

/// Most model servers one heartbeat carries, and most loaded models it names per server.
pub const MAX_BACKENDS: usize = 32;
pub const MAX_LOADED: usize = 64;

/// One model server of a fleet host as its agent's last check saw it (`[[models.backends]]`
/// in the agent's config): the host page's table. The figures the local models panel has
/// beyond these (files on disk, architecture, estimates) stay on the host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostBackend {
    pub name: String,
    pub kind: crate::models::BackendKind,
    pub state: crate::models::BackendState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why it is down, or which calls failed while others answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the check took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_running: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_waiting: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_p50_s: Option<f64>,
    /// KV-cache use, 0–100 %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache_pct: Option<f64>,
    /// The models it holds in memory (none said while it is down: unknown then).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loaded: Vec<String>,
}

impl HostBackend {
    /// What an agent sends of a backend its check saw.
    pub fn of(b: &crate::models::ModelBackend) -> Self {
        use crate::models::BackendState;
        let error = match b.state {
            BackendState::Down => b.last_error.clone(),
            // Degraded names the calls that failed; an empty list says nothing, so no error.
            BackendState::Degraded => Some(b.problems.join("; ")).filter(|e| !e.is_empty()),
            _ => None,
        };
        HostBackend {
            name: b.name.clone(),
            kind: b.kind,
            state: b.state,
            version: b.version.clone(),
            error,
            check_ms: b.check_ms,
            requests_running: b.requests_running,
            requests_waiting: b.requests_waiting,
            tokens_per_s: b.tokens_per_s,
            ttft_p50_s: b.ttft_p50_s,
            kv_cache_pct: b.kv_cache_pct,
            loaded: match b.state {
                BackendState::Down => Vec::new(),
                _ => b
                    .loaded
                    .iter()
                    .take(MAX_LOADED)
                    .map(|m| m.name.clone())
                    .collect(),
            },
        }
    }
}

/// Hosts per badge, for the counts at the top of the fleet panel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BadgeCounts {
    pub live: u32,
    pub stale: u32,
    pub missing: u32,
    pub never_seen: u32,
}

impl BadgeCounts {
    pub fn add(&mut self, badge: Badge) {
        match badge {
            Badge::Live => self.live += 1,
            Badge::Stale => self.stale += 1,
            Badge::Missing => self.missing += 1,
            Badge::NeverSeen => self.never_seen += 1,
        }
    }
}

/// `GET /api/v1/fleet/hosts`: a page of hosts and the counts over the whole fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetPage {
    pub counts: BadgeCounts,
    /// Hosts matching the filter (before paging).
    pub matched: u32,
    pub hosts: Vec<FleetHost>,
    /// Heartbeats that came with a token no host ever had (they cannot be filed under one).
    pub unknown_tokens: u64,
    pub now_ms: i64,
    pub health: HealthCounts,
    pub groups: Vec<GroupView>,
}

/// Which hosts a fleet page lists.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetFilter {
    /// Part of the host name.
    pub query: String,
    pub badge: Option<Badge>,
    pub health: Option<Health>,
    pub group: Option<String>,
    pub offset: usize,
    pub limit: usize,
}

impl FleetFilter {
    /// Reads a filter from query parameters (empty: any); `limit` must be 1–`max_limit`.
    pub fn from_params(
        query: &str,
        badge: &str,
        health: &str,
        group: &str,
        offset: usize,
        limit: usize,
        max_limit: usize,
    ) -> Result<Self, String> {
        let badge = match badge {
            "" => None,
            b => Some(Badge::parse(b).ok_or_else(|| {
                format!("badge must be live, stale, missing or never_seen (got {b:?})")
            })?),
        };
        let health = match health {
            "" => None,
            h => Some(Health::parse(h).ok_or_else(|| {
                format!("health must be healthy, degraded, critical or unreachable (got {h:?})")
            })?),
        };
        if limit == 0 || limit > max_limit {
            return Err(format!("limit must be 1–{max_limit} (got {limit})"));
        }
        Ok(Self {
            query: query.to_string(),
            badge,
            health,
            group: (!group.is_empty()).then(|| group.to_string()),
            offset,
            limit,
        })
    }
}

/// What an operator runs on a new host: the install lines and a systemd unit for its agent,
/// `steward-agent` (the agent alone: its resident memory is about half of `steward agent`'s).
/// The token is written by the first line only, so the unit holds no secret.
pub fn install_instructions(hub: &str, token: &str) -> (String, String) {
    let hub = hub.trim_end_matches('/');
    let lines = format!(
        "sudo install -d -m 700 /etc/steward\n\
         echo '{token}' | sudo tee /etc/steward/agent-token >/dev/null && sudo chmod 600 /etc/steward/agent-token\n\
         steward-agent --hub {hub} --token-file /etc/steward/agent-token --check"
    );
    let unit = format!(
        "[Unit]\n\
         Description=Steward agent (heartbeats to {hub})\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         ExecStart=/usr/local/bin/steward-agent --hub {hub} --token-file ${{CREDENTIALS_DIRECTORY}}/agent-token\n\
         LoadCredential=agent-token:/etc/steward/agent-token\n\
         DynamicUser=yes\n\
         StateDirectory=steward-agent\n\
         Environment=STEWARD_DATA_DIR=/var/lib/steward-agent\n\
         Restart=always\n\
         RestartSec=5\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    );
    (lines, unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overview::score::{compute, CleanupInfo, ScoreInputs};
    use crate::vitals::{Level, Metric, ProcessInfo, Unit};

    fn metric(name: &str, label: Option<&str>, value: f64) -> Metric {
        Metric {
            name: name.into(),
            label: label.map(String::from),
            value: Some(value),
            unit: Unit::Percent,
            level: Level::Ok,
            warn: None,
            crit: None,
            note: None,
        }
    }

    /// A host that sent one heartbeat with more than a card shows.
    fn full_host() -> FleetHost {
        let process = ProcessInfo {
            pid: 1,
            name: "nginx".into(),
            rss_bytes: 1,
            cpu_pct: None,
            runtime_secs: 1,
        };
        let score = compute(&ScoreInputs {
            steal_pct: Ok(12.0),
            mem_available_bytes: Ok(1e9),
            disk_used_pct: Ok(95.0),
            unhealthy_containers: Ok(1),
            last_cleanup: Ok(CleanupInfo {
                age_secs: 60.0,
                freed_bytes: 1,
            }),
            disk_mount: "/".into(),
            vram_free_bytes: None,
        });
        FleetHost {
            host: "web-01".into(),
            badge: Badge::Live,
            created_ms: 0,
            last_heartbeat_ms: Some(1),
            agent_version: Some("0.1.0".into()),
            status: Some(AgentStatus::Ready),
            vitals: Some(Vitals {
                host: "web-01".into(),
                cores: 4,
                collected_at_ms: 1,
                metrics: vec![
                    metric("cpu_busy_pct", None, 20.0),
                    metric("mem_used_pct", None, 50.0),
                    metric("disk_used_pct", Some("/"), 95.0),
                    metric("disk_used_pct", Some("/data"), 10.0),
                    metric("cpu_steal_pct", None, 12.0),
                    metric("load1", None, 0.5),
                ],
                top_rss: vec![process.clone()],
                top_cpu: vec![process],
            }),
            score: Some(score),
            containers: Some(ContainerCounts {
                total: 2,
                running: 2,
                unhealthy: 1,
            }),
            heartbeats_total: 1,
            rejected_fields: 0,
            clamped_fields: 0,
            last_rejections: Vec::new(),
            refused_tokens: 0,
            agent_dropped: 0,
            tokens: vec![TokenView {
                id: "abcd1234".into(),
                created_ms: 0,
                expires_ms: None,
                revoked_ms: None,
                last_used_ms: None,
            }],
            address: None,
            health: None,
            group: None,
            health_changes: Vec::new(),
            unhealthy: Vec::new(),
            allowed_actions: Vec::new(),
            actions: Vec::new(),
            gpus: vec![crate::models::GpuSummary {
                index: 0,
                name: "NVIDIA H100".into(),
                util_pct: Some(40.0),
                vram_used_bytes: Some(20_000_000_000),
                vram_total_bytes: Some(80_000_000_000),
                temperature_c: Some(71.0),
                ..Default::default()
            }],
            gpu_error: None,
            containers_error: None,
            container_list: Vec::new(),
            models: Vec::new(),
            sparks: crate::fleet::spark::Sparks {
                cpu: vec![20; 30],
                mem: vec![50; 30],
                disk: vec![95; 30],
            },
        }
    }

    #[test]
    fn a_card_keeps_its_four_metrics_and_the_score_level_only() {
        let full = full_host();
        let card = full.clone().for_card();
        let v = card.vitals.as_ref().unwrap();
        let kept: Vec<_> = v
            .metrics
            .iter()
            .map(|m| (m.name.as_str(), m.label.as_deref()))
            .collect();
        assert_eq!(
            kept,
            [
                ("cpu_busy_pct", None),
                ("mem_used_pct", None),
                ("disk_used_pct", Some("/")),
                ("cpu_steal_pct", None)
            ]
        );
        assert!(v.top_rss.is_empty() && v.top_cpu.is_empty());
        assert!(card.tokens.is_empty());
        let (a, b) = (full.score.as_ref().unwrap(), card.score.as_ref().unwrap());
        assert!(b.dimensions.is_empty());
        assert_eq!(
            (a.value, a.level()),
            (b.value, b.level()),
            "the card's score reads the same"
        );
        assert!(
            serde_json::to_string(&card).unwrap().len() * 2
                < serde_json::to_string(&full).unwrap().len(),
            "a card is less than half a host"
        );
    }

    #[test]
    fn the_readout_is_the_hosts_last_heartbeat_and_none_before_one() {
        let h = full_host();
        let o = h.readout(5).unwrap();
        assert_eq!(o.vitals, h.vitals);
        assert_eq!(Some(o.score), h.score);
        assert_eq!(o.interval_secs, 5);
        assert_eq!(
            o.gpus, h.gpus,
            "the host page's GPU cards are the heartbeat's"
        );
        let never = FleetHost {
            vitals: None,
            score: None,
            ..h
        };
        assert!(never.readout(5).is_none());
    }

    #[test]
    fn the_gpu_line_sums_up_the_cards_and_says_an_error() {
        let mut h = full_host();
        assert_eq!(
            h.gpu_line().unwrap(),
            ("1 GPU: 40 % busy, 71 °C, VRAM 25 %".to_string(), Level::Ok)
        );
        let mut hot = h.gpus[0].clone();
        hot.index = 1;
        hot.util_pct = Some(90.0);
        hot.temperature_c = Some(91.0);
        hot.vram_used_bytes = None;
        h.gpus.push(hot);
        assert_eq!(
            h.gpu_line().unwrap(),
            (
                "2 GPUs: 65 % busy, 91 °C, VRAM 25 %".to_string(),
                Level::Crit
            ),
            "the mean busy, the hottest card, the fullest VRAM, the worst level"
        );
        h.gpus.clear();
        assert_eq!(h.gpu_line(), None, "no GPU, no line");
        h.gpu_error = Some("NVML could not be loaded".into());
        assert_eq!(
            h.gpu_line().unwrap(),
            (
                "GPU error: NVML could not be loaded".to_string(),
                Level::Crit
            )
        );
    }

    #[test]
    fn install_lines_name_the_hub_and_keep_the_token_out_of_the_unit() {
        let (lines, unit) = install_instructions("https://ops.example.org/", "abc123");
        assert!(lines.contains("echo 'abc123' | sudo tee /etc/steward/agent-token"));
        assert!(lines.contains("--hub https://ops.example.org --token-file"));
        assert!(
            unit.contains("ExecStart=/usr/local/bin/steward-agent --hub https://ops.example.org")
        );
        assert!(unit.contains("${CREDENTIALS_DIRECTORY}/agent-token"));
        assert!(!unit.contains("abc123"));
    }

    #[test]
    fn badges_parse_from_their_keys() {
        for b in [Badge::Live, Badge::Stale, Badge::Missing, Badge::NeverSeen] {
            assert_eq!(Badge::parse(b.key()), Some(b));
        }
        assert_eq!(Badge::parse("odd"), None);
    }

    #[test]
    fn badges_follow_the_age_of_the_last_heartbeat() {
        let now = 1_000_000;
        assert_eq!(Badge::of(None, now), Badge::NeverSeen);
        assert_eq!(Badge::of(Some(now), now), Badge::Live);
        assert_eq!(Badge::of(Some(now - STALE_AFTER_MS), now), Badge::Live);
        assert_eq!(Badge::of(Some(now - STALE_AFTER_MS - 1), now), Badge::Stale);
        assert_eq!(Badge::of(Some(now - MISSING_AFTER_MS), now), Badge::Stale);
        assert_eq!(
            Badge::of(Some(now - MISSING_AFTER_MS - 1), now),
            Badge::Missing
        );
        // A clock a little ahead of the hub's is still live, not something else.
        assert_eq!(Badge::of(Some(now + 5_000), now), Badge::Live);
    }

    #[test]
    fn a_group_scores_its_worst_and_average_over_scored_hosts() {
        assert_eq!(group_score([]), (0, None, None));
        assert_eq!(group_score([None, None]), (0, None, None));
        assert_eq!(
            group_score([Some(90), None, Some(60), Some(75)]),
            (3, Some(60), Some(75.0))
        );
    }

    #[test]
    fn health_keys_round_trip_and_only_answers_count_as_succeeded() {
        for h in Health::ALL {
            assert_eq!(Health::parse(h.key()), Some(h));
        }
        assert!(Health::Degraded.succeeded());
        assert!(!Health::Unreachable.succeeded());
        let mut c = HealthCounts::default();
        for h in [Some(Health::Healthy), None, Some(Health::Critical)] {
            c.add(h);
        }
        assert_eq!((c.healthy, c.critical, c.unchecked), (1, 1, 1));
    }

    #[test]
    fn filters_are_read_from_parameters_with_clear_errors() {
        let f = FleetFilter::from_params("web", "stale", "critical", "eu", 50, 100, 500).unwrap();
        assert_eq!(
            (f.badge, f.health, f.group.as_deref(), f.offset, f.limit),
            (
                Some(Badge::Stale),
                Some(Health::Critical),
                Some("eu"),
                50,
                100
            )
        );
        let any = FleetFilter::from_params("", "", "", "", 0, 1, 500).unwrap();
        assert_eq!((any.badge, any.health, any.group), (None, None, None));
        assert!(FleetFilter::from_params("", "odd", "", "", 0, 1, 500)
            .unwrap_err()
            .contains("badge must be"));
        assert!(FleetFilter::from_params("", "", "sick", "", 0, 1, 500)
            .unwrap_err()
            .contains("health must be"));
        assert!(FleetFilter::from_params("", "", "", "", 0, 501, 500)
            .unwrap_err()
            .contains("limit must be 1–500"));
    }

    #[test]
    fn group_names_follow_host_name_rules() {
        assert!(valid_group_name("gpu-pool.eu_1"));
        assert!(!valid_group_name(""));
        assert!(!valid_group_name("GPU"));
        assert!(!valid_group_name(&"a".repeat(65)));
    }

    #[test]
    fn containers_read_unhealthy_first_then_stopped_then_running_by_name() {
        use crate::containers::{ContainerState, Health};
        let c = |name: &str, state, health| HostContainer {
            name: name.into(),
            image: "img".into(),
            state,
            health,
            status: String::new(),
        };
        let mut list = vec![
            c("web", ContainerState::Running, Health::Healthy),
            c("batch", ContainerState::Exited, Health::None),
            c("db", ContainerState::Running, Health::Unhealthy),
            c("api", ContainerState::Running, Health::None),
            c("cache", ContainerState::Restarting, Health::None),
            c("auth", ContainerState::Running, Health::Unhealthy),
        ];
        HostContainer::sort(&mut list);
        let names: Vec<_> = list.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["auth", "db", "batch", "cache", "api", "web"]);
    }

    #[test]
    fn counts_add_up_per_badge() {
        let mut c = BadgeCounts::default();
        for b in [Badge::Live, Badge::Live, Badge::Stale, Badge::NeverSeen] {
            c.add(b);
        }
        assert_eq!((c.live, c.stale, c.missing, c.never_seen), (2, 1, 0, 1));
    }

    /// A backend as a check left it: `vllm-1` holding two models, with an old error.
    fn checked(
        state: crate::models::BackendState,
        problems: &[&str],
    ) -> crate::models::ModelBackend {
        use crate::models::{BackendKind, BreakerState, BreakerView, Control, LoadedModel};
        let loaded = |name: &str| LoadedModel {
            name: name.into(),
            size_bytes: None,
            vram_bytes: None,
            context_length: None,
            expires_at_ms: None,
            status: None,
        };
        crate::models::ModelBackend {
            name: "vllm-1".into(),
            kind: BackendKind::Vllm,
            url: "http://127.0.0.1:8000".into(),
            state,
            breaker: BreakerView {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                opened_total: 0,
                probes_total: 0,
                skipped_total: 0,
                retry_at_ms: None,
            },
            version: Some("0.6.3".into()),
            check_ms: Some(12),
            checked_ms: Some(1_000),
            last_ok_ms: Some(1_000),
            last_error: Some("connection refused".into()),
            last_error_ms: Some(500),
            problems: problems.iter().map(|p| p.to_string()).collect(),
            requests_running: Some(3.0),
            requests_waiting: Some(1.0),
            slots_busy: None,
            slots_total: None,
            slot_context: None,
            kv_cache_pct: Some(42.0),
            tokens_per_s: Some(88.5),
            ttft_p50_s: Some(0.2),
            ttft_p95_s: Some(0.9),
            models: Vec::new(),
            loaded: vec![loaded("qwen"), loaded("llama")],
            architecture: None,
            process_rss_bytes: None,
            control: Control::ReadOnly {
                reason: "vLLM serves what it was started with".into(),
            },
            estimate_error: None,
        }
    }

    #[test]
    fn a_backend_travels_with_the_error_its_state_explains() {
        use crate::models::BackendState;
        // Degraded: it answers, so its models and load travel, with the calls that failed.
        let b = HostBackend::of(&checked(
            BackendState::Degraded,
            &["/metrics: 500", "/version: timeout"],
        ));
        assert_eq!(b.state, BackendState::Degraded);
        assert_eq!(b.error.as_deref(), Some("/metrics: 500; /version: timeout"));
        assert_eq!(b.loaded, ["qwen", "llama"]);
        assert_eq!(b.requests_running, Some(3.0));
        assert_eq!(b.kv_cache_pct, Some(42.0));
        // Degraded with no call named: no empty error line.
        assert_eq!(
            HostBackend::of(&checked(BackendState::Degraded, &[])).error,
            None
        );
        // Down: the check's error, and no models said to be held.
        let b = HostBackend::of(&checked(BackendState::Down, &[]));
        assert_eq!(b.error.as_deref(), Some("connection refused"));
        assert!(b.loaded.is_empty());
        // Ok: an old error is history, not the state.
        let b = HostBackend::of(&checked(BackendState::Ok, &[]));
        assert_eq!(b.error, None);
        assert_eq!(b.loaded.len(), 2);
        assert_eq!(
            (b.name.as_str(), b.version.as_deref()),
            ("vllm-1", Some("0.6.3"))
        );
    }
}
