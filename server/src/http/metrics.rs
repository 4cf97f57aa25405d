//! `/metrics` in the Prometheus text format: Steward's gauges and its collectors' own stats.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;

use app::vitals::{CollectorState, CollectorStatus, Level, Metric, Overview};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;

pub async fn handler(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = render(&state.hub.overview());
    if let Some(containers) = state.hub.container_list() {
        render_containers(&mut body, &containers);
    }
    render_bus(&mut body, &state.bus.stats());
    render_maintenance(&mut body, &state.maintenance);
    render_models(&mut body, &state.models.snapshot());
    render_alerts(&mut body, &state.alerts.snapshot());
    render_fleet(&mut body, &state.fleet, app::shared::clock::now_ms());
    if let Some(w) = state.fleet.remote_write() {
        render_remote_write(&mut body, w);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// One gauge family: its help line, then a sample per (labels, value) that is known.
fn gauges(out: &mut String, name: &str, help: &str, samples: &[(String, Option<f64>)]) {
    if samples.iter().all(|(_, v)| v.is_none()) {
        return;
    }
    family(out, name, "gauge", help);
    for (labels, v) in samples {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
}

/// A gauge family over backends or GPUs: name, help, how to read one.
type Row<'a, T> = (&'a str, &'a str, &'a dyn Fn(&T) -> Option<f64>);

/// Model backends (reachability, breaker, check latency, queue, slots, KV cache, tokens/s,
/// TTFT) and GPUs (util, VRAM, temperature, power, fan).
fn render_models(out: &mut String, m: &app::models::Models) {
    use app::models::{BackendState, BreakerState};
    let per_backend =
        |f: &dyn Fn(&app::models::ModelBackend) -> Option<f64>| -> Vec<(String, Option<f64>)> {
            m.backends
                .iter()
                .map(|b| {
                    (
                        format!(
                            "backend=\"{}\",kind=\"{}\"",
                            escape(&b.name),
                            b.kind.as_str()
                        ),
                        f(b),
                    )
                })
                .collect()
        };
    let rows: [Row<app::models::ModelBackend>; 11] = [
        (
            "steward_model_backend_up",
            "1 when the backend's last check answered, 0 when it failed or its breaker is open.",
            &|b| match b.state {
                BackendState::Starting => None,
                BackendState::Down => Some(0.0),
                _ => Some(1.0),
            },
        ),
        (
            "steward_model_backend_breaker_open",
            "1 while the backend's circuit breaker is open or half-open.",
            &|b| {
                Some(if b.breaker.state == BreakerState::Closed {
                    0.0
                } else {
                    1.0
                })
            },
        ),
        (
            "steward_model_backend_breaker_opened_total",
            "Times the backend's breaker opened since start.",
            &|b| Some(b.breaker.opened_total as f64),
        ),
        (
            "steward_model_backend_check_seconds",
            "How long the backend's last check took.",
            &|b| b.check_ms.map(|ms| ms as f64 / 1000.0),
        ),
        (
            "steward_model_backend_requests_running",
            "Requests the backend is processing.",
            &|b| b.requests_running,
        ),
        (
            "steward_model_backend_requests_waiting",
            "Requests waiting in the backend's queue.",
            &|b| b.requests_waiting,
        ),
        (
            "steward_model_backend_slots_busy",
            "Busy slots (llama.cpp).",
            &|b| b.slots_busy.map(f64::from),
        ),
        (
            "steward_model_backend_kv_cache_ratio",
            "KV-cache use, 0-1.",
            &|b| b.kv_cache_pct.map(|p| p / 100.0),
        ),
        (
            "steward_model_backend_tokens_per_second",
            "Generated tokens per second between the last two checks.",
            &|b| b.tokens_per_s,
        ),
        (
            "steward_model_backend_ttft_p95_seconds",
            "Time to first token, 95th percentile of the backend's histogram.",
            &|b| b.ttft_p95_s,
        ),
        (
            "steward_model_backend_loaded_bytes",
            "Memory held by the backend's loaded models.",
            &|b| (b.state != BackendState::Starting).then(|| b.loaded_bytes() as f64),
        ),
    ];
    for (name, help, f) in rows {
        gauges(out, name, help, &per_backend(f));
    }
    render_gpus(out, m.gpus.gpus());
}

/// The per-GPU families (`{gpu,name}`): `serve`'s models and an agent's own `/metrics`.
pub fn render_gpus(out: &mut String, gpus: &[app::models::Gpu]) {
    let per_gpu = |f: &dyn Fn(&app::models::Gpu) -> Option<f64>| -> Vec<(String, Option<f64>)> {
        gpus.iter()
            .map(|g| {
                (
                    format!("gpu=\"{}\",name=\"{}\"", g.index, escape(&g.name)),
                    f(g),
                )
            })
            .collect()
    };
    let rows: [Row<app::models::Gpu>; 7] = [
        ("steward_gpu_utilization_ratio", "GPU busy, 0-1.", &|g| {
            g.util_pct.map(|p| p / 100.0)
        }),
        ("steward_gpu_memory_used_bytes", "GPU memory used.", &|g| {
            g.vram_used_bytes.map(|v| v as f64)
        }),
        (
            "steward_gpu_memory_total_bytes",
            "GPU memory total.",
            &|g| g.vram_total_bytes.map(|v| v as f64),
        ),
        (
            "steward_gpu_temperature_celsius",
            "GPU temperature.",
            &|g| g.temperature_c,
        ),
        ("steward_gpu_power_watts", "GPU power draw.", &|g| g.power_w),
        ("steward_gpu_power_limit_watts", "GPU power limit.", &|g| {
            g.power_limit_w
        }),
        ("steward_gpu_fan_ratio", "GPU fan speed, 0-1.", &|g| {
            g.fan_pct.map(|p| p / 100.0)
        }),
    ];
    for (name, help, f) in rows {
        gauges(out, name, help, &per_gpu(f));
    }
}

/// Job heartbeats (pings accepted and refused), jobs per status, and the last cleanup.
fn render_maintenance(out: &mut String, m: &crate::maintenance::Maintenance) {
    use std::fmt::Write;
    let snap = m.snapshot();
    let _ = writeln!(
        out,
        "# HELP steward_job_pings_total Job heartbeat pings, by whether they were accepted.\n\
         # TYPE steward_job_pings_total counter\n\
         steward_job_pings_total{{result=\"accepted\"}} {}\n\
         steward_job_pings_total{{result=\"refused\"}} {}",
        m.pings.accepted.load(Ordering::Relaxed),
        m.pings.refused.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP steward_jobs Scheduled jobs by status (ok, running, waiting, unmonitored, late, missed, failed).\n\
         # TYPE steward_jobs gauge"
    );
    let mut counts = std::collections::BTreeMap::new();
    for j in &snap.jobs {
        *counts.entry(j.status.as_str()).or_insert(0u64) += 1;
    }
    for (status, n) in counts {
        let _ = writeln!(out, "steward_jobs{{status=\"{status}\"}} {n}");
    }
    let culprits = m.culprits();
    if !culprits.is_empty() {
        let _ = writeln!(
            out,
            "# HELP steward_disk_item_bytes Disk space taken by each item Steward can name (images, logs, folders).\n\
             # TYPE steward_disk_item_bytes gauge"
        );
        for c in culprits {
            let item = escape(&c.key);
            let _ = writeln!(
                out,
                "steward_disk_item_bytes{{item=\"{item}\"}} {}",
                c.bytes
            );
        }
    }
    if let Some(r) = snap.last_successful_cleanup() {
        let _ = writeln!(
            out,
            "# HELP steward_cleanup_last_success_timestamp_seconds When the last cleanup that did something ended.\n\
             # TYPE steward_cleanup_last_success_timestamp_seconds gauge\n\
             steward_cleanup_last_success_timestamp_seconds {}\n\
             # HELP steward_cleanup_last_freed_bytes Bytes the last successful cleanup freed.\n\
             # TYPE steward_cleanup_last_freed_bytes gauge\n\
             steward_cleanup_last_freed_bytes {}",
            r.ended_ms.unwrap_or(r.started_ms) as f64 / 1000.0,
            r.freed_bytes
        );
    }
}

/// The bus's per-subscriber counters, and the history writer's lost samples.
fn render_bus(out: &mut String, stats: &[std::sync::Arc<crate::platform::bus::SubscriberStats>]) {
    type Count = fn(&crate::platform::bus::SubscriberStats) -> u64;
    let counters: [(&str, &str, Count); 2] = [
        (
            "steward_bus_events_delivered_total",
            "Events queued for each bus subscriber.",
            |s| s.delivered(),
        ),
        (
            "steward_bus_events_dropped_total",
            "Events a bus subscriber lost because its queue was full (it could not keep up).",
            |s| s.dropped(),
        ),
    ];
    for (name, help, count) in counters {
        family(out, name, "counter", help);
        for s in stats {
            let _ = writeln!(
                out,
                "{name}{{subscriber=\"{}\"}} {}",
                escape(s.name),
                count(s)
            );
        }
    }
    family(
        out,
        "steward_history_samples_dropped_total",
        "counter",
        "Samples not stored: the history writer's bus queue was full, or writes failed longer than the buffer holds.",
    );
    let history = stats
        .iter()
        .find(|s| s.name == crate::store::history::task::NAME)
        .map_or(0, |s| s.dropped_samples());
    let _ = writeln!(out, "steward_history_samples_dropped_total {history}");
}

/// Alerts by state and severity, each notifier's deliveries, and the last evaluation's cost.
fn render_alerts(out: &mut String, a: &app::alerts::Alerts) {
    use app::alerts::{AlertState, Severity};
    family(
        out,
        "steward_alerts",
        "gauge",
        "Alert instances by state (pending, firing; silenced ones apart) and severity.",
    );
    for state in [AlertState::Pending, AlertState::Firing] {
        for severity in [Severity::Warning, Severity::Critical] {
            for silenced in [false, true] {
                let n = a
                    .active
                    .iter()
                    .filter(|x| {
                        x.state == state && x.severity == severity && x.silenced == silenced
                    })
                    .count();
                let _ = writeln!(
                    out,
                    "steward_alerts{{state=\"{}\",severity=\"{}\",silenced=\"{silenced}\"}} {n}",
                    state.as_str(),
                    severity.as_str()
                );
            }
        }
    }
    if !a.notifiers.is_empty() {
        family(
            out,
            "steward_alert_notifications_total",
            "counter",
            "Alert deliveries per notifier: sent (accepted), failed (after every retry), dropped (queue full).",
        );
        for n in &a.notifiers {
            let name = escape(&n.name);
            for (result, v) in [
                ("sent", n.sent_total),
                ("failed", n.failed_total),
                ("dropped", n.dropped_total),
            ] {
                let _ = writeln!(
                    out,
                    "steward_alert_notifications_total{{notifier=\"{name}\",kind=\"{}\",result=\"{result}\"}} {v}",
                    n.kind
                );
            }
        }
    }
    if let Some(us) = a.evaluation_us {
        family(
            out,
            "steward_alert_evaluation_seconds",
            "gauge",
            "How long the last evaluation of every alert rule took.",
        );
        let _ = writeln!(out, "steward_alert_evaluation_seconds {}", us as f64 / 1e6);
    }
}

/// The exported family of a vitals metric, in base units (from its definition).
pub fn export_name(name: &str) -> String {
    match app::vitals::metric_def::by_name(name) {
        Some(d) => d.export.to_string(),
        // A metric without a definition still shows up rather than vanishing.
        None => format!("steward_{name}"),
    }
}

/// The label name a metric's label is exported under.
fn label_name(name: &str) -> &'static str {
    app::vitals::metric_def::by_name(name).map_or("instance", |d| d.label.export_label())
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn level_code(l: Level) -> u8 {
    match l {
        Level::Ok => 0,
        Level::Warn => 1,
        Level::Crit => 2,
        Level::Unknown => 3,
    }
}

/// The fleet: hosts by badge, each host's heartbeat age, and the ingest's counters.
fn render_fleet(out: &mut String, fleet: &crate::fleet::Fleet, now: i64) {
    use std::sync::atomic::Ordering::Relaxed;
    let hosts = fleet.badges(now);
    family(
        out,
        "steward_fleet_hosts",
        "gauge",
        "Fleet hosts by badge (live, stale, missing, never seen).",
    );
    let mut counts = app::fleet::BadgeCounts::default();
    for (_, badge, _) in &hosts {
        counts.add(*badge);
    }
    for (badge, n) in [
        ("live", counts.live),
        ("stale", counts.stale),
        ("missing", counts.missing),
        ("never_seen", counts.never_seen),
    ] {
        let _ = writeln!(out, "steward_fleet_hosts{{badge=\"{badge}\"}} {n}");
    }
    let ages: Vec<(String, Option<f64>)> = hosts
        .iter()
        .map(|(h, _, last)| {
            (
                format!("host=\"{}\"", escape(h)),
                last.map(|t| ((now - t).max(0) as f64 / 1000.0).round()),
            )
        })
        .collect();
    gauges(
        out,
        "steward_fleet_heartbeat_age_seconds",
        "Seconds since each fleet host's last accepted heartbeat.",
        &ages,
    );
    let st = &fleet.stats;
    family(
        out,
        "steward_fleet_heartbeats_total",
        "counter",
        "Heartbeats by outcome: accepted (committed), refused (400/413), busy (503, queue full).",
    );
    for (outcome, v) in [
        ("accepted", st.accepted.load(Relaxed)),
        ("refused", st.refused.load(Relaxed)),
        ("busy", st.busy.load(Relaxed)),
    ] {
        let _ = writeln!(
            out,
            "steward_fleet_heartbeats_total{{outcome=\"{outcome}\"}} {v}"
        );
    }
    family(
        out,
        "steward_fleet_commits_total",
        "counter",
        "Group commits of heartbeats, by result.",
    );
    let _ = writeln!(
        out,
        "steward_fleet_commits_total{{result=\"ok\"}} {}",
        st.commits.load(Relaxed)
    );
    let _ = writeln!(
        out,
        "steward_fleet_commits_total{{result=\"failed\"}} {}",
        st.commit_failures.load(Relaxed)
    );
    family(
        out,
        "steward_fleet_unknown_tokens_total",
        "counter",
        "Agent API requests with a token no host ever had.",
    );
    let _ = writeln!(
        out,
        "steward_fleet_unknown_tokens_total {}",
        fleet.unknown_tokens()
    );
    render_sweep(out, fleet);
}

/// The remote writer's counters (the names Prometheus's own remote write uses, under
/// `steward_`).
pub fn render_remote_write(out: &mut String, w: &crate::remote_write::RemoteWriter) {
    let s = &w.stats;
    let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
    for (name, help, outcomes) in [
        (
            "steward_remote_write_samples_total",
            "Fleet samples by what became of them: sent, refused by the receiver, dropped (queue full).",
            vec![
                ("sent", load(&s.sent_samples)),
                ("refused", load(&s.refused_samples)),
                ("dropped", w.dropped()),
            ],
        ),
        (
            "steward_remote_write_requests_total",
            "Remote-write requests: sent, or failed and retried.",
            vec![
                ("sent", load(&s.sent_requests)),
                ("failed", load(&s.failed_requests)),
            ],
        ),
    ] {
        family(out, name, "counter", help);
        for (outcome, n) in outcomes {
            let _ = writeln!(out, "{name}{{outcome=\"{outcome}\"}} {n}");
        }
    }
    family(
        out,
        "steward_remote_write_pending_samples",
        "gauge",
        "Fleet samples queued for the receiver.",
    );
    let _ = writeln!(out, "steward_remote_write_pending_samples {}", w.waiting());
    let last = s.last_success_ms.load(Ordering::Relaxed);
    if last > 0 {
        family(
            out,
            "steward_remote_write_last_success_timestamp_seconds",
            "gauge",
            "When the receiver last took a batch.",
        );
        let _ = writeln!(
            out,
            "steward_remote_write_last_success_timestamp_seconds {}",
            last as f64 / 1e3
        );
    }
}

/// The health sweep: hosts by health, checks by result, the last round.
fn render_sweep(out: &mut String, fleet: &crate::fleet::Fleet) {
    let h = fleet.health_counts();
    family(
        out,
        "steward_fleet_hosts_health",
        "gauge",
        "Fleet hosts with a health URL, by the sweep's last finding (unchecked: not yet).",
    );
    for (status, n) in [
        ("healthy", h.healthy),
        ("degraded", h.degraded),
        ("critical", h.critical),
        ("unreachable", h.unreachable),
        ("unchecked", h.unchecked),
    ] {
        let _ = writeln!(out, "steward_fleet_hosts_health{{status=\"{status}\"}} {n}");
    }
    let w = fleet.workers().sweep;
    family(
        out,
        "steward_fleet_sweep_checks_total",
        "counter",
        "Health checks by result: succeeded (healthy or degraded), failed (critical or unreachable).",
    );
    let _ = writeln!(
        out,
        "steward_fleet_sweep_checks_total{{result=\"succeeded\"}} {}",
        w.checks_succeeded
    );
    let _ = writeln!(
        out,
        "steward_fleet_sweep_checks_total{{result=\"failed\"}} {}",
        w.checks_failed
    );
    family(
        out,
        "steward_fleet_sweep_rounds_total",
        "counter",
        "Health sweep rounds finished.",
    );
    let _ = writeln!(out, "steward_fleet_sweep_rounds_total {}", w.rounds_total);
    family(
        out,
        "steward_fleet_sweep_last_duration_seconds",
        "gauge",
        "How long the last health sweep round took.",
    );
    if let Some(ms) = w.last_run_duration_ms {
        let _ = writeln!(
            out,
            "steward_fleet_sweep_last_duration_seconds {}",
            ms as f64 / 1000.0
        );
    }
    family(
        out,
        "steward_fleet_sweep_last_run_timestamp_seconds",
        "gauge",
        "When the last health sweep round started (Unix time).",
    );
    if let Some(ms) = w.last_run_started_ms {
        let _ = writeln!(
            out,
            "steward_fleet_sweep_last_run_timestamp_seconds {}",
            ms / 1000
        );
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Per-container counters: what trends of single containers need (e.g. the block write rate).
pub fn render_containers(out: &mut String, containers: &[app::containers::Container]) {
    family(
        out,
        "steward_container_block_write_bytes_total",
        "counter",
        "Bytes a container has written to block devices since it started.",
    );
    for c in containers {
        if let Some(b) = c.block_write_bytes {
            let _ = writeln!(
                out,
                "steward_container_block_write_bytes_total{{container=\"{}\"}} {b}",
                escape(&c.name)
            );
        }
    }
}

/// Renders the whole exposition. Unknown values are left out (never exported as 0); their
/// `steward_metric_status` is 3.
pub fn render(o: &Overview) -> String {
    let mut out = String::with_capacity(8 * 1024);
    family(
        &mut out,
        "steward_score",
        "gauge",
        "VM score 0-100 over the known dimensions.",
    );
    if let Some(v) = o.score.value {
        let _ = writeln!(out, "steward_score {v}");
    }
    family(
        &mut out,
        "steward_score_dimensions_known",
        "gauge",
        "How many of the six score dimensions have a known source.",
    );
    let _ = writeln!(out, "steward_score_dimensions_known {}", o.score.known);
    family(
        &mut out,
        "steward_score_dimension_points",
        "gauge",
        "Points of each known score dimension.",
    );
    for d in &o.score.dimensions {
        if let Some(p) = d.points {
            let _ = writeln!(
                out,
                "steward_score_dimension_points{{dimension=\"{}\"}} {p}",
                d.id.as_str()
            );
        }
    }

    if let Some(c) = &o.containers {
        let gauges: [(&str, &str, usize); 8] = [
            (
                "steward_containers",
                "Containers Docker reports, any state.",
                c.total,
            ),
            (
                "steward_containers_running",
                "Running containers.",
                c.running,
            ),
            (
                "steward_containers_unhealthy",
                "Containers whose health check fails.",
                c.unhealthy.len(),
            ),
            (
                "steward_containers_without_memory_limit",
                "Containers with no memory limit.",
                c.no_memory_limit,
            ),
            (
                "steward_containers_block_write_anomalies",
                "Containers writing more per day than docker.block_write_limit_per_day.",
                c.io_anomalies.len(),
            ),
            (
                "steward_containers_stale_images",
                "Containers running an image older than docker.image_max_age_days.",
                c.stale_images.len(),
            ),
            (
                "steward_containers_oom_killed",
                "Containers whose last exit was an out-of-memory kill.",
                c.oom_killed.len(),
            ),
            (
                "steward_watchdog_gave_up",
                "Containers the watchdog stopped restarting (budget spent).",
                c.watchdog_gave_up.len(),
            ),
        ];
        for (name, help, value) in gauges {
            family(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
    }

    if let Some(v) = &o.vitals {
        let mut groups: BTreeMap<String, Vec<&Metric>> = BTreeMap::new();
        for m in &v.metrics {
            groups.entry(export_name(&m.name)).or_default().push(m);
        }
        for (name, metrics) in &groups {
            let help = app::shared::format::title(&metrics[0].name);
            family(
                &mut out,
                name,
                "gauge",
                &format!("{help} (Steward host vitals)."),
            );
            for m in metrics {
                let Some(value) = m.value.filter(|v| v.is_finite()) else {
                    continue;
                };
                let value = app::vitals::metric_def::by_name(&m.name)
                    .map_or(value, |d| d.export_value(value));
                match &m.label {
                    Some(l) => {
                        let _ = writeln!(
                            out,
                            "{name}{{{}=\"{}\"}} {value}",
                            label_name(&m.name),
                            escape(l)
                        );
                    }
                    None => {
                        let _ = writeln!(out, "{name} {value}");
                    }
                }
            }
        }
        family(
            &mut out,
            "steward_metric_status",
            "gauge",
            "Status of each vital against its thresholds: 0 ok, 1 warn, 2 crit, 3 unknown.",
        );
        for m in &v.metrics {
            let _ = writeln!(
                out,
                "steward_metric_status{{metric=\"{}\",label=\"{}\"}} {}",
                m.name,
                escape(m.label.as_deref().unwrap_or("")),
                level_code(m.level)
            );
        }
        family(
            &mut out,
            "steward_vitals_collected_timestamp_seconds",
            "gauge",
            "When the latest vitals were collected.",
        );
        let _ = writeln!(
            out,
            "steward_vitals_collected_timestamp_seconds {}",
            v.collected_at_ms as f64 / 1000.0
        );
    }

    family(
        &mut out,
        "steward_collector_state",
        "gauge",
        "1 for the current state of each collector (starting, ok, degraded, error).",
    );
    for c in &o.collectors {
        for s in [
            CollectorState::Starting,
            CollectorState::Ok,
            CollectorState::Degraded,
            CollectorState::Error,
        ] {
            let _ = writeln!(
                out,
                "steward_collector_state{{collector=\"{}\",state=\"{}\"}} {}",
                escape(&c.name),
                s.as_str(),
                u8::from(c.state == s)
            );
        }
    }
    type Value = fn(&CollectorStatus) -> Option<f64>;
    let per_collector: [(&str, &str, &str, Value); 4] = [
        (
            "steward_collector_last_success_timestamp_seconds",
            "gauge",
            "When each collector last succeeded.",
            |c| c.last_success_ms.map(|t| t as f64 / 1000.0),
        ),
        (
            "steward_collector_last_duration_seconds",
            "gauge",
            "How long each collector's last round took.",
            |c| c.last_duration_ms.map(|d| d as f64 / 1000.0),
        ),
        (
            "steward_collector_rounds_total",
            "counter",
            "Rounds each collector has run.",
            |c| Some(c.rounds_total as f64),
        ),
        (
            "steward_collector_errors_total",
            "counter",
            "Rounds of each collector that failed.",
            |c| Some(c.errors_total as f64),
        ),
    ];
    for (name, kind, help, value) in per_collector {
        family(&mut out, name, kind, help);
        for c in &o.collectors {
            if let Some(v) = value(c) {
                let _ = writeln!(out, "{name}{{collector=\"{}\"}} {v}", escape(&c.name));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_use_base_units() {
        assert_eq!(export_name("cpu_steal_pct"), "steward_cpu_steal_percent");
        assert_eq!(
            export_name("disk_write_bps"),
            "steward_disk_write_bytes_per_second"
        );
        assert_eq!(
            export_name("mem_available_bytes"),
            "steward_mem_available_bytes"
        );
        assert_eq!(export_name("load1"), "steward_load1");
        assert_eq!(export_name("process_count"), "steward_watched_processes");
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
