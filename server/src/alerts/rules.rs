//! The default rules, pure: from the latest state (overview, models, maintenance) to one
//! reading per alert instance. Numeric rules come from every metric that has thresholds (their
//! levels are `[thresholds]`, or a rule's own `warn`/`crit`) and from the GPUs; condition rules
//! (an unhealthy container, a collector in error, a backend down, a failed job) read 1 while the
//! condition holds. A source that is missing this round (Docker unreachable) gives no readings
//! and is not "covered", so its alerts keep their state; a covered rule's instance that is gone
//! from the round (the container was fixed) reads 0 and resolves.

use std::collections::BTreeMap;

use app::alerts::Severity;
use app::containers::ContainerSummary;
use app::maintenance::{JobSource, JobStatus, Maintenance};
use app::models::{BackendState, GpuReport, Models};
use app::vitals::metric_def::{self, LabelKind};
use app::vitals::{CollectorState, Overview};

use super::engine::{Direction, Thresholds};
use crate::config::RuleOverride;

/// What a rule watches, for the list, the docs and the exported Prometheus rules.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleInfo {
    pub name: &'static str,
    pub description: &'static str,
    /// The label that tells its instances apart (none: one per host).
    pub label: Option<&'static str>,
    pub kind: RuleKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RuleKind {
    /// A metric against its `[thresholds]`.
    Metric,
    /// A number with the rule's own default levels (warn, crit).
    Levels { warn: f64, crit: f64 },
    /// A condition, firing at this severity by default.
    Condition(Severity),
}

const fn condition(
    name: &'static str,
    label: &'static str,
    severity: Severity,
    description: &'static str,
) -> RuleInfo {
    RuleInfo {
        name,
        description,
        label: Some(label),
        kind: RuleKind::Condition(severity),
    }
}

/// The rules that are not a vitals metric.
pub const OWN_RULES: &[RuleInfo] = &[
    condition(
        "container_unhealthy",
        "container",
        Severity::Critical,
        "A container's health check fails.",
    ),
    condition(
        "watchdog_gave_up",
        "container",
        Severity::Critical,
        "The watchdog restarted a container as often as it may this hour and stopped trying.",
    ),
    condition(
        "container_io_anomaly",
        "container",
        Severity::Warning,
        "A container writes more to disk per day than docker.block_write_limit_per_day.",
    ),
    condition(
        "image_stale",
        "container",
        Severity::Warning,
        "A container runs an image older than docker.image_max_age_days.",
    ),
    condition(
        "collector_error",
        "collector",
        Severity::Warning,
        "A collector or integration failed its last round: its data is missing or old.",
    ),
    condition(
        "model_backend_down",
        "backend",
        Severity::Critical,
        "A model backend does not answer (or its circuit breaker is open).",
    ),
    condition(
        "job_failed",
        "job",
        Severity::Critical,
        "A scheduled job reported failure.",
    ),
    condition(
        "container_oom_killed",
        "container",
        Severity::Warning,
        "A container's last exit was the kernel's out-of-memory kill (Docker's OOMKilled).",
    ),
    condition(
        "disk_full_soon",
        "mountpoint",
        Severity::Warning,
        "A filesystem's trend over the last week reaches 100 % within alerts.disk_full_days.",
    ),
    condition(
        "job_missed",
        "job",
        Severity::Warning,
        "A scheduled job did not report within its grace time.",
    ),
    RuleInfo {
        name: "heartbeat_stale",
        description:
            "A fleet host's last heartbeat is old (seconds): stale after 30 s, missing after 5 min.",
        label: Some("host"),
        kind: RuleKind::Levels {
            warn: 30.0,
            crit: 300.0,
        },
    },
    RuleInfo {
        name: "gpu_temperature_c",
        description: "A GPU runs hot (°C).",
        label: Some("gpu"),
        kind: RuleKind::Levels {
            warn: 85.0,
            crit: 90.0,
        },
    },
    RuleInfo {
        name: "gpu_vram_used_pct",
        description: "A GPU's memory is nearly full (%).",
        label: Some("gpu"),
        kind: RuleKind::Levels {
            warn: 90.0,
            crit: 95.0,
        },
    },
];

