//! `steward dashboards export`: a Grafana dashboard for the fleet on the series the remote
//! writer sends (`/metrics` families with `host` and `group` labels), so Grafana can read the
//! same Prometheus-compatible storage Steward's own host trends read. Pure: JSON out.

use app::vitals::metric_def::MetricId;
use serde_json::{json, Value};

/// The dashboard's variables narrow every query to these.
const SELECTOR: &str = r#"host=~"$host",group=~"$group""#;

/// One chart: a metric per host (and per its label, when it has one), in Grafana's unit.
struct Chart {
    metric: MetricId,
    title: &'static str,
    unit: &'static str,
}

const CHARTS: &[Chart] = &[
    Chart {
        metric: MetricId::CpuBusyPct,
        title: "CPU busy",
        unit: "percent",
    },
    Chart {
        metric: MetricId::MemUsedPct,
        title: "Memory used",
        unit: "percent",
    },
    Chart {
        metric: MetricId::DiskUsedPct,
        title: "Disk used",
        unit: "percent",
    },
    Chart {
        metric: MetricId::CpuStealPct,
        title: "CPU steal",
        unit: "percent",
    },
    Chart {
        metric: MetricId::Load1PerCore,
        title: "Load per core (1 min)",
        unit: "short",
    },
    Chart {
        metric: MetricId::DiskWriteBps,
        title: "Disk writes",
        unit: "Bps",
    },
    Chart {
        metric: MetricId::NetRxBps,
        title: "Network in",
        unit: "Bps",
    },
    Chart {
        metric: MetricId::NetTxBps,
        title: "Network out",
        unit: "Bps",
    },
    Chart {
        metric: MetricId::GpuUtilPct,
        title: "GPU utilisation",
        unit: "percent",
    },
    Chart {
        metric: MetricId::GpuVramUsedBytes,
        title: "GPU memory used",
        unit: "bytes",
    },
    Chart {
        metric: MetricId::GpuTemperatureC,
        title: "GPU temperature",
        unit: "celsius",
    },
];

/// The PromQL of a chart, in the metric's own unit (a ratio family shown as percent).
fn expr(c: &Chart) -> String {
    c.metric.def().promql(SELECTOR, "")
}

fn legend(c: &Chart) -> String {
    match c.metric.def().label {
        app::vitals::metric_def::LabelKind::None => "{{host}}".to_string(),
        l => format!("{{{{host}}}} {{{{{}}}}}", l.export_label()),
    }
}

fn datasource() -> Value {
    json!({ "type": "prometheus", "uid": "${datasource}" })
}

fn variable(name: &str, label: &str, query: &str) -> Value {
    json!({
        "name": name,
        "label": label,
        "type": "query",
        "datasource": datasource(),
        "definition": query,
        "query": { "query": query, "refId": name },
        "multi": true,
        "includeAll": true,
        // Hosts without a group have no `group` label; `.*` matches them too.
        "allValue": ".*",
        "current": { "text": "All", "value": "$__all" },
        "refresh": 2,
        "sort": 1,
    })
}

/// Every PromQL expression the dashboard runs (panels and variables), for tests and checks.
pub fn expressions(dashboard: &Value) -> Vec<String> {
    let panels = dashboard["panels"].as_array().into_iter().flatten();
    let targets = panels
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str().map(str::to_string));
    let vars = dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["query"]["query"].as_str().map(str::to_string));
    targets.chain(vars).collect()
}

/// The fleet dashboard (Grafana's JSON model, schema 39: Grafana 10 and later import it).
pub fn fleet_dashboard() -> Value {
    let reporting = format!(
        "count(count by (host) ({}{{{SELECTOR}}}))",
        MetricId::MemUsedPct.def().export
    );
    let mut panels = vec![json!({
        "id": 1,
        "type": "stat",
        "title": "Hosts reporting",
        "description": "Hosts with a heartbeat in the last five minutes.",
        "datasource": datasource(),
        "gridPos": { "x": 0, "y": 0, "w": 24, "h": 4 },
        "targets": [{ "refId": "A", "expr": reporting, "instant": true }],
    })];
    for (i, c) in CHARTS.iter().enumerate() {
        panels.push(json!({
            "id": i + 2,
            "type": "timeseries",
            "title": c.title,
            "datasource": datasource(),
            "gridPos": { "x": (i % 2) * 12, "y": 4 + (i / 2) * 8, "w": 12, "h": 8 },
            "fieldConfig": { "defaults": { "unit": c.unit }, "overrides": [] },
            "options": { "legend": { "displayMode": "list", "placement": "bottom" } },
            "targets": [{ "refId": "A", "expr": expr(c), "legendFormat": legend(c) }],
        }));
    }
    let hosts_of = MetricId::MemUsedPct.def().export;
    json!({
        "uid": "steward-fleet",
        "title": "Steward fleet",
        "description": "Fleet hosts' vitals as Steward's hub remote-writes them ([remote_write]).",
        "tags": ["steward"],
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "time": { "from": "now-6h", "to": "now" },
        "refresh": "30s",
        "templating": { "list": [
            {
                "name": "datasource",
                "label": "Data source",
                "type": "datasource",
                "query": "prometheus",
            },
            variable("group", "Group", &format!("label_values({hosts_of}, group)")),
            variable(
                "host",
                "Host",
                &format!("label_values({hosts_of}{{group=~\"$group\"}}, host)"),
            ),
        ]},
        "panels": panels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `steward_…` names an expression reads.
    fn families(expr: &str) -> Vec<&str> {
        expr.match_indices("steward_")
            .map(|(i, _)| {
                let rest = &expr[i..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .collect()
    }

    #[test]
    fn the_dashboard_names_only_what_the_remote_writer_sends() {
        let d = fleet_dashboard();
        let text = serde_json::to_string(&d).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, d);
        let exprs = expressions(&d);
        assert_eq!(
            exprs.len(),
            CHARTS.len() + 1 + 2,
            "panels, the count, two variables"
        );
        let written: Vec<&str> = app::vitals::metric_def::METRICS
            .iter()
            .map(|m| m.export)
            .collect();
        for e in &exprs {
            let names = families(e);
            assert!(!names.is_empty(), "{e}");
            for n in names {
                assert!(
                    written.contains(&n),
                    "{e} reads {n}, which Steward does not write"
                );
            }
        }
        // Grafana keys panels by id.
        let panels = d["panels"].as_array().unwrap();
        let mut ids: Vec<_> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), panels.len());
    }

    #[test]
    fn ratios_are_charted_as_percent_and_labels_name_their_lines() {
        let gpu = CHARTS
            .iter()
            .find(|c| c.metric == MetricId::GpuUtilPct)
            .unwrap();
        assert_eq!(
            expr(gpu),
            r#"100 * steward_gpu_utilization_ratio{host=~"$host",group=~"$group"}"#
        );
        assert_eq!(legend(gpu), "{{host}} {{gpu}}");
        assert_eq!(legend(&CHARTS[0]), "{{host}}");
    }
}
