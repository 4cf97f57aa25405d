//! Containers as the Docker collector saw them, the watchdog's view of each, and the pure filter
//! logic of the container panel (shared by SSR and the browser, so both show the same rows).

use serde::{Deserialize, Serialize};

use crate::vitals::CollectorStatus;

/// Docker's health status of a container (`None` when it has no health check).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    #[default]
    None,
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    /// Parses Docker's `State.Health.Status`; anything unknown is treated as no health check.
    pub fn parse(s: &str) -> Health {
        match s {
            "starting" => Health::Starting,
            "healthy" => Health::Healthy,
            "unhealthy" => Health::Unhealthy,
            _ => Health::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Health::None => "none",
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// One entry of Docker's health-check log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub exit_code: i64,
    /// The check's output, trimmed to a few hundred characters.
    pub output: String,
}

/// What the watchdog last decided about a container, shown on its row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct WatchdogView {
    /// The container carries `steward.watchdog=off`.
    pub opted_out: bool,
    /// The restart budget is spent: the watchdog stopped trying until the container is healthy.
    pub gave_up: bool,
    /// Watchdog restarts within the last hour.
    pub restarts_last_hour: u32,
    /// The latest decision in words, e.g. "waiting: 2 of 3 failed checks".
    pub last_decision: Option<String>,
    pub last_decision_ms: Option<i64>,
}

/// One container as collected last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// The full container id.
    pub id: String,
    pub name: String,
    /// The compose project (`com.docker.compose.project`), if any.
    pub stack: Option<String>,
    pub image: String,
    /// When the image was built, if Docker said.
    pub image_created_ms: Option<i64>,
    /// The image is older than `docker.image_max_age_days`.
    pub image_stale: bool,
    /// Docker's state.
    pub state: ContainerState,
    /// The exit code of a container that is not running (`State.ExitCode`).
    #[serde(default)]
    pub exit_code: Option<i64>,
    /// Docker's health status, for running containers only: a stopped container keeps its last
    /// health state in Docker, but a one-shot job that exited is not "unhealthy", must never
    /// be in a bulk restart, and does not count against the score.
    pub health: Health,
    /// When the container turned unhealthy (Steward's own record, or the oldest failing check).
    pub unhealthy_since_ms: Option<i64>,
    /// Docker's consecutive failed health checks.
    pub failing_streak: u32,
    /// The last three health checks, newest last.
    pub health_log: Vec<HealthCheck>,
    /// Docker's `RestartCount`: restarts by the restart policy only.
    pub restart_count: u64,
    /// Steward's restarts (manual, bulk and watchdog), from its audit log.
    #[serde(default)]
    pub steward_restarts: u64,
    pub started_at_ms: Option<i64>,
    pub cpu_pct: Option<f64>,
    pub mem_usage_bytes: Option<u64>,
    /// `None` means the container has no memory limit.
    pub mem_limit_bytes: Option<u64>,
    pub oom_killed: bool,
    /// Bytes written to block devices since the container started.
    pub block_write_bytes: Option<u64>,
    /// Bytes per second over the last collection interval.
    pub block_write_rate: Option<f64>,
    /// Average bytes per day since the container started.
    pub block_write_per_day: Option<f64>,
    /// `block_write_per_day` exceeds `docker.block_write_limit_per_day`.
    pub io_anomaly: bool,
    pub labels_watchdog_off: bool,
    pub watchdog: WatchdogView,
    /// Why live stats are missing, if they are.
    pub stats_error: Option<String>,
}

impl Container {
    /// A running container known only by id and name, everything else unknown or off: the
    /// base that tests and replayed snapshots fill in (`Container { health, ..running(…) }`).
    pub fn running(id: &str, name: &str) -> Self {
        Container {
            id: id.into(),
            name: name.into(),
            stack: None,
            image: name.into(),
            image_created_ms: None,
            image_stale: false,
            state: ContainerState::Running,
            exit_code: None,
            health: Health::None,
            unhealthy_since_ms: None,
            failing_streak: 0,
            health_log: vec![],
            restart_count: 0,
            steward_restarts: 0,
            started_at_ms: None,
            cpu_pct: None,
            mem_usage_bytes: None,
            mem_limit_bytes: None,
            oom_killed: false,
            block_write_bytes: None,
            block_write_rate: None,
            block_write_per_day: None,
            io_anomaly: false,
            labels_watchdog_off: false,
            watchdog: WatchdogView::default(),
            stats_error: None,
        }
    }

    /// The container has no memory limit.
    pub fn no_memory_limit(&self) -> bool {
        self.mem_limit_bytes.is_none()
    }