/// Every rule: the metrics with thresholds, then Steward's own.
pub fn all() -> Vec<RuleInfo> {
    metric_def::METRICS
        .iter()
        .filter(|d| d.threshold.is_some())
        .map(|d| RuleInfo {
            name: d.name,
            description: d.title,
            label: (d.label != LabelKind::None).then(|| d.label.export_label()),
            kind: RuleKind::Metric,
        })
        .chain(OWN_RULES.iter().copied())
        .collect()
}

/// Every rule's name.
pub fn names() -> Vec<&'static str> {
    all().into_iter().map(|r| r.name).collect()
}

pub fn is_rule(name: &str) -> bool {
    all().iter().any(|r| r.name == name)
}

/// The rules' settings: the clear margin and each rule's changes.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Percent of a threshold a reading must come back past before the level clears.
    pub clear_margin_pct: f64,
    pub overrides: BTreeMap<String, RuleOverride>,
    /// `disk_full_soon` fires when a filesystem's trend reaches 100 % within this many days.
    pub disk_full_days: f64,
}

impl Settings {
    fn enabled(&self, rule: &str) -> bool {
        self.overrides
            .get(rule)
            .and_then(|o| o.enabled)
            .unwrap_or(true)
    }

    /// Levels for a numeric rule: the rule's own, else the given ones.
    fn levels(&self, rule: &str, warn: Option<f64>, crit: Option<f64>) -> Thresholds {
        let o = self.overrides.get(rule);
        let warn = o.and_then(|o| o.warn).or(warn);
        let crit = o.and_then(|o| o.crit).or(crit);
        let base = warn.or(crit).unwrap_or(0.0).abs();
        Thresholds {
            direction: Direction::Above,
            warn,
            crit,
            clear_margin: base * self.clear_margin_pct / 100.0,
        }
    }

    /// Levels for a condition rule: it reads 1 while it holds, so the threshold is 0.5.
    fn condition(&self, rule: &str, default: Severity) -> Thresholds {
        let severity = self
            .overrides
            .get(rule)
            .and_then(|o| o.severity)
            .unwrap_or(default);
        let (warn, crit) = match severity {
            Severity::Warning => (Some(0.5), None),
            Severity::Critical => (None, Some(0.5)),
        };
        Thresholds {
            direction: Direction::Above,
            warn,
            crit,
            clear_margin: 0.0,
        }
    }
}

/// One alert instance's reading this round.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub rule: &'static str,
    /// `alertname` first, then the instance's label, if any.
    pub labels: Vec<(String, String)>,
    /// `None`: no data this round (the state is kept).
    pub value: Option<f64>,
    pub thresholds: Thresholds,
    /// Whether the value is a number worth showing (not a 1/0 condition).
    pub numeric: bool,
    pub summary: String,
}

/// The label that tells one instance of Steward's own condition rule from another.
fn own_label(rule: &str) -> &'static str {
    OWN_RULES
        .iter()
        .find(|r| r.name == rule)
        .and_then(|r| r.label)
        .unwrap_or("instance")
}

/// One round of readings.
#[derive(Clone, Debug, Default)]
pub struct Round {
    pub readings: Vec<Reading>,
    /// Rules whose whole set of instances this round holds: their instances missing from it
    /// are fine again.
    pub covered: Vec<&'static str>,
    /// Rules another replica judges now (it holds their lease): their instances here are
    /// dropped without a notice, so a stale host notifies once, from one replica.
    pub handed_over: Vec<&'static str>,
    /// Instances (their keys) of the heartbeat jobs shared by replicas: every replica judges
    /// them from the same reports, only the fleet alerts' judge notifies for them, records
    /// them and shares them with the others (like the fleet's rules).
    pub shared_jobs: std::collections::HashSet<String>,
}

