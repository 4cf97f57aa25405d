//! Steward's one typed configuration: defaults, then a TOML file, then environment variables and
//! command-line flags (flags and env share one definition through clap, so either may be used).
//!
//! Every field is documented here; `README.md` shows an example file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use app::vitals::thresholds::{ThresholdError, Thresholds};
use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};

/// Why the configuration could not be loaded. Each names the file or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("config field {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("config thresholds: {0}")]
    Thresholds(#[from] ThresholdError),
}

/// Where the collector reads the host's files (the node_exporter convention).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostPaths {
    /// The proc filesystem (default `/proc`).
    pub procfs: PathBuf,
    /// The sys filesystem (default `/sys`).
    pub sysfs: PathBuf,
    /// The root of the host's filesystems, prefixed to mount points for disk usage (default `/`).
    pub rootfs: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        Self {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
        }
    }
}

/// The host vitals collector (`[collector]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectorConfig {
    /// Seconds between collection rounds (1–3600, default 5).
    pub interval_secs: u64,
    /// How many processes the top-memory and top-CPU lists show (1–50, default 5).
    pub top_processes: usize,
    /// Seconds a round may take before it is reported as an error (default 10, at least 1).
    pub round_timeout_secs: u64,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            interval_secs: 5,
            top_processes: 5,
            round_timeout_secs: 10,
        }
    }
}

impl CollectorConfig {
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs)
    }
}

/// The score card (`[score]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreConfig {
    /// Mount point whose usage the disk-health dimension scores (default `/`).
    pub disk_mount: String,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            disk_mount: "/".into(),
        }
    }
}

/// SQLite history (`[history]`). Retention of 0 keeps that level forever.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryConfig {
    /// Seconds between batched writes; a crash loses at most this much (default 30).
    pub flush_interval_secs: u64,
    /// Hours raw samples are kept (default 48).
    pub raw_retention_hours: u64,
    /// Days 1-minute rollups are kept (default 30).
    pub minute_retention_days: u64,
    /// Days 1-hour rollups are kept (default 730, two years).
    pub hour_retention_days: u64,
    /// Days 1-day rollups are kept (default 0: forever).
    pub day_retention_days: u64,
    /// Seconds between retention passes (default 3600).
    pub retention_interval_secs: u64,
    /// Seconds between `PRAGMA quick_check` runs that look for damage in the database file
    /// (default 21600, six hours; 0: only at start).
    pub check_interval_secs: u64,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            flush_interval_secs: 30,
            raw_retention_hours: 48,
            minute_retention_days: 30,
            hour_retention_days: 730,
            day_retention_days: 0,
            retention_interval_secs: 3600,
            check_interval_secs: 6 * 3600,
        }
    }
}

/// Prometheus-compatible storage for trends (`[prometheus]`). Empty `url`: trends read SQLite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Base URL of the query API, e.g. `http://127.0.0.1:9090` (default empty: off).
    pub url: String,
    /// Seconds a query may take before the trend API answers 504 (default 10).
    pub timeout_secs: u64,
    /// Smallest step in seconds; use the scrape interval (default 15).
    pub min_step_secs: u64,
    /// The longest window an admin's explore query may cover, in days (default 31).
    pub explore_max_range_days: u64,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            timeout_secs: 10,
            min_step_secs: 15,
            explore_max_range_days: 31,
        }
    }
}

/// Prometheus remote write of the fleet's samples (`[remote_write]`): every committed
/// heartbeat's vitals go to Prometheus-compatible storage (Prometheus with its remote-write
/// receiver, VictoriaMetrics, Mimir, Thanos Receive) under their `/metrics` family names with
/// `host` and `group` labels. Empty `url`: off (the samples stay in SQLite only). When
/// `prometheus.url` is set too, fleet hosts' trends are read from there; point both at the
/// same storage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteWriteConfig {
    /// The receiver's write URL, e.g. `http://127.0.0.1:9090/api/v1/write` (default empty: off).
    pub url: String,
    /// A file holding a bearer token sent with each request (default none).
    pub bearer_token_file: Option<PathBuf>,
    /// Seconds one request may take (1–300, default 10).
    pub timeout_secs: u64,
    /// Samples at most per request (100–100,000, default 5,000).
    pub max_samples_per_send: u64,
    /// Milliseconds a partial batch waits before it is sent (10–60,000, default 1,000).
    pub batch_deadline_ms: u64,
    /// Samples kept while the receiver is down or slow (10,000–100,000,000, default 1,000,000,
    /// about 70 MB); past it the oldest heartbeats' samples are dropped and counted.
    pub capacity_samples: u64,
    /// The longest wait between retries in milliseconds (100–600,000, default 5,000); waits
    /// start at 100 ms and double.
    pub max_backoff_ms: u64,
    /// Requests in flight at once (1–64, default 4): hosts are spread over this many queues,
    /// each sending its own batches, so one host's samples stay in order (a receiver refuses
    /// a series that goes back in time) while several requests overlap. `capacity_samples` is
    /// shared out among them.
    pub shards: u64,
    /// Agent mode only: the `host` label the agent writes its own samples under (default
    /// empty: the machine's host name). Use the host's name on the hub, so that the hub's
    /// host trends find them. (An agent with `[remote_write]` writes its host's samples
    /// itself; the hub writes what it receives only when its own `[remote_write]` is set.)
    pub host: String,
}

impl Default for RemoteWriteConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            bearer_token_file: None,
            timeout_secs: 10,
            max_samples_per_send: 5_000,
            batch_deadline_ms: 1_000,
            capacity_samples: 1_000_000,
            max_backoff_ms: 5_000,
            shards: 4,
            host: String::new(),
        }
    }
}

/// Where the hub's shared state lives (`[database]`). Empty `url`: the SQLite file in
/// `data_dir` (the embedded default). A `postgres://` URL moves users and sessions, the fleet
/// registry and fleet hosts' history, the audit log, alerts and jobs to PostgreSQL, so several
/// hub replicas behind one address share them: a session made on one is valid on every one.
/// (What describes each replica's own machine stays in its SQLite file; see ARCHITECTURE.md.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (default empty: SQLite only). Prefer a
    /// password in `~/.pgpass` or `PGPASSWORD` over one in the URL.
    pub url: String,
    /// Seconds to wait for a connection at start and per query (1–300, default 10).
    pub connect_timeout_secs: u64,
    /// Connections per replica (1–100, default 8).
    pub max_connections: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            connect_timeout_secs: 10,
            max_connections: 8,
        }
    }
}

/// The Docker collector (`[docker]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerConfig {
    /// Monitor Docker at all (default true). Off: the service-health dimension is unknown.
    pub enabled: bool,
    /// The engine's address: `unix:///path/docker.sock`, `tcp://host:port` or `http://...`.
    /// Empty (the default) uses `DOCKER_HOST`, else `/var/run/docker.sock`.
    pub host: String,
    /// Seconds between collection rounds (1–3600, default 10).
    pub interval_secs: u64,
    /// Seconds one Docker call (list, inspect, stats, restart) may take (default 10).
    pub call_timeout_secs: u64,
    /// Inspections in flight at once (1–64, default 8).
    pub concurrency: usize,
    /// Stats calls in flight at once (1–1024, default 256). Each waits for the engine's next
    /// sampling tick, which serves all of them, so this is wide.
    pub stats_concurrency: usize,
    /// Bytes written per day by one container above which it is flagged (default 10 GB).
    pub block_write_limit_per_day: u64,
    /// Images older than this many days are flagged as stale (default 30; 0 turns it off).
    pub image_max_age_days: u64,
    /// Seconds Docker waits after SIGTERM before it kills a restarting container (default 10).
    pub stop_timeout_secs: u64,
    /// Seconds a bulk restart follows each restarted container until it is healthy again (or
    /// running, without a health check) before it reports "not healthy" (1–3600, default 120).
    pub settle_timeout_secs: u64,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            host: String::new(),
            interval_secs: 10,
            call_timeout_secs: 10,
            concurrency: 8,
            stats_concurrency: 256,
            block_write_limit_per_day: 10_000_000_000,
            image_max_age_days: 30,
            stop_timeout_secs: 10,
            settle_timeout_secs: 120,
        }
    }
}

