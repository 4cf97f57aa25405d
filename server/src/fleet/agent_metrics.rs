//! The agent's own `/metrics` (opt-in with `agent.metrics_listen`): the host's vitals, score and
//! GPUs in the same families as `serve`'s `/metrics` (one renderer, `http::metrics`), and
//! the agent's delivery: heartbeats buffered and dropped, deliveries acked, refused and failed,
//! the last ack, fleet actions run, and its remote writer's counters when it has one. A Prometheus next to the agent can scrape it even while the
//! hub is away; the rendering reads the last collected round, never collects in the request.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use app::fleet::ContainerCounts;
use app::models::Gpu;
use app::vitals::{Overview, Vitals};
use tokio_util::sync::CancellationToken;

use super::buffer::Buffer;

/// The last collected round.
#[derive(Clone)]
struct Latest {
    overview: Overview,
    containers: Option<ContainerCounts>,
    gpus: Vec<Gpu>,
}

/// What the agent counts, for its `/metrics`.
#[derive(Default)]
pub struct AgentMetrics {
    latest: Mutex<Option<Latest>>,
    pub acked: AtomicU64,
    pub refused: AtomicU64,
    pub failed: AtomicU64,
    pub last_ack_ms: AtomicI64,
    /// The agent's own remote writer, when `[remote_write]` is set (its counters are shown).
    pub remote_write: std::sync::OnceLock<Arc<crate::remote_write::RemoteWriter>>,
}

impl AgentMetrics {
    /// Keeps the round just collected (scored with the hub's own code).
    pub fn collected(
        &self,
        vitals: &Vitals,
        disk_mount: &str,
        containers: Option<ContainerCounts>,
        containers_error: Option<&str>,
        gpus: &[Gpu],
        interval_secs: u64,
    ) {
        let overview = Overview {
            score: super::host_score(vitals, disk_mount, containers, containers_error),
            vitals: Some(vitals.clone()),
            collectors: Vec::new(),
            interval_secs,
            containers: None,
            gpus: Vec::new(),
        };
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(Latest {
            overview,
            containers,
            gpus: gpus.to_vec(),
        });
    }

    /// The text exposition: the last round's families, then the agent's.
    pub fn render(&self, queued: u64, dropped: u64) -> String {
        let latest = self
            .latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut out = match &latest {
            Some(l) => {
                let mut out = crate::http::metrics::render(&l.overview);
                crate::http::metrics::render_gpus(&mut out, &l.gpus);
                out
            }
            None => String::new(),
        };
        let mut gauge = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        if let Some(c) = latest.as_ref().and_then(|l| l.containers) {
            gauge(
                "steward_containers",
                "gauge",
                "Containers Docker reports, any state.",
                c.total.to_string(),
            );
            gauge(
                "steward_containers_running",
                "gauge",
                "Running containers.",
                c.running.to_string(),
            );
            gauge(
                "steward_containers_unhealthy",
                "gauge",
                "Containers whose health check fails.",
                c.unhealthy.to_string(),
            );
        }
        gauge(
            "steward_agent_buffer_queued",
            "gauge",
            "Heartbeats in the disk buffer, not yet acknowledged by the hub.",
            queued.to_string(),
        );
        gauge(
            "steward_agent_buffer_dropped_total",
            "counter",
            "Heartbeats dropped from the full or too old buffer.",
            dropped.to_string(),
        );
        for (name, help, n) in [
            (
                "steward_agent_heartbeats_acked_total",
                "Heartbeats the hub committed and acknowledged.",
                &self.acked,
            ),
            (
                "steward_agent_heartbeats_refused_total",
                "Heartbeats the hub refused for good (400, 413).",
                &self.refused,
            ),
            (
                "steward_agent_deliveries_failed_total",
                "Deliveries that failed and will be retried.",
                &self.failed,
            ),
        ] {
            gauge(name, "counter", help, n.load(Ordering::Relaxed).to_string());
        }
        let last = self.last_ack_ms.load(Ordering::Relaxed);
        if last > 0 {
            gauge(
                "steward_agent_last_ack_timestamp_seconds",
                "gauge",
                "When the hub last acknowledged a heartbeat.",
                format!("{:.3}", last as f64 / 1000.0),
            );
        }
        if let Some(w) = self.remote_write.get() {
            crate::http::metrics::render_remote_write(&mut out, w);
        }
        out
    }
}

/// Serves `GET /metrics` on `listener` until cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<AgentMetrics>,
    buffer: Arc<Mutex<Buffer>>,
    cancel: CancellationToken,
) {
    use axum::http::header;
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let (queued, dropped) = {
                let b = buffer.lock().unwrap_or_else(|p| p.into_inner());
                (b.queued(), b.dropped_total())
            };
            let body = metrics.render(queued, dropped);
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    body,
                )
            }
        }),
    );
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
    {
        tracing::error!("agent: /metrics stopped: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::vitals::{Level, Metric, Unit};

    #[test]
    fn the_agent_renders_the_hosts_families_and_its_delivery() {
        let m = AgentMetrics::default();
        let before = m.render(3, 1);
        assert!(before.contains("steward_agent_buffer_queued 3"));
        assert!(before.contains("steward_agent_buffer_dropped_total 1"));
        assert!(
            !before.contains("steward_score "),
            "nothing collected yet: no score"
        );
        let vitals = Vitals {
            host: "local".into(),
            cores: 2,
            collected_at_ms: 1_000,
            metrics: vec![Metric {
                name: "cpu_busy_pct".into(),
                label: None,
                value: Some(12.5),
                unit: Unit::Percent,
                level: Level::Ok,
                warn: None,
                crit: None,
                note: None,
            }],
            top_rss: vec![],
            top_cpu: vec![],
        };
        m.collected(
            &vitals,
            "/",
            Some(ContainerCounts {
                total: 3,
                running: 2,
                unhealthy: 1,
            }),
            None,
            &[Gpu {
                index: 0,
                vendor: app::models::GpuVendor::Amd,
                name: "AMD GPU (card0)".into(),
                util_pct: Some(4.0),
                vram_used_bytes: None,
                vram_total_bytes: None,
                temperature_c: None,
                power_w: None,
                power_limit_w: None,
                fan_pct: None,
                processes: vec![],
            }],
            5,
        );
        m.acked.store(7, Ordering::Relaxed);
        m.last_ack_ms.store(1_500, Ordering::Relaxed);
        let text = m.render(0, 1);
        assert!(text.contains("steward_cpu_busy_percent 12.5"), "{text}");
        assert!(
            text.contains("steward_score "),
            "scored like the hub scores it"
        );
        assert!(text.contains("steward_containers_unhealthy 1"));
        assert!(
            text.contains(r#"steward_gpu_utilization_ratio{gpu="0",name="AMD GPU (card0)"} 0.04"#),
            "{text}"
        );
        assert!(text.contains("steward_agent_heartbeats_acked_total 7"));
        assert!(text.contains("steward_agent_last_ack_timestamp_seconds 1.500"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
