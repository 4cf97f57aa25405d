//! The cost of one alert evaluation on a collection round, with the default rules: a host with
//! 40 metrics (10 filesystems, 5 watched processes), 500 containers (20 unhealthy, 30 on stale
//! images, 5 given up by the watchdog), 10 collectors (2 in error), some of it firing. The
//! issue's goal: ≤ 1 ms per round.
//!
//! Run: `cargo bench -p server --bench alerts` (prints p50 / p99 / max per round).

use std::time::Instant;

use app::containers::ContainerSummary;
use app::overview::score::Score;
use app::vitals::{CollectorState, CollectorStatus, Level, Metric, Overview, Unit, Vitals};
use server::alerts::{rules::Inputs, AlertsService};
use server::config::AlertsConfig;

fn metric(name: &str, label: Option<String>, value: f64, warn: f64, crit: f64) -> Metric {
    Metric {
        name: name.into(),
        label,
        value: Some(value),
        unit: Unit::Percent,
        level: Level::Ok,
        warn: Some(warn),
        crit: Some(crit),
        note: None,
    }
}

fn overview(round: usize) -> Overview {
    // Steal wanders around its 5 % threshold so instances move between states.
    let steal = 4.0 + (round % 7) as f64 * 0.5;
    let mut metrics = vec![
        metric("cpu_busy_pct", None, 35.0, 90.0, 98.0),
        metric("cpu_steal_pct", None, steal, 5.0, 15.0),
        metric("cpu_iowait_pct", None, 3.0, 10.0, 30.0),
        metric("load1_per_core", None, 0.8, 1.5, 3.0),
        metric("mem_used_pct", None, 88.0, 85.0, 95.0),
        metric("swap_used_pct", None, 12.0, 0.0, 50.0),
        metric("swap_cached_bytes", None, 5e7, 2e8, f64::INFINITY),
        metric("procs_d_state", None, 0.0, 0.0, 5.0),
        metric("psi_cpu_some_avg10", None, 2.0, 10.0, 30.0),
        metric("psi_memory_some_avg10", None, 1.0, 10.0, 30.0),
        metric("psi_io_some_avg10", None, 4.0, 10.0, 30.0),
    ];
    for i in 0..10 {
        metrics.push(metric(
            "disk_used_pct",
            Some(format!("/mnt/d{i}")),
            60.0 + i as f64 * 3.0,
            85.0,
            95.0,
        ));
    }
    for p in ["rclone", "restic", "borg", "rsync", "ffmpeg"] {
        metrics.push(metric("process_count", Some(p.into()), 3.0, 2.0, 5.0));
    }
    for name in [
        "load1",
        "load5",
        "load15",
        "mem_total_bytes",
        "mem_available_bytes",
        "swap_total_bytes",
        "swap_used_bytes",
        "disk_read_bps",
        "disk_write_bps",
        "net_rx_bps",
        "net_tx_bps",
        "process_count_total",
        "x1",
        "x2",
    ] {
        metrics.push(Metric {
            warn: None,
            crit: None,
            ..metric(name, None, 1.0, 0.0, 0.0)
        });
    }
    let names =
        |prefix: &str, n: usize| (0..n).map(|i| format!("{prefix}-{i}")).collect::<Vec<_>>();
    let collectors = (0..10)
        .map(|i| {
            let mut c = CollectorStatus::starting(&format!("collector-{i}"));
            c.state = if i < 2 {
                CollectorState::Error
            } else {
                CollectorState::Ok
            };
            c.message = (i < 2).then(|| "connection refused".to_string());
            c
        })
        .collect();
    Overview {
        vitals: Some(Vitals {
            host: "bench".into(),
            cores: 8,
            collected_at_ms: 0,
            metrics,
            top_rss: vec![],
            top_cpu: vec![],
        }),
        score: Score {
            value: Some(80),
            points: 80,
            max_points: 100,
            known: 6,
            total: 6,
            dimensions: vec![],
            verdict: Default::default(),
        },
        collectors,
        interval_secs: 5,
        containers: Some(ContainerSummary {
            total: 500,
            running: 480,
            unhealthy: names("api", 20),
            no_memory_limit: 40,
            io_anomalies: names("writer", 3),
            stale_images: names("web", 30),
            watchdog_gave_up: names("worker", 5),
            oom_killed: names("batch", 2),
        }),
        gpus: vec![],
    }
}

fn main() {
    let config = AlertsConfig {
        for_secs: 10,
        ..Default::default()
    };
    let (service, _pending) = AlertsService::new(config).unwrap();
    let maintenance = app::maintenance::Maintenance::default();
    let rounds: Vec<Overview> = (0..64).map(overview).collect();
    let mut times = Vec::new();
    let mut firing = 0;
    for round in 0..20_000usize {
        let o = &rounds[round % rounds.len()];
        let inputs = Inputs {
            overview: o,
            models: None,
            maintenance: Some(&maintenance),
            disk_full: &[],
            hosts: Some(&[]),
            jobs_shared: false,
            judges_fleet: true,
            now_ms: 0,
        };
        let t = Instant::now();
        service.evaluate(&inputs, round as i64 * 5_000);
        times.push(t.elapsed().as_nanos() as u64);
        if round == 19_999 {
            firing = service.snapshot().firing();
        }
    }
    times.sort_unstable();
    let at =
        |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)] as f64 / 1000.0;
    println!(
        "alert evaluation, {} instances firing, 20,000 rounds: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        firing,
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