/// What the rules read.
pub struct Inputs<'a> {
    pub overview: &'a Overview,
    pub models: Option<&'a Models>,
    pub maintenance: Option<&'a Maintenance>,
    /// Filesystems whose trend reaches 100 %, and in how many days (from history, refreshed
    /// in the background).
    pub disk_full: &'a [(String, f64)],
    /// Fleet hosts and when each was last heard from (`None`: never; not judged). `None` when
    /// another replica holds the fleet alerts' lease and judges them.
    pub hosts: Option<&'a [(String, Option<i64>)]>,
    /// The heartbeat jobs are shared by replicas (on PostgreSQL): their alerts are the fleet
    /// alerts' judge's to notify.
    pub jobs_shared: bool,
    /// This replica holds the fleet alerts' lease (always so on the embedded default): it
    /// notifies for the shared jobs; another replica only shows them.
    pub judges_fleet: bool,
    /// The evaluation's clock, for the age of heartbeats.
    pub now_ms: i64,
}

fn labels(rule: &str, label: Option<(&str, &str)>) -> Vec<(String, String)> {
    let mut out = vec![("alertname".to_string(), rule.to_string())];
    if let Some((k, v)) = label {
        out.push((k.to_string(), v.to_string()));
    }
    out
}

impl Round {
    fn condition(
        &mut self,
        s: &Settings,
        rule: &'static str,
        default: Severity,
        instances: impl IntoIterator<Item = (String, String)>,
    ) {
        if !s.enabled(rule) {
            return;
        }
        let label = own_label(rule);
        let th = s.condition(rule, default);
        for (name, summary) in instances {
            self.readings.push(Reading {
                rule,
                labels: labels(rule, Some((label, &name))),
                value: Some(1.0),
                thresholds: th,
                numeric: false,
                summary,
            });
        }
        self.covered.push(rule);
    }
}

/// The readings of every enabled rule from the latest state.
pub fn evaluate(inputs: &Inputs, s: &Settings) -> Round {
    let mut round = Round::default();
    let o = inputs.overview;
    if let Some(v) = &o.vitals {
        for m in &v.metrics {
            let Some(def) = metric_def::by_name(&m.name) else {
                continue;
            };
            if def.threshold.is_none() || !s.enabled(def.name) {
                continue;
            }
            let th = s.levels(def.name, m.warn, m.crit);
            if th.warn.is_none() && th.crit.is_none() {
                continue;
            }
            let label = m.label.as_deref().map(|l| (def.label.export_label(), l));
            let value = m.value.map_or_else(
                || "unknown".to_string(),
                |x| app::shared::format::value(x, m.unit),
            );
            let where_ = m
                .label
                .as_deref()
                .map_or(String::new(), |l| format!(" ({l})"));
            round.readings.push(Reading {
                rule: def.name,
                labels: labels(def.name, label),
                value: m.value,
                thresholds: th,
                numeric: true,
                summary: format!("{}{where_} is {value}", def.title),
            });
        }
        round.covered.extend(
            metric_def::METRICS
                .iter()
                .filter(|d| d.threshold.is_some() && s.enabled(d.name))
                .map(|d| d.name),
        );
    }
    if let Some(c) = &o.containers {
        containers(&mut round, s, c);
    }
    let collectors = o
        .collectors
        .iter()
        .filter(|c| c.state == CollectorState::Error)
        .map(|c| {
            (
                c.name.clone(),
                format!(
                    "The {} collector failed: {}",
                    c.name,
                    c.message.as_deref().unwrap_or("no message")
                ),
            )
        });
    round.condition(s, "collector_error", Severity::Warning, collectors);
    let soon = inputs
        .disk_full
        .iter()
        .filter(|(_, days)| *days <= s.disk_full_days)
        .map(|(mount, days)| {
            (
                mount.clone(),
                format!("Disk {mount} fills up in {days:.1} days at its trend"),
            )
        });
    round.condition(s, "disk_full_soon", Severity::Warning, soon);
    if let Some(m) = inputs.models {
        models(&mut round, s, m);
    }
    if let Some(m) = inputs.maintenance {
        jobs(&mut round, s, m, inputs.jobs_shared);
    }
    match inputs.hosts {
        Some(hosts) => heartbeats(&mut round, s, hosts, inputs.now_ms),
        None => round.handed_over.push(HEARTBEAT_STALE),
    }
    round
}