    /// The state as shown when not running: `exited (0)`, `dead (137)`, `created`.
    pub fn state_label(&self) -> String {
        match self.exit_code {
            Some(code)
                if !matches!(
                    self.state,
                    ContainerState::Running | ContainerState::Created
                ) =>
            {
                format!("{} ({code})", self.state)
            }
            _ => self.state.to_string(),
        }
    }

    /// Seconds since the container started, if running.
    pub fn uptime_secs(&self, now_ms: i64) -> Option<i64> {
        (self.state == ContainerState::Running)
            .then_some(self.started_at_ms?)
            .map(|s| ((now_ms - s) / 1000).max(0))
    }
}

/// The watchdog's settings as shown on the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct WatchdogSettings {
    pub enabled: bool,
    pub dry_run: bool,
    pub failures_before_restart: u32,
    pub restarts_per_hour: u32,
    pub cooldown_secs: u64,
}

/// Everything the container panel shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Containers {
    /// The Docker collector's own status (error with the message when Docker is unreachable).
    pub status: CollectorStatus,
    /// `None` until the first successful round: "no data" is not "no containers".
    pub items: Option<Vec<Container>>,
    pub collected_ms: Option<i64>,
    pub watchdog: WatchdogSettings,
    /// Set when `items` holds only the panel's first rows (the server-rendered page of a host
    /// with many containers): the counts over all of them. The browser fetches the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<PanelCounts>,
}

/// Rows the container panel renders at first and adds per "Show more": a few screens, and few
/// enough that a filter redraws them within a frame or two.
pub const PAGE_ROWS: usize = 50;

/// The chip counts of the container panel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PanelCounts {
    pub all: usize,
    pub unhealthy: usize,
    pub no_memory_limit: usize,
    /// Each stack (sorted by name) with its number of containers.
    pub stacks: Vec<(String, usize)>,
}

impl PanelCounts {
    pub fn of(items: &[Container]) -> Self {
        let stacks = stacks(items)
            .into_iter()
            .map(|s| {
                let n = items
                    .iter()
                    .filter(|c| c.stack.as_deref() == Some(s.as_str()))
                    .count();
                (s, n)
            })
            .collect();
        PanelCounts {
            all: items.len(),
            unhealthy: items
                .iter()
                .filter(|c| c.health == Health::Unhealthy)
                .count(),
            no_memory_limit: items.iter().filter(|c| c.no_memory_limit()).count(),
            stacks,
        }
    }
}

impl Containers {
    /// The first `rows` of the unfiltered panel (unhealthy first, then by name) with the counts
    /// over all containers, so the server-rendered page and its hydration data stay small on a
    /// host with hundreds of containers. Unchanged when there are no more than `rows`.
    pub fn first_rows(mut self, rows: usize) -> Self {
        if let Some(items) = self.items.take() {
            if items.len() > rows {
                self.partial = Some(PanelCounts::of(&items));
                let first = select(&items, &Filter::All, "");
                let mut keep = vec![false; items.len()];
                first.into_iter().take(rows).for_each(|i| keep[i] = true);
                self.items = Some(
                    items
                        .into_iter()
                        .zip(keep)
                        .filter_map(|(c, k)| k.then_some(c))
                        .collect(),
                );
            } else {
                self.items = Some(items);
            }
        }
        self
    }
}

/// A summary for the overview: counts and the names that need attention.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ContainerSummary {
    pub total: usize,
    pub running: usize,
    pub unhealthy: Vec<String>,
    pub no_memory_limit: usize,
    pub io_anomalies: Vec<String>,
    pub stale_images: Vec<String>,
    pub watchdog_gave_up: Vec<String>,
    /// Containers whose last exit was an out-of-memory kill.
    #[serde(default)]
    pub oom_killed: Vec<String>,
}

impl ContainerSummary {
    pub fn of(items: &[Container]) -> Self {
        let names = |f: fn(&Container) -> bool| {
            items
                .iter()
                .filter(|c| f(c))
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        };
        ContainerSummary {
            total: items.len(),
            running: items
                .iter()
                .filter(|c| c.state == ContainerState::Running)
                .count(),
            unhealthy: names(|c| c.health == Health::Unhealthy),
            no_memory_limit: items.iter().filter(|c| c.no_memory_limit()).count(),
            io_anomalies: names(|c| c.io_anomaly),
            stale_images: names(|c| c.image_stale),
            watchdog_gave_up: names(|c| c.watchdog.gave_up),
            oom_killed: names(|c| c.oom_killed),
        }
    }
}