/// The health-check-aware watchdog (`[watchdog]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchdogConfig {
    /// Restart unhealthy containers at all (default true).
    pub enabled: bool,
    /// Decide and log, but never restart (default false).
    pub dry_run: bool,
    /// Consecutive failed health checks before a restart (1–100, default 3).
    pub failures_before_restart: u32,
    /// Restarts per container per hour before the watchdog gives up (1–100, default 3).
    pub restarts_per_hour: u32,
    /// Seconds after a restart during which the container is left alone (default 300).
    pub cooldown_secs: u64,
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dry_run: false,
            failures_before_restart: 3,
            restarts_per_hour: 3,
            cooldown_secs: 300,
        }
    }
}

/// Scheduled jobs, job heartbeats and cleanup runs (`[maintenance]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaintenanceConfig {
    /// Seconds between job discoveries and status checks (10–3600, default 60).
    pub interval_secs: u64,
    /// The word in a crontab comment that opens the managed block (`# bytelyst-vm-maintenance`;
    /// a comment with the word and `END`, or a blank line, closes it). Default `vm-maintenance`.
    pub managed_marker: String,
    /// When Steward runs its own cleanup: a 5-field cron expression in the host's time zone
    /// (empty, the default: only when an admin runs it).
    pub cleanup_schedule: String,
    /// The mode name recorded for Steward's runs (default `standard`).
    pub cleanup_mode: String,
    /// Seconds one cleanup step may take before it is stopped and reported (1–7200, default 900).
    pub step_timeout_secs: u64,
    /// An existing cleanup script's log whose runs are imported (format in
    /// `server/src/maintenance/import.rs`; empty, the default: none).
    pub import_log: String,
    /// Grace seconds a new heartbeat job gets when none is given (60–604800, default 3600).
    pub default_grace_secs: u64,
    /// The largest ping body (a log tail) accepted, in bytes (1 KiB–1 MiB, default 16 KiB);
    /// larger bodies are refused with 413.
    pub ping_body_limit: u64,
    /// The public URL of Steward shown in the job's `curl` lines (default: the request's host).
    pub public_url: String,
    /// Folders whose largest subfolders are named as disk culprits (default none).
    pub culprit_paths: Vec<String>,
    /// Seconds between samples of what takes the disk (1–86400, default 900).
    pub culprit_interval_secs: u64,
    /// The cleanup steps, in order (default: build cache, images unused for 14 days,
    /// containers stopped for 7 days, container logs over 100 MiB).
    pub cleanup: Vec<CleanupStep>,
}

/// One cleanup step (`[[maintenance.cleanup]]` with a `kind`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CleanupStep {
    /// All build cache no build uses (`docker builder prune -a`).
    BuilderCache,
    /// Images no container uses: dangling ones, and those created more than N days ago.
    Images { older_than_days: u64 },
    /// Stopped containers created more than N days ago (not those labelled `steward.keep`).
    Containers { older_than_days: u64 },
    /// Truncates container log files larger than this many bytes.
    ContainerLogs { over_bytes: u64 },
    /// `journalctl --vacuum-size`: shrinks the journal to this many bytes.
    Journal { max_bytes: u64 },
    /// Downloaded packages and apt's package caches under /var/cache/apt.
    AptCache,
    /// A command from this file (never from the browser), run without a shell; what it frees
    /// is measured as the change of the disk's used space.
    Command { name: String, command: Vec<String> },
}

impl CleanupStep {
    /// The step's name in runs and logs.
    pub fn name(&self) -> String {
        match self {
            CleanupStep::BuilderCache => "docker_builder_cache".into(),
            CleanupStep::Images { .. } => "docker_images".into(),
            CleanupStep::Containers { .. } => "docker_containers".into(),
            CleanupStep::ContainerLogs { .. } => "container_logs".into(),
            CleanupStep::Journal { .. } => "journal".into(),
            CleanupStep::AptCache => "apt_cache".into(),
            CleanupStep::Command { name, .. } => name.clone(),
        }
    }

    /// What the step does, in a sentence.
    pub fn describe(&self) -> String {
        match self {
            CleanupStep::BuilderCache => "Docker build cache that no build uses".into(),
            CleanupStep::Images { older_than_days } => format!(
                "Docker images no container uses: dangling ones, and those older than {older_than_days} days"
            ),
            CleanupStep::Containers { older_than_days } => format!(
                "stopped containers created more than {older_than_days} days ago (not labelled steward.keep)"
            ),
            CleanupStep::ContainerLogs { over_bytes } => format!(
                "container log files larger than {} (truncated)",
                app::shared::format::bytes_binary(*over_bytes as f64)
            ),
            CleanupStep::Journal { max_bytes } => format!(
                "the systemd journal, vacuumed to {}",
                app::shared::format::bytes_binary(*max_bytes as f64)
            ),
            CleanupStep::AptCache => "downloaded packages and caches under /var/cache/apt".into(),
            CleanupStep::Command { command, .. } => format!("runs `{}`", command.join(" ")),
        }
    }

    pub fn uses_docker(&self) -> bool {
        matches!(
            self,
            CleanupStep::BuilderCache
                | CleanupStep::Images { .. }
                | CleanupStep::Containers { .. }
                | CleanupStep::ContainerLogs { .. }
        )
    }
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        Self {
            interval_secs: 60,
            managed_marker: "vm-maintenance".into(),
            cleanup_schedule: String::new(),
            cleanup_mode: "standard".into(),
            step_timeout_secs: 900,
            import_log: String::new(),
            default_grace_secs: 3600,
            ping_body_limit: 16 * 1024,
            public_url: String::new(),
            culprit_paths: Vec::new(),
            culprit_interval_secs: 900,
            cleanup: vec![
                CleanupStep::BuilderCache,
                CleanupStep::Images {
                    older_than_days: 14,
                },
                CleanupStep::Containers { older_than_days: 7 },
                CleanupStep::ContainerLogs {
                    over_bytes: 100 * 1024 * 1024,
                },
            ],
        }
    }
}

/// Model backends and GPUs (`[models]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// Seconds between checks of every backend (1–3600, default 10).
    pub interval_secs: u64,
    /// Failed checks in a row that open a backend's circuit breaker (1–100, default 3).
    pub breaker_failures: u32,
    /// Seconds an open breaker waits before one probe (1–3600, default 30).
    pub breaker_cool_off_secs: u64,
    /// Read GPUs (NVIDIA through NVML, loaded at run time; AMD through sysfs); default true.
    pub gpus: bool,
    /// The model servers, the one list every page, API and check reads (default none).
    pub backends: Vec<ModelBackendConfig>,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        Self {
            interval_secs: 10,
            breaker_failures: 3,
            breaker_cool_off_secs: 30,
            gpus: true,
            backends: Vec::new(),
        }
    }
}

/// One model server (`[[models.backends]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelBackendConfig {
    /// Its name on the page and in `/metrics` (1–64 of a-z, 0-9, - and _).
    pub name: String,
    /// `ollama`, `llamacpp`, `vllm` or `openai` (any other OpenAI-compatible server).
    pub kind: app::models::BackendKind,
    /// Its base URL, `http://` (`http://127.0.0.1:11434`).
    pub url: String,
    /// A file holding a bearer token sent with every call (default none).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Seconds one call may take (1–120, default 3); a check makes up to five calls at once.
    #[serde(default = "default_backend_timeout")]
    pub timeout_secs: u64,
}

fn default_backend_timeout() -> u64 {
    3
}

/// Sign-in and sessions (`[auth]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Let visitors who are not signed in read pages and read-only APIs (default false).
    /// Actions always need a signed-in admin.
    pub anonymous_read: bool,
    /// Hours a session lasts (1–8760, default 12).
    pub session_hours: u64,
    /// Mark the session cookie `Secure` (set it when Steward is served over HTTPS; default false).
    pub secure_cookie: bool,
    /// Failed sign-ins per client address and per username within `login_window_secs` before
    /// further attempts are refused with 429 (default 5).
    pub login_max_failures: u32,
    /// The window of the sign-in limit in seconds (default 900).
    pub login_window_secs: u64,
    /// Password verifications (argon2id, ~19 MB each) that may run at once; more wait up to
    /// two seconds, then get 503 with `Retry-After` (default 0: the number of cores, 2–8).
    pub verify_concurrency: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            anonymous_read: false,
            session_hours: 12,
            secure_cookie: false,
            login_max_failures: 5,
            login_window_secs: 900,
            verify_concurrency: 0,
        }
    }
}