/// The levels of one of Steward's own numeric rules, with its overrides.
fn own_levels(s: &Settings, rule: &str) -> Option<Thresholds> {
    match OWN_RULES.iter().find(|r| r.name == rule)?.kind {
        RuleKind::Levels { warn, crit } => Some(s.levels(rule, Some(warn), Some(crit))),
        _ => None,
    }
}

/// The fleet's rule: judged by one replica at a time.
const HEARTBEAT_STALE: &str = "heartbeat_stale";

/// The rules on the fleet's shared state, judged by the holder of the `fleet alerts` lease
/// (what it shares with the other replicas).
pub const FLEET_RULES: &[&str] = &[HEARTBEAT_STALE];

/// A fleet rule's name as the `'static` the engine keys on (`None`: not a fleet rule).
pub fn fleet_rule(name: &str) -> Option<&'static str> {
    FLEET_RULES.iter().copied().find(|r| *r == name)
}

/// A rule whose instances the judge may share with the other replicas: the fleet's rules and
/// the shared heartbeat jobs' (`None`: neither).
pub fn shared_rule(name: &str) -> Option<&'static str> {
    fleet_rule(name).or_else(|| [JOB_FAILED, JOB_MISSED].into_iter().find(|r| *r == name))
}

/// Seconds since each fleet host's last heartbeat; a host never heard from is not judged
/// (its page says "never seen"), a removed host's alert resolves.
fn heartbeats(round: &mut Round, s: &Settings, hosts: &[(String, Option<i64>)], now: i64) {
    const RULE: &str = HEARTBEAT_STALE;
    if !s.enabled(RULE) {
        return;
    }
    let Some(th) = own_levels(s, RULE) else {
        return;
    };
    for (host, last) in hosts {
        let Some(last) = last else { continue };
        let age = ((now - last).max(0) as f64 / 1000.0).round();
        round.readings.push(Reading {
            rule: RULE,
            labels: labels(RULE, Some(("host", host))),
            value: Some(age),
            thresholds: th,
            numeric: true,
            summary: format!("Host {host} last sent a heartbeat {age:.0} s ago"),
        });
    }
    round.covered.push(RULE);
}

fn containers(round: &mut Round, s: &Settings, c: &ContainerSummary) {
    let each = |names: &[String], what: &str| -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| (n.clone(), format!("Container {n} {what}")))
            .collect()
    };
    round.condition(
        s,
        "container_unhealthy",
        Severity::Critical,
        each(&c.unhealthy, "is unhealthy"),
    );
    round.condition(
        s,
        "watchdog_gave_up",
        Severity::Critical,
        each(
            &c.watchdog_gave_up,
            "keeps failing: the watchdog gave up restarting it",
        ),
    );
    round.condition(
        s,
        "container_io_anomaly",
        Severity::Warning,
        each(&c.io_anomalies, "writes more than the daily limit"),
    );
    round.condition(
        s,
        "image_stale",
        Severity::Warning,
        each(&c.stale_images, "runs an image older than the limit"),
    );
    round.condition(
        s,
        "container_oom_killed",
        Severity::Warning,
        each(&c.oom_killed, "was killed for running out of memory"),
    );
}