/// The panel's filter chips.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Filter {
    #[default]
    All,
    Unhealthy,
    NoMemoryLimit,
    Stack(String),
}

impl Filter {
    fn keeps(&self, c: &Container) -> bool {
        match self {
            Filter::All => true,
            Filter::Unhealthy => c.health == Health::Unhealthy,
            Filter::NoMemoryLimit => c.no_memory_limit(),
            Filter::Stack(s) => c.stack.as_deref() == Some(s.as_str()),
        }
    }
}

/// Indices of the containers a filter and a search (case-insensitive, on name, stack and image)
/// keep, unhealthy first and then by name, so the rows that need attention lead.
pub fn select(items: &[Container], filter: &Filter, search: &str) -> Vec<usize> {
    let needle = search.trim().to_lowercase();
    let mut keep: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, c)| filter.keeps(c))
        .filter(|(_, c)| {
            needle.is_empty()
                || c.name.to_lowercase().contains(&needle)
                || c.image.to_lowercase().contains(&needle)
                || c.stack
                    .as_deref()
                    .is_some_and(|s| s.to_lowercase().contains(&needle))
        })
        .map(|(i, _)| i)
        .collect();
    keep.sort_by(|&a, &b| {
        let (a, b) = (&items[a], &items[b]);
        (b.health == Health::Unhealthy)
            .cmp(&(a.health == Health::Unhealthy))
            .then_with(|| a.name.cmp(&b.name))
    });
    keep
}

/// The distinct stacks, sorted, for the "by stack" chips.
pub fn stacks(items: &[Container]) -> Vec<String> {
    let mut s: Vec<String> = items.iter().filter_map(|c| c.stack.clone()).collect();
    s.sort();
    s.dedup();
    s
}

/// A container the bulk restart will act on, as listed in the confirmation modal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedRestart {
    pub id: String,
    pub name: String,
}

/// The server's answer when the bulk-restart modal opens: the fixed list and its token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPlan {
    pub token: String,
    pub containers: Vec<PlannedRestart>,
    pub expires_ms: i64,
}

/// An entry of Steward's own record for a container: a health transition or a watchdog decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerEvent {
    pub ts_ms: i64,
    pub kind: ContainerEventKind,
    pub detail: Option<String>,
}

/// What a container event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerEventKind {
    /// A health transition Steward saw (`healthy → unhealthy`).
    Health,
    /// A watchdog decision (waiting, restarted, gave up, skipped).
    Watchdog,
    /// A control action by a user (a restart).
    Action,
    /// The kernel killed the container for its memory limit (from the engine's events).
    Oom,
    /// The container's main process exited (from the engine's events).
    Lifecycle,
}

impl ContainerEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerEventKind::Health => "health",
            ContainerEventKind::Watchdog => "watchdog",
            ContainerEventKind::Action => "action",
            ContainerEventKind::Oom => "oom",
            ContainerEventKind::Lifecycle => "lifecycle",
        }
    }

    /// The kind stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Health,
            Self::Watchdog,
            Self::Action,
            Self::Oom,
            Self::Lifecycle,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ContainerEventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the container detail view shows beyond the row: logs and Steward's event record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerDetail {
    pub logs: Result<Vec<crate::containers::logs::LogLine>, String>,
    pub events: Vec<ContainerEvent>,
}

/// Where a bulk action stands for one target (or, `Done`, for the whole job).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobPhase {
    Restarting,
    /// Restarted; followed until it is healthy again, fails again, or the time runs out.
    Settling,
    /// Came back: healthy again, or running when it has no health check.
    Ok,
    /// The restart failed, or the container did not come back (the message says which).
    Failed,
    /// The last event of a job; its message sums it up.
    Done,
}

impl JobPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            JobPhase::Restarting => "restarting",
            JobPhase::Settling => "settling",
            JobPhase::Ok => "ok",
            JobPhase::Failed => "failed",
            JobPhase::Done => "done",
        }
    }
}

/// Docker's state of a container (`State.Status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    /// Docker said nothing, or a state this version does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl ContainerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Removing => "removing",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
            ContainerState::Unknown => "unknown",
        }
    }

    /// The state Docker names `s` (unknown names map to `Unknown`).
    pub fn parse(s: &str) -> Self {
        [
            Self::Created,
            Self::Running,
            Self::Paused,
            Self::Restarting,
            Self::Removing,
            Self::Exited,
            Self::Dead,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .unwrap_or(Self::Unknown)
    }
}