/// The HTTP server's own limits (`[server]`): what a slow or hostile client may hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Seconds a client may take to send a request's headers before the connection is closed
    /// (default 10).
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may stay open with no bytes in either direction (default 120).
    /// Live streams send a keep-alive comment every 15 s, so they are never idle.
    pub idle_timeout_secs: u64,
    /// Connections open at once; more wait in the kernel's accept queue (default 4096). It is
    /// lowered at start so that 256 file descriptors always stay free for the collectors and
    /// the database.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 10,
            idle_timeout_secs: 120,
            max_connections: 4096,
        }
    }
}

/// The audit log's retention (`[audit]`). Refused sign-ins and guard refusals are counted per
/// address and username each minute rather than written one row per attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Days entries are kept (default 365; 0 keeps them until `max_rows` is reached).
    pub retention_days: u64,
    /// Most entries kept; the oldest go first (default 1,000,000, about 150 MB at most).
    pub max_rows: usize,
    /// Seconds between writes of the counted refusals (default 60).
    pub refusal_flush_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention_days: 365,
            max_rows: 1_000_000,
            refusal_flush_secs: 60,
        }
    }
}

/// Alerts (`[alerts]`): default rules from the thresholds and collectors, evaluated on every
/// collection round, sent to the notifiers below.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Evaluate rules at all (default true). Off: nothing fires and nothing is sent.
    pub enabled: bool,
    /// Seconds a condition must hold before it fires, for rules without their own (0–86400,
    /// default 60).
    pub for_secs: u64,
    /// Seconds between repeats of a firing alert nobody acknowledged (0: never; default 14400).
    pub repeat_secs: u64,
    /// How far back past a threshold a reading must come before its level clears, in percent
    /// of the threshold (0–50, default 5): steal warns above 5 % and clears below 4.75 %.
    pub clear_margin_pct: f64,
    /// Per-rule changes, by rule name (`steward rules list` names them): turn one off, give it
    /// its own `for:`, severity or levels. `[alerts.rules.cpu_steal_pct] for_secs = 300`.
    pub rules: std::collections::BTreeMap<String, RuleOverride>,
    /// Generic webhooks: a signed JSON POST per notice (`[[alerts.webhooks]]`).
    pub webhooks: Vec<WebhookConfig>,
    /// Telegram chats (`[[alerts.telegram]]`), through the Bot API's `sendMessage`.
    pub telegram: Vec<TelegramConfig>,
    /// ntfy topics (`[[alerts.ntfy]]`), through ntfy's HTTP publish.
    pub ntfy: Vec<NtfyConfig>,
    /// Prometheus Alertmanagers (`[[alerts.alertmanager]]`): firing and resolved alerts posted to
    /// `/api/v2/alerts`, for Alertmanager to route, group, inhibit and silence.
    pub alertmanager: Vec<AlertmanagerConfig>,
    /// Email over SMTP (`[[alerts.email]]`).
    pub email: Vec<EmailConfig>,
    /// `disk_full_soon` fires when a filesystem's trend over the last week reaches 100 % within
    /// this many days (1–365, default 7).
    pub disk_full_days: u64,
    /// The weekly digest (`[alerts.digest]`).
    pub digest: DigestConfig,
    /// Hours in which warnings wait (`[alerts.quiet_hours]`); off by default.
    pub quiet_hours: Option<QuietHours>,
}

/// The weekly digest: the week's figures and a chart, sent to every notifier but
/// Alertmanager, and shown at `/digest`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DigestConfig {
    /// Send it on the schedule (default true); off, it is still drawn and shown at `/digest`.
    pub enabled: bool,
    /// When, as a cron expression read in UTC (default `0 8 * * 1`: Monday 08:00, seed §4.3).
    pub schedule: String,
    /// The TrueType font the chart's text is drawn with (default DejaVu Sans from Debian's
    /// `fonts-dejavu-core`). Missing, the chart is drawn without its words and says so.
    pub font_file: PathBuf,
}

impl Default for DigestConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            schedule: "0 8 * * 1".into(),
            font_file: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".into(),
        }
    }
}

/// A daily window (UTC) in which notices below `min_severity` are held, and sent when it ends
/// if they still matter (the latest notice per alert; one that fired and resolved inside the
/// window is sent as resolved).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Start, `HH:MM` in UTC (e.g. `22:00`).
    pub start: String,
    /// End, `HH:MM` in UTC (e.g. `07:00`); before `start` means the window spans midnight.
    pub end: String,
    /// What still goes out at once (default `critical`).
    #[serde(default = "default_quiet_min")]
    pub min_severity: MinSeverity,
}

fn default_quiet_min() -> MinSeverity {
    MinSeverity::Critical
}

impl QuietHours {
    /// The window as minutes of the day: `(start, end)`.
    pub fn minutes(&self) -> Result<(u32, u32), String> {
        let parse = |t: &str| -> Result<u32, String> {
            let (h, m) = t
                .split_once(':')
                .ok_or_else(|| format!("{t:?} is not HH:MM"))?;
            let (h, m): (u32, u32) = (
                h.parse().map_err(|_| format!("{t:?} is not HH:MM"))?,
                m.parse().map_err(|_| format!("{t:?} is not HH:MM"))?,
            );
            if h > 23 || m > 59 || t.len() != 5 {
                return Err(format!("{t:?} is not HH:MM between 00:00 and 23:59"));
            }
            Ok(h * 60 + m)
        };
        let (s, e) = (parse(&self.start)?, parse(&self.end)?);
        if s == e {
            return Err("start and end are the same time".into());
        }
        Ok((s, e))
    }

    /// Whether `minute` (of the day, UTC) lies in the window.
    pub fn contains(window: (u32, u32), minute: u32) -> bool {
        let (s, e) = window;
        if s < e {
            (s..e).contains(&minute)
        } else {
            minute >= s || minute < e
        }
    }
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            for_secs: 60,
            repeat_secs: 4 * 3600,
            clear_margin_pct: 5.0,
            rules: Default::default(),
            webhooks: Vec::new(),
            telegram: Vec::new(),
            ntfy: Vec::new(),
            alertmanager: Vec::new(),
            email: Vec::new(),
            disk_full_days: 7,
            digest: DigestConfig::default(),
            quiet_hours: None,
        }
    }
}

/// One rule's changes (`[alerts.rules.NAME]`); what is left out keeps the default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleOverride {
    /// `false` turns the rule off.
    pub enabled: Option<bool>,
    /// Its own `for:` in seconds (0–86400).
    pub for_secs: Option<u64>,
    /// The level a condition rule (unhealthy container, collector error, …) fires at:
    /// `warning` or `critical`.
    pub severity: Option<app::alerts::Severity>,
    /// A numeric rule's levels, replacing those from `[thresholds]` (strict: above warns).
    pub warn: Option<f64>,
    pub crit: Option<f64>,
}

/// Which alerts a notifier is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MinSeverity {
    Warning,
    Critical,
}

impl MinSeverity {
    pub fn severity(self) -> app::alerts::Severity {
        match self {
            MinSeverity::Warning => app::alerts::Severity::Warning,
            MinSeverity::Critical => app::alerts::Severity::Critical,
        }
    }
}

fn default_min_severity() -> MinSeverity {
    MinSeverity::Warning
}

fn default_telegram_api() -> String {
    "https://api.telegram.org".into()
}

fn default_notify_timeout() -> u64 {
    10
}

/// One webhook (`[[alerts.webhooks]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Its name on the page and in `/metrics` (1–64 of a-z, 0-9, - and _).
    pub name: String,
    /// Where notices are posted (`https://` or `http://`).
    pub url: String,
    /// A file holding the HMAC-SHA256 key; each body is signed in `X-Steward-Signature:
    /// sha256=<hex>` (default none: unsigned).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Seconds one delivery may take (1–120, default 10).
    #[serde(default = "default_notify_timeout")]
    pub timeout_secs: u64,
    /// The lowest severity sent (`warning`, the default, or `critical`).
    #[serde(default = "default_min_severity")]
    pub min_severity: MinSeverity,
}

/// One Telegram chat (`[[alerts.telegram]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// Its name on the page and in `/metrics`.
    pub name: String,
    /// A file holding the bot token (from @BotFather); never shown back.
    pub token_file: PathBuf,
    /// The chat to write to (a number, or `@channelname`).
    pub chat_id: String,
    /// The Bot API's base URL (default `https://api.telegram.org`; a local Bot API server
    /// works too).
    #[serde(default = "default_telegram_api")]
    pub api_url: String,
    #[serde(default = "default_notify_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_min_severity")]
    pub min_severity: MinSeverity,
}