fn models(round: &mut Round, s: &Settings, m: &Models) {
    let down = m
        .backends
        .iter()
        .filter(|b| b.state == BackendState::Down)
        .map(|b| {
            (
                b.name.clone(),
                format!(
                    "Model backend {} is down: {}",
                    b.name,
                    b.last_error.as_deref().unwrap_or("no answer")
                ),
            )
        });
    round.condition(s, "model_backend_down", Severity::Critical, down);
    let gpus = match &m.gpus {
        GpuReport::Ok { gpus } => gpus,
        // No card, or the read failed (the collector rule says so): nothing to judge.
        _ => return,
    };
    for (rule, read) in [
        (
            "gpu_temperature_c",
            (|g: &app::models::Gpu| g.temperature_c) as fn(&app::models::Gpu) -> Option<f64>,
        ),
        ("gpu_vram_used_pct", |g| {
            let (used, total) = (g.vram_used_bytes?, g.vram_total_bytes?);
            (total > 0).then(|| used as f64 * 100.0 / total as f64)
        }),
    ] {
        if !s.enabled(rule) {
            continue;
        }
        let Some(th) = own_levels(s, rule) else {
            continue;
        };
        for g in gpus {
            let value = read(g);
            let what = if rule == "gpu_temperature_c" {
                value.map_or("unknown".into(), |v| format!("{v:.0} °C"))
            } else {
                value.map_or("unknown".into(), |v| format!("{v:.1} % of its memory used"))
            };
            round.readings.push(Reading {
                rule,
                labels: labels(rule, Some(("gpu", &g.index.to_string()))),
                value,
                thresholds: th,
                numeric: true,
                summary: format!("GPU {} ({}): {what}", g.index, g.name),
            });
        }
        round.covered.push(rule);
    }
}

fn jobs(round: &mut Round, s: &Settings, m: &Maintenance, shared: bool) {
    let with = |status: JobStatus| {
        m.jobs
            .iter()
            .filter(move |j| j.status == status)
            .map(|j| (j.slug.clone(), format!("Job {}: {}", j.name, j.reason)))
            .collect::<Vec<_>>()
    };
    round.condition(s, JOB_FAILED, Severity::Critical, with(JobStatus::Failed));
    round.condition(s, JOB_MISSED, Severity::Warning, with(JobStatus::Missed));
    // Shared heartbeat jobs read alike on every replica: the fleet's judge alone notifies for
    // them (each replica would send the same notice otherwise). This machine's own jobs (its
    // timers, its cleanup) stay its own.
    if shared {
        for j in m.jobs.iter().filter(|j| j.source == JobSource::Heartbeat) {
            for rule in [JOB_FAILED, JOB_MISSED] {
                let key =
                    app::alerts::instance_key(&labels(rule, Some((own_label(rule), &j.slug))));
                round.shared_jobs.insert(key);
            }
        }
    }
}

const JOB_FAILED: &str = "job_failed";
const JOB_MISSED: &str = "job_missed";

#[cfg(test)]
mod tests {
    use super::*;
    use app::vitals::{CollectorStatus, Level, Metric, Unit, Vitals};

    fn metric(name: &str, label: Option<&str>, value: Option<f64>, warn: f64, crit: f64) -> Metric {
        Metric {
            name: name.into(),
            label: label.map(Into::into),
            value,
            unit: Unit::Percent,
            level: Level::Ok,
            warn: Some(warn),
            crit: Some(crit),
            note: None,
        }
    }

    fn overview(metrics: Vec<Metric>) -> Overview {
        Overview {
            vitals: Some(Vitals {
                host: "vm1".into(),
                cores: 2,
                collected_at_ms: 0,
                metrics,
                top_rss: vec![],
                top_cpu: vec![],
            }),
            score: app::overview::score::Score {
                value: None,
                points: 0,
                max_points: 0,
                known: 0,
                total: 0,
                dimensions: vec![],
                verdict: Default::default(),
            },
            collectors: vec![],
            interval_secs: 5,
            containers: None,
            gpus: vec![],
        }
    }

    fn settings() -> Settings {
        Settings {
            clear_margin_pct: 5.0,
            overrides: BTreeMap::new(),
            disk_full_days: 7.0,
        }
    }