impl std::fmt::Display for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One progress event of a bulk action, streamed to the modal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The container (empty for the final event).
    pub target: String,
    pub phase: JobPhase,
    pub message: Option<String>,
    pub ts_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn container(name: &str, stack: Option<&str>, health: Health) -> Container {
        Container {
            stack: stack.map(Into::into),
            image: format!("img/{name}:1"),
            health,
            started_at_ms: Some(0),
            mem_limit_bytes: Some(1),
            ..Container::running(&format!("id-{name}"), name)
        }
    }

    fn names(items: &[Container], f: &Filter, q: &str) -> Vec<String> {
        select(items, f, q)
            .into_iter()
            .map(|i| items[i].name.clone())
            .collect()
    }

    #[test]
    fn filters_search_and_orders_unhealthy_first() {
        let mut nolimit = container("web", Some("shop"), Health::Healthy);
        nolimit.mem_limit_bytes = None;
        let items = vec![
            container("zeta", Some("shop"), Health::Unhealthy),
            nolimit,
            container("api", Some("trading"), Health::None),
            container("db", None, Health::Unhealthy),
        ];
        assert_eq!(
            names(&items, &Filter::All, ""),
            ["db", "zeta", "api", "web"]
        );
        assert_eq!(names(&items, &Filter::Unhealthy, ""), ["db", "zeta"]);
        assert_eq!(names(&items, &Filter::NoMemoryLimit, ""), ["web"]);
        assert_eq!(
            names(&items, &Filter::Stack("shop".into()), ""),
            ["zeta", "web"]
        );
        assert_eq!(names(&items, &Filter::All, "  TRAD "), ["api"]);
        assert_eq!(names(&items, &Filter::All, "img/db"), ["db"]);
        assert!(names(&items, &Filter::Unhealthy, "web").is_empty());
        assert_eq!(stacks(&items), ["shop", "trading"]);
    }

    #[test]
    fn summary_counts_what_needs_attention() {
        let mut a = container("a", None, Health::Unhealthy);
        a.io_anomaly = true;
        a.mem_limit_bytes = None;
        let mut b = container("b", None, Health::Healthy);
        b.state = ContainerState::Exited;
        b.image_stale = true;
        b.watchdog.gave_up = true;
        let s = ContainerSummary::of(&[a, b]);
        assert_eq!(s.total, 2);
        assert_eq!(s.running, 1);
        assert_eq!(s.unhealthy, ["a"]);
        assert_eq!(s.no_memory_limit, 1);
        assert_eq!(s.io_anomalies, ["a"]);
        assert_eq!(s.stale_images, ["b"]);
        assert_eq!(s.watchdog_gave_up, ["b"]);
    }

    fn panel(items: Option<Vec<Container>>) -> Containers {
        Containers {
            status: CollectorStatus::starting("docker"),
            items,
            collected_ms: None,
            watchdog: WatchdogSettings::default(),
            partial: None,
        }
    }

    #[test]
    fn first_rows_keep_the_leading_rows_and_count_all() {
        // 5 containers, 2 rows: the unhealthy one leads even though its name sorts last.
        let mut items: Vec<Container> = ["e", "d", "c", "b"]
            .iter()
            .map(|n| container(n, Some(if *n < "c" { "x" } else { "y" }), Health::Healthy))
            .collect();
        items.push(container("z", None, Health::Unhealthy));
        items[1].mem_limit_bytes = None;
        let first = panel(Some(items.clone())).first_rows(2);
        let rows = first.items.as_deref().unwrap();
        assert_eq!(names(rows, &Filter::All, ""), ["z", "b"]);
        assert_eq!(
            first.partial,
            Some(PanelCounts {
                all: 5,
                unhealthy: 1,
                no_memory_limit: 1,
                stacks: vec![("x".into(), 1), ("y".into(), 3)],
            })
        );
        // Counts over the whole list are the same the browser computes once it has all rows.
        assert_eq!(first.partial, Some(PanelCounts::of(&items)));

        // Few enough containers: nothing is cut and nothing is marked partial.
        let all = panel(Some(items.clone())).first_rows(5);
        assert_eq!(all.items.as_ref().map(Vec::len), Some(5));
        assert_eq!(all.partial, None);
        // No round yet stays "no data", not an empty list.
        assert_eq!(panel(None).first_rows(2).items, None);
    }

    #[test]
    fn uptime_only_while_running() {
        let mut c = container("a", None, Health::None);
        c.started_at_ms = Some(10_000);
        assert_eq!(c.uptime_secs(70_000), Some(60));
        c.state = ContainerState::Exited;
        assert_eq!(c.uptime_secs(70_000), None);
        assert_eq!(Health::parse("unhealthy"), Health::Unhealthy);
        assert_eq!(Health::parse("weird"), Health::None);
    }
}