/// One ntfy topic (`[[alerts.ntfy]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NtfyConfig {
    pub name: String,
    /// The server (`https://ntfy.sh`, `http://ntfy.internal`).
    pub url: String,
    /// The topic notices are published to.
    pub topic: String,
    /// A file holding an access token sent as a bearer token (default none).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    #[serde(default = "default_notify_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_min_severity")]
    pub min_severity: MinSeverity,
}

/// One Alertmanager (`[[alerts.alertmanager]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    pub name: String,
    /// Its base URL (`http://127.0.0.1:9093`).
    pub url: String,
    #[serde(default = "default_notify_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_min_severity")]
    pub min_severity: MinSeverity,
}

/// How Steward speaks to an SMTP server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587 by default).
    Starttls,
    /// TLS from the first byte (port 465 by default).
    Tls,
    /// No encryption: only to a loopback relay (port 25 by default).
    None,
}

fn default_smtp_tls() -> SmtpTls {
    SmtpTls::Starttls
}

/// One mail route (`[[alerts.email]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub name: String,
    /// The SMTP server's host name (checked against its certificate with TLS).
    pub host: String,
    /// Its port (default by `tls`: 587, 465, or 25).
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (default), `tls`, or `none` (allowed only for a loopback host).
    #[serde(default = "default_smtp_tls")]
    pub tls: SmtpTls,
    /// The SMTP login (default none: no AUTH); needs `password_file`.
    #[serde(default)]
    pub username: Option<String>,
    /// A file holding the SMTP password; never shown back.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The sender, `Steward <steward@example.com>`.
    pub from: String,
    /// The recipients (1–20 addresses).
    pub to: Vec<String>,
    #[serde(default = "default_notify_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_min_severity")]
    pub min_severity: MinSeverity,
}

impl EmailConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        })
    }
}

/// Whether a host name is this machine (`localhost`, 127.0.0.0/8, ::1).
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The hub side of the fleet: what it accepts from agents (`POST /api/v1/agent/heartbeat`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetConfig {
    /// Largest heartbeat body in bytes, after decompression (1 KiB–16 MiB, default 256 KiB);
    /// larger ones are answered 413.
    pub heartbeat_body_limit: u64,
    /// How far an agent's clock may run ahead of the hub's (0–3600 s, default 60).
    pub clock_skew_secs: u64,
    /// Oldest heartbeat stored, e.g. replayed from an agent's buffer after a long cut
    /// (60 s–30 days, default 1 day; keep it at least the agents' `buffer_max_age_secs`, and
    /// at most `history.raw_retention_hours`: the minutes a replay missed are rolled up again
    /// from the raw samples).
    pub max_age_secs: u64,
    /// How long a rotated token keeps working beside its successor (0–30 days, default 1 h).
    pub token_grace_secs: u64,
    /// Heartbeats waiting for the group commit before new ones are answered 503
    /// (16–1,000,000, default 8,192).
    pub ingest_queue: u64,
    /// The health sweep of hosts registered with an address.
    pub sweep: SweepConfig,
}

/// `[fleet.sweep]`: checks each host's health URL (`/healthz` of its Steward, or any HTTP health
/// endpoint) every round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SweepConfig {
    /// Off: no host is checked (default on; with no addresses it does nothing).
    pub enabled: bool,
    /// Seconds between the starts of rounds; a longer round delays the next (1–3600, default 30).
    pub interval_secs: u64,
    /// Checks in flight at once (1–4,096, default 256).
    pub concurrency: u32,
    /// One check's limit, connection included (100 ms–60 s, default 3,000 ms).
    pub timeout_ms: u64,
    /// An answer slower than this makes a host degraded (10 ms–60 s, default 1,000 ms).
    pub slow_ms: u64,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_secs: 30,
            concurrency: 256,
            timeout_ms: 3000,
            slow_ms: 1000,
        }
    }
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            heartbeat_body_limit: 256 * 1024,
            clock_skew_secs: 60,
            max_age_secs: 86_400,
            token_grace_secs: 3600,
            ingest_queue: 8192,
            sweep: SweepConfig::default(),
        }
    }
}

/// Agent mode (`steward agent`): where to send heartbeats and how much to keep while the hub
/// cannot be reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// The hub's base URL (`https://steward.example.org`), or the base URLs of hub replicas
    /// separated by commas: heartbeats go to one until it cannot be reached or answers 5xx,
    /// then to the next. `--hub` overrides it.
    pub hub: String,
    /// The file holding this host's agent token (from *Add host* or `steward host add`).
    pub token_file: PathBuf,
    /// Seconds between heartbeats (1–3600, default 5).
    pub interval_secs: u64,
    /// Seconds one delivery may take (1–300, default 10).
    pub timeout_secs: u64,
    /// Folder of heartbeats not yet acknowledged by the hub (default `<data_dir>/agent-buffer`).
    pub buffer_dir: Option<PathBuf>,
    /// Most bytes the buffer keeps; past it the oldest heartbeats are dropped and counted
    /// (64 KiB–16 GiB, default 64 MiB: more than a day at 5 s).
    pub buffer_max_bytes: u64,
    /// Heartbeats older than this are dropped from the buffer (60 s–30 days, default 1 day).
    pub buffer_max_age_secs: u64,
    /// Seconds a stopping agent (SIGTERM) takes to deliver its last heartbeat, which says
    /// `draining`, and what is still buffered (0–300, default 5). What is left stays buffered.
    pub drain_secs: u64,
    /// The fleet actions this agent runs when the hub asks (default none; the one kind is
    /// `"restart_unhealthy"`). An action not named here is refused and reported so.
    pub allow_actions: Vec<app::fleet::action::ActionKind>,
    /// Where the agent serves its own `/metrics` for a Prometheus beside it (`127.0.0.1:9101`);
    /// unset (the default): nothing listens on the agent.
    pub metrics_listen: Option<String>,
}

impl AgentConfig {
    pub fn interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.interval_secs)
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            hub: String::new(),
            token_file: "agent-token".into(),
            interval_secs: 5,
            timeout_secs: 10,
            buffer_dir: None,
            buffer_max_bytes: 64 << 20,
            buffer_max_age_secs: 86_400,
            drain_secs: 5,
            allow_actions: Vec::new(),
            metrics_listen: None,
        }
    }
}

/// The whole configuration, as read from the TOML file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address `steward serve` listens on (default `127.0.0.1:3000`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// Folder for the SQLite file `steward.db` (default `./data`).
    pub data_dir: PathBuf,
    /// Folder with the built site (`pkg/steward.js`, `.wasm`, `.css`); default `target/site`.
    pub site_root: PathBuf,
    pub paths: HostPaths,
    pub collector: CollectorConfig,
    pub score: ScoreConfig,
    pub history: HistoryConfig,
    pub prometheus: PrometheusConfig,
    pub remote_write: RemoteWriteConfig,
    pub database: DatabaseConfig,
    pub thresholds: Thresholds,
    pub docker: DockerConfig,
    pub watchdog: WatchdogConfig,
    pub auth: AuthConfig,
    pub server: ServerConfig,
    pub audit: AuditConfig,
    pub maintenance: MaintenanceConfig,
    pub models: ModelsConfig,
    pub alerts: AlertsConfig,
    pub fleet: FleetConfig,
    pub agent: AgentConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: "data".into(),
            site_root: "target/site".into(),
            paths: HostPaths::default(),
            collector: CollectorConfig::default(),
            score: ScoreConfig::default(),
            history: HistoryConfig::default(),
            prometheus: PrometheusConfig::default(),
            remote_write: RemoteWriteConfig::default(),
            database: DatabaseConfig::default(),
            thresholds: Thresholds::default(),
            docker: DockerConfig::default(),
            watchdog: WatchdogConfig::default(),
            auth: AuthConfig::default(),
            server: ServerConfig::default(),
            audit: AuditConfig::default(),
            maintenance: MaintenanceConfig::default(),
            models: ModelsConfig::default(),
            alerts: AlertsConfig::default(),
            fleet: FleetConfig::default(),
            agent: AgentConfig::default(),
        }
    }
}

