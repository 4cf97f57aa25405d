//! `steward rules export`: Prometheus alerting rules equivalent to Steward's, on the names
//! Steward's own `/metrics` exports, so a Prometheus that scrapes Steward can alert without it.
//! Pure: the configuration in, the YAML out. Per-instance condition rules become counts where
//! `/metrics` has only the count (unhealthy containers, stale images).

use std::fmt::Write;

use app::alerts::Severity;
use app::vitals::metric_def::{self, ThresholdKey};
use app::vitals::thresholds::Threshold;

use super::rules::{RuleKind, OWN_RULES};
use crate::config::Config;

/// A YAML string (JSON's double-quoted form is valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

struct Rule {
    alert: String,
    expr: String,
    for_secs: u64,
    severity: Severity,
    summary: String,
}

/// The expression of a condition rule on Steward's `/metrics` names.
fn condition_expr(rule: &str) -> Option<&'static str> {
    Some(match rule {
        "container_unhealthy" => "steward_containers_unhealthy > 0",
        "watchdog_gave_up" => "steward_watchdog_gave_up > 0",
        "container_io_anomaly" => "steward_containers_block_write_anomalies > 0",
        "image_stale" => "steward_containers_stale_images > 0",
        "container_oom_killed" => "steward_containers_oom_killed > 0",
        "collector_error" => "steward_collector_state{state=\"error\"} == 1",
        "model_backend_down" => "steward_model_backend_up == 0",
        "job_failed" => "steward_jobs{status=\"failed\"} > 0",
        "job_missed" => "steward_jobs{status=\"missed\"} > 0",
        _ => return None,
    })
}

/// The expression of a numeric rule that is not a vitals metric.
fn levels_expr(rule: &str) -> Option<&'static str> {
    Some(match rule {
        "gpu_temperature_c" => "steward_gpu_temperature_celsius",
        "heartbeat_stale" => "steward_fleet_heartbeat_age_seconds",
        "gpu_vram_used_pct" => {
            "(100 * steward_gpu_memory_used_bytes / steward_gpu_memory_total_bytes)"
        }
        _ => return None,
    })
}

/// Warning between the levels, critical above: one alert at a time per series.
fn leveled(out: &mut Vec<Rule>, name: &str, series: &str, t: Threshold, for_secs: u64, what: &str) {
    if let Some(w) = t.warn {
        let expr = match t.crit {
            Some(c) => format!("{series} > {w} <= {c}"),
            None => format!("{series} > {w}"),
        };
        out.push(Rule {
            alert: format!("{name}_warning"),
            expr,
            for_secs,
            severity: Severity::Warning,
            summary: format!("{what} above {w}: {{{{ $value }}}}"),
        });
    }
    if let Some(c) = t.crit {
        out.push(Rule {
            alert: format!("{name}_critical"),
            expr: format!("{series} > {c}"),
            for_secs,
            severity: Severity::Critical,
            summary: format!("{what} above {c}: {{{{ $value }}}}"),
        });
    }
}

/// The rules file for `config`.
pub fn prometheus_rules(config: &Config) -> String {
    let a = &config.alerts;
    let o = |name: &str| a.rules.get(name);
    let enabled = |name: &str| o(name).and_then(|o| o.enabled).unwrap_or(true);
    let for_secs = |name: &str| o(name).and_then(|o| o.for_secs).unwrap_or(a.for_secs);
    let relevel = |name: &str, t: Threshold| Threshold {
        warn: o(name).and_then(|o| o.warn).or(t.warn),
        crit: o(name).and_then(|o| o.crit).or(t.crit),
    };
    let mut rules = Vec::new();
    for d in metric_def::METRICS {
        let Some(key) = d.threshold else { continue };
        if !enabled(d.name) {
            continue;
        }
        if key == ThresholdKey::ProcessWatch {
            for w in &config.thresholds.process_watch {
                let series = format!("{}{{process={}}}", d.export, q(&w.name));
                let t = relevel(d.name, w.threshold());
                let what = format!("{} {}", d.title, w.name);
                leveled(&mut rules, d.name, &series, t, for_secs(d.name), &what);
            }
            continue;
        }
        let Some(t) = config.thresholds.by_key(key, None) else {
            continue;
        };
        leveled(
            &mut rules,
            d.name,
            d.export,
            relevel(d.name, t),
            for_secs(d.name),
            d.title,
        );
    }
    for r in OWN_RULES {
        if !enabled(r.name) {
            continue;
        }
        match r.kind {
            RuleKind::Condition(default) => {
                // Prometheus's own linear prediction over the same week the rule projects.
                let projected;
                let expr = if r.name == "disk_full_soon" {
                    projected = format!(
                        "predict_linear(steward_disk_used_percent[7d], {}) >= 100",
                        config.alerts.disk_full_days * 86_400
                    );
                    projected.as_str()
                } else if let Some(expr) = condition_expr(r.name) {
                    expr
                } else {
                    continue;
                };
                rules.push(Rule {
                    alert: r.name.to_string(),
                    expr: expr.to_string(),
                    for_secs: for_secs(r.name),
                    severity: o(r.name).and_then(|o| o.severity).unwrap_or(default),
                    summary: r.description.to_string(),
                });
            }
            RuleKind::Levels { warn, crit } => {
                let Some(series) = levels_expr(r.name) else {
                    continue;
                };
                let t = relevel(r.name, Threshold::new(warn, crit));
                leveled(
                    &mut rules,
                    r.name,
                    series,
                    t,
                    for_secs(r.name),
                    r.description.trim_end_matches('.'),
                );
            }
            RuleKind::Metric => {}
        }
    }
    let mut out = String::from(
        "# Prometheus alerting rules equivalent to Steward's, on Steward's /metrics names.\n\
         # Written by `steward rules export`; check with `promtool check rules`.\n\
         groups:\n  - name: steward\n    rules:\n",
    );
    for r in rules {
        let _ = write!(
            out,
            "      - alert: {}\n        expr: {}\n        for: {}s\n        labels:\n          severity: {}\n        annotations:\n          summary: {}\n",
            r.alert,
            q(&r.expr),
            r.for_secs,
            r.severity.as_str(),
            q(&r.summary)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_exports_as_a_warning_band_and_a_critical_rule() {
        let mut c = Config::default();
        c.alerts.rules.insert(
            "cpu_steal_pct".into(),
            crate::config::RuleOverride {
                for_secs: Some(300),
                ..Default::default()
            },
        );
        c.alerts.rules.insert(
            "image_stale".into(),
            crate::config::RuleOverride {
                enabled: Some(false),
                ..Default::default()
            },
        );
        let y = prometheus_rules(&c);
        assert!(y.contains(
            "      - alert: cpu_steal_pct_warning\n        expr: \"steward_cpu_steal_percent > 5 <= 15\"\n        for: 300s\n        labels:\n          severity: warning\n"
        ), "{y}");
        assert!(y.contains("expr: \"steward_cpu_steal_percent > 15\""));
        assert!(
            y.contains("expr: \"steward_watched_processes{process=\\\"rclone\\\"} > 2 <= 5\""),
            "{y}"
        );
        assert!(y.contains("alert: container_unhealthy\n"));
        assert!(
            y.contains("expr: \"steward_containers_oom_killed > 0\""),
            "the OOM rule has its /metrics family: {y}"
        );
        assert!(!y.contains("image_stale"), "turned off");
    }
}