    #[test]
    fn metrics_with_thresholds_become_rules_with_their_labels() {
        let o = overview(vec![
            metric("cpu_steal_pct", None, Some(7.0), 5.0, 15.0),
            metric("disk_used_pct", Some("/"), Some(50.0), 80.0, 90.0),
            // No thresholds: not a rule.
            Metric {
                warn: None,
                crit: None,
                ..metric("load1", None, Some(3.0), 0.0, 0.0)
            },
        ]);
        let round = evaluate(
            &Inputs {
                overview: &o,
                models: None,
                maintenance: None,
                disk_full: &[],
                hosts: Some(&[]),
                jobs_shared: false,
                judges_fleet: true,
                now_ms: 0,
            },
            &settings(),
        );
        let steal = &round.readings[0];
        assert_eq!(steal.rule, "cpu_steal_pct");
        assert_eq!(steal.labels, labels("cpu_steal_pct", None));
        assert_eq!(steal.value, Some(7.0));
        assert_eq!(steal.thresholds.clear_margin, 0.25, "5 % of the warn level");
        assert_eq!(steal.summary, "CPU steal is 7.0 %");
        let disk = &round.readings[1];
        assert_eq!(
            disk.labels,
            labels("disk_used_pct", Some(("mountpoint", "/")))
        );
        assert_eq!(round.readings.len(), 2);
        assert!(round.covered.contains(&"disk_used_pct"));
        // No containers in the overview (Docker off or unreachable): not covered, no readings.
        assert!(!round.covered.contains(&"container_unhealthy"));
        assert!(round.covered.contains(&"collector_error"));
    }

    #[test]
    fn overrides_turn_off_and_relevel() {
        let o = overview(vec![metric("cpu_steal_pct", None, Some(7.0), 5.0, 15.0)]);
        let mut s = settings();
        s.overrides.insert(
            "cpu_steal_pct".into(),
            RuleOverride {
                warn: Some(10.0),
                ..Default::default()
            },
        );
        s.overrides.insert(
            "collector_error".into(),
            RuleOverride {
                severity: Some(Severity::Critical),
                ..Default::default()
            },
        );
        let mut o2 = o.clone();
        let mut failed = CollectorStatus::starting("docker");
        failed.state = CollectorState::Error;
        failed.message = Some("connection refused".into());
        o2.collectors.push(failed);
        let inputs = Inputs {
            overview: &o2,
            models: None,
            maintenance: None,
            disk_full: &[],
            hosts: Some(&[]),
            jobs_shared: false,
            judges_fleet: true,
            now_ms: 0,
        };
        let round = evaluate(&inputs, &s);
        assert_eq!(round.readings[0].thresholds.warn, Some(10.0));
        assert_eq!(round.readings[0].thresholds.crit, Some(15.0));
        let c = &round.readings[1];
        assert_eq!(
            c.labels,
            labels("collector_error", Some(("collector", "docker")))
        );
        assert_eq!(c.thresholds.crit, Some(0.5), "re-levelled to critical");
        assert_eq!(c.summary, "The docker collector failed: connection refused");
        s.overrides.insert(
            "cpu_steal_pct".into(),
            RuleOverride {
                enabled: Some(false),
                ..Default::default()
            },
        );
        let round = evaluate(&inputs, &s);
        assert!(round.readings.iter().all(|r| r.rule != "cpu_steal_pct"));
        assert!(!round.covered.contains(&"cpu_steal_pct"));
    }

    #[test]
    fn containers_give_one_instance_each() {
        let mut o = overview(vec![]);
        o.containers = Some(ContainerSummary {
            total: 3,
            running: 3,
            unhealthy: vec!["api".into(), "db".into()],
            no_memory_limit: 0,
            io_anomalies: vec![],
            stale_images: vec!["web".into()],
            watchdog_gave_up: vec![],
            oom_killed: vec!["batch".into()],
        });
        let round = evaluate(
            &Inputs {
                overview: &o,
                models: None,
                maintenance: None,
                disk_full: &[],
                hosts: Some(&[]),
                jobs_shared: false,
                judges_fleet: true,
                now_ms: 0,
            },
            &settings(),
        );
        let names: Vec<String> = round
            .readings
            .iter()
            .map(|r| app::alerts::instance_key(&r.labels))
            .collect();
        assert_eq!(
            names,
            [
                "container_unhealthy{container=\"api\"}",
                "container_unhealthy{container=\"db\"}",
                "image_stale{container=\"web\"}",
                "container_oom_killed{container=\"batch\"}"
            ]
        );
        assert!(round.covered.contains(&"watchdog_gave_up"));
    }