impl Config {
    /// Parses a TOML document (fields left out keep their defaults).
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// The SQLite file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("steward.db")
    }

    /// Rejects values that cannot work, with the field's name. Every duration and size has an
    /// upper bound too: an absurd value (say `i64::MAX` seconds) would otherwise turn a limit off
    /// or make a timeout never fire.
    pub fn validate(&self) -> Result<(), ConfigError> {
        const DAY: u64 = 86_400;
        let c = self;
        // One row per bounded field: name, value, lowest, highest.
        #[rustfmt::skip]
        let bounded: [(&'static str, u64, u64, u64); 67] = [
            ("collector.interval_secs", c.collector.interval_secs, 1, 3600),
            ("collector.top_processes", c.collector.top_processes as u64, 1, 50),
            ("collector.round_timeout_secs", c.collector.round_timeout_secs, 1, 600),
            ("history.flush_interval_secs", c.history.flush_interval_secs, 1, 3600),
            ("history.raw_retention_hours", c.history.raw_retention_hours, 1, 24 * 366),
            ("history.minute_retention_days", c.history.minute_retention_days, 1, 3660),
            ("history.hour_retention_days", c.history.hour_retention_days, 1, 36_600),
            ("history.day_retention_days", c.history.day_retention_days, 0, 36_600),
            ("history.retention_interval_secs", c.history.retention_interval_secs, 1, DAY),
            ("history.check_interval_secs", c.history.check_interval_secs, 0, 30 * DAY),
            ("prometheus.timeout_secs", c.prometheus.timeout_secs, 1, 300),
            ("prometheus.min_step_secs", c.prometheus.min_step_secs, 1, DAY),
            ("prometheus.explore_max_range_days", c.prometheus.explore_max_range_days, 1, 3650),
            ("remote_write.timeout_secs", c.remote_write.timeout_secs, 1, 300),
            ("remote_write.max_samples_per_send", c.remote_write.max_samples_per_send, 100, 100_000),
            ("remote_write.batch_deadline_ms", c.remote_write.batch_deadline_ms, 10, 60_000),
            ("remote_write.capacity_samples", c.remote_write.capacity_samples, 10_000, 100_000_000),
            ("remote_write.max_backoff_ms", c.remote_write.max_backoff_ms, 100, 600_000),
            ("remote_write.shards", c.remote_write.shards, 1, 64),
            ("database.connect_timeout_secs", c.database.connect_timeout_secs, 1, 300),
            ("database.max_connections", c.database.max_connections, 1, 100),
            ("docker.interval_secs", c.docker.interval_secs, 1, 3600),
            ("docker.call_timeout_secs", c.docker.call_timeout_secs, 1, 300),
            ("docker.concurrency", c.docker.concurrency as u64, 1, 64),
            ("docker.stats_concurrency", c.docker.stats_concurrency as u64, 1, 1024),
            ("docker.block_write_limit_per_day", c.docker.block_write_limit_per_day, 1, 1 << 60),
            ("docker.image_max_age_days", c.docker.image_max_age_days, 0, 36_600),
            ("docker.stop_timeout_secs", c.docker.stop_timeout_secs, 0, 600),
            ("docker.settle_timeout_secs", c.docker.settle_timeout_secs, 1, 3600),
            ("watchdog.failures_before_restart", c.watchdog.failures_before_restart as u64, 1, 100),
            ("watchdog.restarts_per_hour", c.watchdog.restarts_per_hour as u64, 1, 100),
            ("watchdog.cooldown_secs", c.watchdog.cooldown_secs, 0, DAY),
            ("auth.session_hours", c.auth.session_hours, 1, 8760),
            ("auth.login_max_failures", c.auth.login_max_failures as u64, 1, 1000),
            ("auth.login_window_secs", c.auth.login_window_secs, 1, DAY),
            ("server.header_read_timeout_secs", c.server.header_read_timeout_secs, 1, 600),
            ("server.idle_timeout_secs", c.server.idle_timeout_secs, 1, DAY),
            ("server.max_connections", c.server.max_connections as u64, 16, 1_000_000),
            ("audit.retention_days", c.audit.retention_days, 0, 36_600),
            ("audit.refusal_flush_secs", c.audit.refusal_flush_secs, 1, 3600),
            ("audit.max_rows", c.audit.max_rows as u64, 1000, 100_000_000),
            ("auth.verify_concurrency", c.auth.verify_concurrency as u64, 0, 64),
            ("maintenance.interval_secs", c.maintenance.interval_secs, 10, 3600),
            ("maintenance.step_timeout_secs", c.maintenance.step_timeout_secs, 1, 7200),
            ("maintenance.default_grace_secs", c.maintenance.default_grace_secs, 60, 7 * DAY),
            ("maintenance.ping_body_limit", c.maintenance.ping_body_limit, 1024, 1 << 20),
            ("maintenance.culprit_interval_secs", c.maintenance.culprit_interval_secs, 1, DAY),
            ("models.interval_secs", c.models.interval_secs, 1, 3600),
            ("models.breaker_failures", c.models.breaker_failures as u64, 1, 100),
            ("models.breaker_cool_off_secs", c.models.breaker_cool_off_secs, 1, 3600),
            ("alerts.for_secs", c.alerts.for_secs, 0, DAY),
            ("alerts.repeat_secs", c.alerts.repeat_secs, 0, 30 * DAY),
            ("alerts.disk_full_days", c.alerts.disk_full_days, 1, 365),
            ("fleet.heartbeat_body_limit", c.fleet.heartbeat_body_limit, 1024, 16 << 20),
            ("fleet.clock_skew_secs", c.fleet.clock_skew_secs, 0, 3600),
            ("fleet.max_age_secs", c.fleet.max_age_secs, 60, 30 * DAY),
            ("fleet.token_grace_secs", c.fleet.token_grace_secs, 0, 30 * DAY),
            ("fleet.ingest_queue", c.fleet.ingest_queue, 16, 1_000_000),
            ("fleet.sweep.interval_secs", c.fleet.sweep.interval_secs, 1, 3600),
            ("fleet.sweep.concurrency", c.fleet.sweep.concurrency as u64, 1, 4096),
            ("fleet.sweep.timeout_ms", c.fleet.sweep.timeout_ms, 100, 60_000),
            ("fleet.sweep.slow_ms", c.fleet.sweep.slow_ms, 10, 60_000),
            ("agent.interval_secs", c.agent.interval_secs, 1, 3600),
            ("agent.timeout_secs", c.agent.timeout_secs, 1, 300),
            ("agent.buffer_max_bytes", c.agent.buffer_max_bytes, 64 << 10, 16 << 30),
            ("agent.buffer_max_age_secs", c.agent.buffer_max_age_secs, 60, 30 * DAY),
            ("agent.drain_secs", c.agent.drain_secs, 0, 300),
        ];
        for (field, value, lo, hi) in bounded {
            if !(lo..=hi).contains(&value) {
                return Err(ConfigError::Invalid {
                    field,
                    message: format!("must be between {lo} and {hi} (got {value})"),
                });
            }
        }
        let invalid = |field, message: &str| ConfigError::Invalid {
            field,
            message: message.to_string(),
        };
        if c.fleet.max_age_secs > c.history.raw_retention_hours.saturating_mul(3600) {
            return Err(ConfigError::Invalid {
                field: "fleet.max_age_secs",
                message: format!(
                    "must not exceed history.raw_retention_hours ({} s): a replayed heartbeat's \
                     late minutes are rolled up again from the raw samples kept (got {})",
                    c.history.raw_retention_hours * 3600,
                    c.fleet.max_age_secs
                ),
            });
        }
        if !self.score.disk_mount.starts_with('/') {
            return Err(invalid(
                "score.disk_mount",
                "must be an absolute mount point such as /",
            ));
        }
        if !self.prometheus.url.is_empty() && !self.prometheus.url.starts_with("http://") {
            return Err(invalid(
                "prometheus.url",
                "must be an http:// URL (or empty to use SQLite)",
            ));
        }
        let db = &self.database.url;
        if !(db.is_empty() || db.starts_with("postgres://") || db.starts_with("postgresql://")) {
            return Err(invalid(
                "database.url",
                "must be a postgres:// or postgresql:// URL (or empty: the SQLite file)",
            ));
        }
        let rw = &self.remote_write.url;
        if !(rw.is_empty() || rw.starts_with("http://") || rw.starts_with("https://")) {
            return Err(invalid(
                "remote_write.url",
                "must be an http:// or https:// URL (or empty: off)",
            ));
        }
        if !self.docker.host.is_empty()
            && !["unix://", "tcp://", "http://"]
                .iter()
                .any(|p| self.docker.host.starts_with(p))
        {
            return Err(invalid(
                "docker.host",
                "must start with unix://, tcp:// or http:// (TLS is not supported)",
            ));
        }
        if let Some(l) = &self.agent.metrics_listen {
            if l.parse::<std::net::SocketAddr>().is_err() {
                return Err(ConfigError::Invalid {
                    field: "agent.metrics_listen",
                    message: format!(
                        "must be an address and port such as 127.0.0.1:9101 (got {l:?})"
                    ),
                });
            }
        }
        self.validate_maintenance()?;
        self.validate_models()?;
        self.validate_alerts()?;
        self.thresholds.validate()?;
        Ok(())
    }
}

impl Config {
    fn validate_alerts(&self) -> Result<(), ConfigError> {
        let a = &self.alerts;
        let invalid = |field, message: String| ConfigError::Invalid { field, message };
        if !(0.0..=50.0).contains(&a.clear_margin_pct) {
            return Err(invalid(
                "alerts.clear_margin_pct",
                format!("must be between 0 and 50 (got {})", a.clear_margin_pct),
            ));
        }
        for (name, o) in &a.rules {
            if !crate::alerts::rules::is_rule(name) {
                return Err(invalid(
                    "alerts.rules",
                    format!(
                        "no rule is named {name:?}; the rules are: {}",
                        crate::alerts::rules::names().join(", ")
                    ),
                ));
            }
            if o.for_secs.is_some_and(|s| s > 86_400) {
                return Err(invalid(
                    "alerts.rules",
                    format!("{name}: for_secs must be at most 86400"),
                ));
            }
            let t = app::vitals::thresholds::Threshold {
                warn: o.warn,
                crit: o.crit,
            };
            t.validate(name)?;
        }
        // Every notifier: a unique name, an http:// URL, a sane timeout.
        let mut names = std::collections::HashSet::new();
        let notifiers = a
            .webhooks
            .iter()
            .map(|w| (w.name.as_str(), w.url.as_str(), w.timeout_secs))
            .chain(
                a.telegram
                    .iter()
                    .map(|t| (t.name.as_str(), t.api_url.as_str(), t.timeout_secs)),
            )
            .chain(
                a.ntfy
                    .iter()
                    .map(|n| (n.name.as_str(), n.url.as_str(), n.timeout_secs)),
            )
            .chain(
                a.alertmanager
                    .iter()
                    .map(|m| (m.name.as_str(), m.url.as_str(), m.timeout_secs)),
            )
            // Email has no URL; its host is checked below.
            .chain(
                a.email
                    .iter()
                    .map(|e| (e.name.as_str(), "http://", e.timeout_secs)),
            );
        for (name, url, timeout) in notifiers {
            let field = "alerts notifiers";
            if !app::maintenance::valid_slug(name) {
                return Err(invalid(
                    field,
                    format!("notifier name {name:?}: use 1–64 of a-z, 0-9, - and _"),
                ));
            }
            if !names.insert(name) {
                return Err(invalid(field, format!("two notifiers are named {name:?}")));
            }
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid(
                    field,
                    format!("{name}: the URL must start with http:// or https:// (got {url:?})"),
                ));
            }
            if !(1..=120).contains(&timeout) {
                return Err(invalid(
                    field,
                    format!("{name}: timeout_secs must be between 1 and 120 (got {timeout})"),
                ));
            }
        }
        for t in &a.telegram {
            if t.chat_id.trim().is_empty() {
                return Err(invalid(
                    "alerts.telegram",
                    format!("{}: chat_id is empty", t.name),
                ));
            }
        }
        if let Err(e) = a
            .digest
            .schedule
            .parse::<crate::maintenance::schedule::Schedule>()
        {
            return Err(invalid("alerts.digest.schedule", e.to_string()));
        }
        if let Some(q) = &a.quiet_hours {
            q.minutes().map_err(|m| invalid("alerts.quiet_hours", m))?;
        }
        for e in &a.email {
            Self::validate_email(e)
                .map_err(|m| invalid("alerts.email", format!("{}: {m}", e.name)))?;
        }
        for n in &a.ntfy {
            if !app::maintenance::valid_slug(&n.topic.to_ascii_lowercase()) {
                return Err(invalid(
                    "alerts.ntfy",
                    format!("{}: topic must be 1–64 of letters, digits, - and _", n.name),
                ));
            }
        }
        Ok(())
    }

    fn validate_email(e: &EmailConfig) -> Result<(), String> {
        use std::str::FromStr;
        if e.host.trim().is_empty() || e.host.contains(char::is_whitespace) {
            return Err(format!("host {:?} is not a host name", e.host));
        }
        if e.tls == SmtpTls::None && !is_loopback_host(&e.host) {
            return Err(format!(
                "tls = \"none\" sends mail and password in clear text; it is allowed only to a loopback relay, not {:?} (use starttls or tls)",
                e.host
            ));
        }
        if e.username.is_some() != e.password_file.is_some() {
            return Err("username and password_file go together".into());
        }
        lettre::message::Mailbox::from_str(&e.from)
            .map_err(|err| format!("from {:?} is not an address: {err}", e.from))?;
        if e.to.is_empty() || e.to.len() > 20 {
            return Err(format!("to must list 1–20 addresses (got {})", e.to.len()));
        }
        for t in &e.to {
            lettre::message::Mailbox::from_str(t)
                .map_err(|err| format!("to {t:?} is not an address: {err}"))?;
        }
        Ok(())
    }

    fn validate_models(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            field: "models.backends",
            message,
        };
        let mut names = std::collections::HashSet::new();
        for b in &self.models.backends {
            if !app::maintenance::valid_slug(&b.name) {
                return Err(invalid(format!(
                    "backend name {:?}: use 1–64 of a-z, 0-9, - and _",
                    b.name
                )));
            }
            if !names.insert(b.name.as_str()) {
                return Err(invalid(format!("two backends are named {:?}", b.name)));
            }
            if !b.url.starts_with("http://") {
                return Err(invalid(format!(
                    "backend {:?}: url must be an http:// URL (Steward's client has no TLS; model servers listen on loopback or a private network)",
                    b.name
                )));
            }
            if !(1..=120).contains(&b.timeout_secs) {
                return Err(invalid(format!(
                    "backend {:?}: timeout_secs must be between 1 and 120 (got {})",
                    b.name, b.timeout_secs
                )));
            }
        }
        Ok(())
    }

    fn validate_maintenance(&self) -> Result<(), ConfigError> {
        let m = &self.maintenance;
        let invalid = |field, message: String| ConfigError::Invalid { field, message };
        if !m.cleanup_schedule.is_empty() {
            if let Err(e) = m
                .cleanup_schedule
                .parse::<crate::maintenance::schedule::Schedule>()
            {
                return Err(invalid("maintenance.cleanup_schedule", e.to_string()));
            }
        }
        let mut names = std::collections::HashSet::new();
        for step in &m.cleanup {
            let name = step.name();
            if !names.insert(name.clone()) {
                return Err(invalid(
                    "maintenance.cleanup",
                    format!("two steps are named {name:?}"),
                ));
            }
            if let CleanupStep::Command { name, command } = step {
                if !app::maintenance::valid_slug(name) {
                    return Err(invalid(
                        "maintenance.cleanup",
                        format!("command step name {name:?}: use 1–64 of a-z, 0-9, - and _"),
                    ));
                }
                if command.first().is_none_or(|p| !p.starts_with('/')) {
                    return Err(invalid(
                        "maintenance.cleanup",
                        format!("command step {name:?}: the command must start with an absolute program path"),
                    ));
                }
            }
        }
        if !(m.public_url.is_empty()
            || m.public_url.starts_with("http://")
            || m.public_url.starts_with("https://"))
        {
            return Err(invalid(
                "maintenance.public_url",
                "must be an http:// or https:// URL".into(),
            ));
        }
        if m.culprit_paths.iter().any(|p| !p.starts_with('/')) {
            return Err(invalid(
                "maintenance.culprit_paths",
                "every path must be absolute".into(),
            ));
        }
        Ok(())
    }
}

/// Command line of the `steward` binary.
#[derive(Debug, Parser)]
#[command(
    name = "steward",
    version,
    about = "Watches, scores and heals Linux VMs."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The flags every command takes (and `steward-agent`).
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// TOML config file. Without it, `./steward.toml` is read when present.
    #[arg(long, env = "STEWARD_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// The proc filesystem to read (node_exporter's `--path.procfs`).
    #[arg(long = "path.procfs", env = "STEWARD_PATH_PROCFS", global = true)]
    pub procfs: Option<PathBuf>,
    /// The sys filesystem to read (node_exporter's `--path.sysfs`).
    #[arg(long = "path.sysfs", env = "STEWARD_PATH_SYSFS", global = true)]
    pub sysfs: Option<PathBuf>,
    /// The root filesystem to read (node_exporter's `--path.rootfs`).
    #[arg(long = "path.rootfs", env = "STEWARD_PATH_ROOTFS", global = true)]
    pub rootfs: Option<PathBuf>,
    /// Seconds between collection rounds.
    #[arg(long, env = "STEWARD_COLLECT_INTERVAL", global = true)]
    pub collect_interval: Option<u64>,
}