    #[test]
    fn a_disk_that_fills_within_the_days_warns() {
        let o = overview(vec![]);
        let full = [("/".to_string(), 3.5), ("/data".to_string(), 30.0)];
        let round = evaluate(
            &Inputs {
                overview: &o,
                models: None,
                maintenance: None,
                disk_full: &full,
                hosts: Some(&[]),
                jobs_shared: false,
                judges_fleet: true,
                now_ms: 0,
            },
            &settings(),
        );
        let soon: Vec<&Reading> = round
            .readings
            .iter()
            .filter(|r| r.rule == "disk_full_soon")
            .collect();
        assert_eq!(soon.len(), 1, "only / fills within 7 days");
        assert_eq!(
            soon[0].labels,
            labels("disk_full_soon", Some(("mountpoint", "/")))
        );
        assert_eq!(soon[0].summary, "Disk / fills up in 3.5 days at its trend");
        assert!(round.covered.contains(&"disk_full_soon"));
    }

    #[test]
    fn every_rule_name_is_unique() {
        let names = names();
        let set: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(set.len(), names.len());
        assert!(is_rule("cpu_steal_pct") && is_rule("container_unhealthy"));
        assert!(!is_rule("nope"));
    }

    #[test]
    fn fleet_hosts_are_judged_by_the_age_of_their_last_heartbeat() {
        let o = overview(vec![]);
        let now = 1_000_000;
        let hosts = vec![
            ("live-01".to_string(), Some(now - 5_000)),
            ("stale-01".to_string(), Some(now - 40_000)),
            ("gone-01".to_string(), Some(now - 600_000)),
            ("new-01".to_string(), None),
        ];
        let round = evaluate(
            &Inputs {
                overview: &o,
                models: None,
                maintenance: None,
                disk_full: &[],
                hosts: Some(&hosts),
                jobs_shared: false,
                judges_fleet: true,
                now_ms: now,
            },
            &settings(),
        );
        let ages: Vec<(String, Option<f64>)> = round
            .readings
            .iter()
            .filter(|r| r.rule == "heartbeat_stale")
            .map(|r| (r.labels[1].1.clone(), r.value))
            .collect();
        assert_eq!(
            ages,
            [
                ("live-01".to_string(), Some(5.0)),
                ("stale-01".to_string(), Some(40.0)),
                ("gone-01".to_string(), Some(600.0)),
            ],
            "a host never heard from is not judged"
        );
        let th = round
            .readings
            .iter()
            .find(|r| r.rule == "heartbeat_stale")
            .unwrap()
            .thresholds;
        assert_eq!((th.warn, th.crit), (Some(30.0), Some(300.0)));
        assert!(
            round.covered.contains(&"heartbeat_stale"),
            "a removed host resolves"
        );
        assert!(round.handed_over.is_empty());

        // Another replica holds the lease: nothing judged here, the rule handed over.
        let elsewhere = evaluate(
            &Inputs {
                overview: &o,
                models: None,
                maintenance: None,
                disk_full: &[],
                hosts: None,
                jobs_shared: false,
                judges_fleet: true,
                now_ms: now,
            },
            &settings(),
        );
        assert!(elsewhere
            .readings
            .iter()
            .all(|r| r.rule != "heartbeat_stale"));
        assert!(!elsewhere.covered.contains(&"heartbeat_stale"));
        assert_eq!(elsewhere.handed_over, ["heartbeat_stale"]);
    }
}