/// Command line of the `steward-agent` binary: `steward agent`'s, without the other commands.
#[derive(Debug, Parser)]
#[command(
    name = "steward-agent",
    version,
    about = "Steward's fleet agent alone: sends this host's heartbeats to the hub."
)]
pub struct AgentCli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub agent: AgentArgs,
}

impl From<AgentCli> for Cli {
    fn from(a: AgentCli) -> Self {
        Cli {
            common: a.common,
            command: Command::Agent(a.agent),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the server: collectors, history, web UI and APIs.
    Serve(ServeArgs),
    /// Checks this machine once (or continuously) and prints a table; exit 0 ok, 1 warn, 2 crit.
    Check(CheckArgs),
    /// Adds a user or sets a user's password and role (reads the password from a file).
    User(UserArgs),
    /// Writes an online, consistent copy of the database (users, audit log, history) to FILE,
    /// while Steward runs. Restore: stop Steward, copy FILE over `steward.db`, remove
    /// `steward.db-wal` and `steward.db-shm`, start Steward.
    Backup(BackupArgs),
    /// The alert rules: `list` names each with what it watches; `export` prints Prometheus
    /// alerting rules equivalent to them on Steward's `/metrics` names.
    Rules(RulesArgs),
    /// Grafana dashboards: `export` prints the fleet dashboard (JSON) on the series
    /// `[remote_write]` sends.
    Dashboards(DashboardsArgs),
    /// Runs as a fleet agent: collects this host and pushes a heartbeat to the hub every
    /// `agent.interval_secs`, buffering on disk while the hub cannot be reached.
    Agent(AgentArgs),
    /// Fleet hosts on this hub: `add NAME` prints the new host's agent token once.
    Host(HostArgs),
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The hub's base URL, or hub replicas' separated by commas (overrides `agent.hub`).
    #[arg(long, env = "STEWARD_HUB")]
    pub hub: Option<String>,
    /// The file with this host's agent token (overrides `agent.token_file`).
    #[arg(long, env = "STEWARD_AGENT_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Folder of the agent's buffer and sequence number (default `./data`).
    #[arg(long, env = "STEWARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Sends one heartbeat to each hub listed, says whether each took it (token, connectivity,
    /// clock), exits (non-zero unless all did).
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct HostArgs {
    #[command(subcommand)]
    pub action: HostAction,
    /// Folder for the SQLite file.
    #[arg(long, env = "STEWARD_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum HostAction {
    /// Adds a host and prints its agent token (shown this once; only its digest is kept).
    Add {
        /// The host's name in the fleet (1–64 of a-z, 0-9, `.`, `-`, `_`).
        name: String,
    },
    /// Lists the hosts with their last heartbeat.
    List,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub action: RulesAction,
}

#[derive(Debug, Subcommand)]
pub enum RulesAction {
    /// Each rule's name, the label its instances carry, and what it watches.
    List,
    /// Prometheus alerting rules (YAML) for `promtool check rules` and a Prometheus that
    /// scrapes Steward.
    Export,
}

#[derive(Debug, Args)]
pub struct DashboardsArgs {
    #[command(subcommand)]
    pub action: DashboardsAction,
}

#[derive(Debug, Subcommand)]
pub enum DashboardsAction {
    /// The fleet dashboard as Grafana JSON (Dashboards → New → Import).
    Export,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy (must not exist yet).
    pub file: PathBuf,
    /// Folder of the SQLite file to copy.
    #[arg(long, env = "STEWARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    /// The user's name (letters, digits, `.`, `-`, `_`; 1–64 characters).
    pub username: String,
    /// `admin` (may act) or `viewer` (read-only).
    #[arg(long, default_value = "viewer")]
    pub role: String,
    /// File whose first line is the password (at least 12 characters).
    #[arg(long)]
    pub password_file: PathBuf,
    /// Folder for the SQLite file.
    #[arg(long, env = "STEWARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:3000 (port 0 picks a free one and prints it).
    #[arg(long, env = "STEWARD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Folder for the SQLite history file.
    #[arg(long, env = "STEWARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Folder with the built site (cargo-leptos's `site-root`).
    #[arg(long, env = "LEPTOS_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
    /// With no users yet, create the user `admin` with the password in this file's first line
    /// (instead of printing a one-time setup link).
    #[arg(long, env = "STEWARD_ADMIN_PASSWORD_FILE")]
    pub admin_password_file: Option<PathBuf>,
    /// Docker engine address (overrides `docker.host`).
    #[arg(long, env = "STEWARD_DOCKER_HOST")]
    pub docker_host: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Keep checking until interrupted.
    #[arg(long)]
    pub continuous: bool,
    /// Seconds between checks with `--continuous`.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
}

impl Cli {
    /// Builds the configuration: defaults, then the file, then env and flags; then validates it.
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        let common = &self.common;
        let mut config = match &common.config {
            Some(path) => Config::from_file(path)?,
            None if Path::new("steward.toml").exists() => {
                Config::from_file(Path::new("steward.toml"))?
            }
            None => Config::default(),
        };
        if let Some(p) = &common.procfs {
            config.paths.procfs = p.clone();
        }
        if let Some(p) = &common.sysfs {
            config.paths.sysfs = p.clone();
        }
        if let Some(p) = &common.rootfs {
            config.paths.rootfs = p.clone();
        }
        if let Some(i) = common.collect_interval {
            config.collector.interval_secs = i;
        }
        if let Command::Serve(args) = &self.command {
            if let Some(l) = args.listen {
                config.listen = l;
            }
            if let Some(d) = &args.data_dir {
                config.data_dir = d.clone();
            }
            if let Some(s) = &args.site_root {
                config.site_root = s.clone();
            }
            if let Some(h) = &args.docker_host {
                config.docker.host = h.clone();
            }
        }
        let data_dir = match &self.command {
            Command::User(args) => args.data_dir.as_ref(),
            Command::Backup(args) => args.data_dir.as_ref(),
            Command::Agent(args) => args.data_dir.as_ref(),
            Command::Host(args) => args.data_dir.as_ref(),
            _ => None,
        };
        if let Some(d) = data_dir {
            config.data_dir = d.clone();
        }
        if let Command::Agent(args) = &self.command {
            if let Some(h) = &args.hub {
                config.agent.hub = h.clone();
            }
            if let Some(t) = &args.token_file {
                config.agent.token_file = t.clone();
            }
        }
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let c = Config::from_toml(text, Path::new("test.toml"))?;
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn the_readme_example_is_the_defaults() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("```toml\n")
            .expect("README has the config example")
            + 8;
        let end = start + readme[start..].find("```").unwrap();
        let example = parse(&readme[start..end]).expect("the README's example parses");
        assert_eq!(example.maintenance, Config::default().maintenance);
        assert_eq!(example.docker, Config::default().docker);
        assert_eq!(example.fleet, Config::default().fleet);
        assert_eq!(example.agent, Config::default().agent);
        assert_eq!(example.remote_write, Config::default().remote_write);
        assert_eq!(example.database, Config::default().database);
    }

    #[test]
    fn the_database_url_is_checked() {
        let e = parse("[database]\nurl = \"mysql://db/steward\"\n").unwrap_err();
        assert!(e.to_string().contains("database.url"), "{e}");
        let c = parse("[database]\nurl = \"postgresql://steward@db/steward\"\n").unwrap();
        assert_eq!(c.database.max_connections, 8);
    }

    #[test]
    fn remote_write_settings_are_checked() {
        let e = parse("[remote_write]\nurl = \"ftp://x\"\n").unwrap_err();
        assert!(e.to_string().contains("remote_write.url"), "{e}");
        let e = parse("[remote_write]\nurl = \"http://x/api/v1/write\"\ncapacity_samples = 5\n")
            .unwrap_err();
        assert!(
            e.to_string().contains("remote_write.capacity_samples"),
            "{e}"
        );
        let c = parse("[remote_write]\nurl = \"https://mimir.example/api/v1/push\"\n").unwrap();
        assert_eq!(c.remote_write.max_samples_per_send, 5_000);
    }

    #[test]
    fn maintenance_settings_are_checked() {
        let e = parse("[maintenance]\ncleanup_schedule = \"every night\"\n").unwrap_err();
        assert!(
            e.to_string().contains("maintenance.cleanup_schedule"),
            "{e}"
        );
        let e = parse("[[maintenance.cleanup]]\nkind = \"command\"\nname = \"x\"\ncommand = [\"rm\", \"-rf\", \"/\"]\n").unwrap_err();
        assert!(e.to_string().contains("absolute program path"), "{e}");
        let e = parse("[[maintenance.cleanup]]\nkind = \"images\"\n").unwrap_err();
        assert!(e.to_string().contains("older_than_days"), "{e}");
        let e = parse("[[maintenance.cleanup]]\nkind = \"apt_cache\"\n[[maintenance.cleanup]]\nkind = \"apt_cache\"\n").unwrap_err();
        assert!(e.to_string().contains("two steps"), "{e}");
        let ok = parse("[maintenance]\ncleanup_schedule = \"30 3 * * *\"\ncleanup = [{ kind = \"journal\", max_bytes = 1000 }]\n").unwrap();
        assert_eq!(
            ok.maintenance.cleanup,
            vec![CleanupStep::Journal { max_bytes: 1000 }]
        );
    }

    #[test]
    fn quiet_hours_and_the_digest_schedule_are_checked() {
        let ok = parse("[alerts.quiet_hours]\nstart = \"22:00\"\nend = \"07:00\"\n").unwrap();
        let q = ok.alerts.quiet_hours.unwrap();
        let w = q.minutes().unwrap();
        assert_eq!(q.min_severity, MinSeverity::Critical);
        assert!(QuietHours::contains(w, 23 * 60) && QuietHours::contains(w, 6 * 60 + 59));
        assert!(!QuietHours::contains(w, 7 * 60) && !QuietHours::contains(w, 12 * 60));
        assert!(QuietHours::contains((60, 120), 60) && !QuietHours::contains((60, 120), 120));
        for bad in ["25:00", "7:00", "ab:cd"] {
            let e = parse(&format!(
                "[alerts.quiet_hours]\nstart = \"{bad}\"\nend = \"07:00\"\n"
            ))
            .unwrap_err();
            assert!(e.to_string().contains("alerts.quiet_hours"), "{e}");
        }
        let e = parse("[alerts.digest]\nschedule = \"mondays\"\n").unwrap_err();
        assert!(e.to_string().contains("alerts.digest.schedule"), "{e}");
        assert_eq!(Config::default().alerts.digest.schedule, "0 8 * * 1");
    }

    #[test]
    fn email_settings_are_checked() {
        let mail = |extra: &str| {
            parse(&format!(
                "[[alerts.email]]\nname = \"ops\"\nfrom = \"Steward <steward@example.com>\"\nto = [\"ops@example.com\"]\n{extra}"
            ))
        };
        let ok = mail("host = \"smtp.example.com\"\n").unwrap();
        assert_eq!(ok.alerts.email[0].tls, SmtpTls::Starttls);
        assert_eq!(ok.alerts.email[0].port(), 587);
        let ok = mail("host = \"127.0.0.1\"\ntls = \"none\"\n").unwrap();
        assert_eq!(ok.alerts.email[0].port(), 25);
        let e = mail("host = \"smtp.example.com\"\ntls = \"none\"\n").unwrap_err();
        assert!(e.to_string().contains("only to a loopback relay"), "{e}");
        let e = mail("host = \"smtp.example.com\"\nusername = \"u\"\n").unwrap_err();
        assert!(e.to_string().contains("go together"), "{e}");
        let e = parse("[[alerts.email]]\nname = \"ops\"\nhost = \"h\"\nfrom = \"not an address\"\nto = [\"a@b.c\"]\n").unwrap_err();
        assert!(e.to_string().contains("alerts.email"), "{e}");
        assert!(e.to_string().contains("is not an address"), "{e}");
        let e =
            parse("[[alerts.email]]\nname = \"ops\"\nhost = \"h\"\nfrom = \"a@b.c\"\nto = []\n")
                .unwrap_err();
        assert!(e.to_string().contains("1–20"), "{e}");
        assert!(
            is_loopback_host("localhost")
                && is_loopback_host("::1")
                && is_loopback_host("127.0.0.2")
        );
        assert!(!is_loopback_host("10.0.0.1"));
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn fields_override_defaults() {
        let c = parse(
            r#"
            listen = "0.0.0.0:8080"
            [collector]
            interval_secs = 10
            [thresholds]
            disk_used_pct = { warn = 80, crit = 90 }
            process_watch = [{ name = "rsync", warn_above = 1, crit_above = 3 }]
            "#,
        )
        .unwrap();
        assert_eq!(c.listen.port(), 8080);
        assert_eq!(c.collector.interval_secs, 10);
        assert_eq!(c.thresholds.disk_used_pct.warn, Some(80.0));
        assert_eq!(c.thresholds.process_watch[0].name, "rsync");
        assert_eq!(c.history, HistoryConfig::default());
    }

    #[test]
    fn bad_config_gives_clear_errors() {
        let e = parse("colector = {}").unwrap_err().to_string();
        assert!(e.contains("unknown field `colector`"), "{e}");
        let e = parse("[collector]\ninterval_secs = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("collector.interval_secs"), "{e}");
        let e = parse("[thresholds]\nmem_used_pct = { warn = 99, crit = 90 }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("warn (99) is above crit (90)"), "{e}");
        let e = parse("listen = \"nowhere\"").unwrap_err().to_string();
        assert!(e.contains("test.toml"), "{e}");
    }

    #[test]
    fn absurd_durations_and_sizes_are_refused_with_the_field() {
        for (text, field) in [
            (
                "[auth]\nlogin_window_secs = 9223372036854775807",
                "auth.login_window_secs",
            ),
            (
                "[prometheus]\ntimeout_secs = 9223372036854775807",
                "prometheus.timeout_secs",
            ),
            (
                "[history]\nraw_retention_hours = 9223372036854775807",
                "history.raw_retention_hours",
            ),
            (
                "[docker]\ncall_timeout_secs = 100000",
                "docker.call_timeout_secs",
            ),
            (
                "[watchdog]\ncooldown_secs = 10000000",
                "watchdog.cooldown_secs",
            ),
            (
                "[server]\nheader_read_timeout_secs = 0",
                "server.header_read_timeout_secs",
            ),
            ("[audit]\nmax_rows = 10", "audit.max_rows"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(
                e.contains(field) && e.contains("must be between"),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn replays_may_not_reach_past_the_raw_samples_kept() {
        let e = parse("[history]\nraw_retention_hours = 12")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("fleet.max_age_secs") && e.contains("43200 s"),
            "{e}"
        );
        let c =
            parse("[history]\nraw_retention_hours = 12\n[fleet]\nmax_age_secs = 43200").unwrap();
        assert_eq!(c.fleet.max_age_secs, 43_200);
    }

    #[test]
    fn flags_override_the_file() {
        let cli = Cli::parse_from([
            "steward",
            "--path.procfs",
            "/fixture/proc",
            "--collect-interval",
            "2",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ]);
        let c = cli.load_config().unwrap();
        assert_eq!(c.paths.procfs, PathBuf::from("/fixture/proc"));
        assert_eq!(c.collector.interval_secs, 2);
        assert_eq!(c.listen.port(), 0);
    }

    #[test]
    fn steward_agent_takes_the_agent_commands_flags() {
        let cli = AgentCli::parse_from([
            "steward-agent",
            "--hub",
            "http://hub-a:3000,http://hub-b:3000",
            "--token-file",
            "/etc/steward/token",
            "--path.rootfs",
            "/host",
            "--check",
        ]);
        assert!(cli.agent.check);
        let c = Cli::from(cli).load_config().unwrap();
        assert_eq!(c.agent.hub, "http://hub-a:3000,http://hub-b:3000");
        assert_eq!(c.agent.token_file, PathBuf::from("/etc/steward/token"));
        assert_eq!(c.paths.rootfs, PathBuf::from("/host"));
        // What `steward agent` does not take, neither does it.
        assert!(AgentCli::try_parse_from(["steward-agent", "--listen", "127.0.0.1:0"]).is_err());
    }
}
