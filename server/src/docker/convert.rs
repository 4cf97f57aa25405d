//! Pure conversions from Docker's API answers to Steward's [`Container`]: CPU % from two samples,
//! memory without page cache, block writes and their daily rate, health log, image age.

use app::containers::logs::{detect_level, LogLine, LogStream};
use app::containers::{Container, ContainerState, Health, HealthCheck, WatchdogView};
use bollard::models::{ContainerInspectResponse, ContainerStatsResponse};

/// The label with which a container opts out of the watchdog (`steward.watchdog=off`).
pub const WATCHDOG_LABEL: &str = "steward.watchdog";
/// The compose project label.
pub const STACK_LABEL: &str = "com.docker.compose.project";

/// The per-container rules that flag anomalies.
#[derive(Clone, Debug)]
pub struct Rules {
    pub block_write_limit_per_day: u64,
    /// 0 turns the image-age check off.
    pub image_max_age_days: u64,
}

/// The counters of one stats sample, kept until the next round to compute rates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub cpu_total: u64,
    pub system_total: u64,
    pub write_bytes: Option<u64>,
    pub ts_ms: i64,
}

/// Parses Docker's RFC 3339 time (nanosecond fractions); Docker's zero time means "never".
pub fn parse_time_ms(s: &str) -> Option<i64> {
    if s.is_empty() || s.starts_with("0001-01-01") {
        return None;
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// CPU use in percent of one core (like `docker stats`): the container's CPU time over the host's,
/// times the number of CPUs. `None` without a previous sample or when the counters went back.
pub fn cpu_pct(prev: &Sample, cur: &Sample, online_cpus: u32) -> Option<f64> {
    let d_cpu = cur.cpu_total.checked_sub(prev.cpu_total)?;
    let d_sys = cur.system_total.checked_sub(prev.system_total)?;
    if d_sys == 0 {
        return None;
    }
    Some(d_cpu as f64 / d_sys as f64 * online_cpus.max(1) as f64 * 100.0)
}

/// Bytes written to block devices since start: the sum of the `write` entries.
pub fn block_write_bytes(stats: &ContainerStatsResponse) -> Option<u64> {
    let entries = stats
        .blkio_stats
        .as_ref()?
        .io_service_bytes_recursive
        .as_ref()?;
    Some(
        entries
            .iter()
            .filter(|e| {
                e.op.as_deref()
                    .is_some_and(|op| op.eq_ignore_ascii_case("write"))
            })
            .filter_map(|e| e.value)
            .sum(),
    )
}

/// Memory in use without reclaimable page cache, as `docker stats` shows it (cgroup v2:
/// `inactive_file`, v1: `total_inactive_file`).
pub fn memory_usage(stats: &ContainerStatsResponse) -> Option<u64> {
    let m = stats.memory_stats.as_ref()?;
    let usage = m.usage?;
    let cache = m
        .stats
        .as_ref()
        .and_then(|s| {
            s.get("inactive_file")
                .or_else(|| s.get("total_inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    Some(usage.saturating_sub(cache))
}

fn sample(stats: &ContainerStatsResponse, ts_ms: i64) -> Option<Sample> {
    let cpu = stats.cpu_stats.as_ref()?;
    Some(Sample {
        cpu_total: cpu.cpu_usage.as_ref()?.total_usage?,
        system_total: cpu.system_cpu_usage?,
        write_bytes: block_write_bytes(stats),
        ts_ms,
    })
}

/// Splits Docker's log chunks into lines per stream: a chunk may end inside a line, so each
/// stream keeps its unfinished line until the rest arrives. Each line's leading RFC 3339
/// timestamp (`timestamps=true`) becomes its time, and its level is guessed from its text.
#[derive(Default)]
pub struct LineSplitter {
    pending: [String; 2],
}

impl LineSplitter {
    /// The complete lines in this chunk (and before it, on the same stream).
    pub fn push(&mut self, stream: LogStream, text: &str) -> Vec<LogLine> {
        let buf = &mut self.pending[stream as usize];
        buf.push_str(text);
        let Some(end) = buf.rfind('\n') else {
            return Vec::new();
        };
        let rest = buf.split_off(end + 1);
        let done = std::mem::replace(buf, rest);
        done.lines().map(|l| log_line(stream, l)).collect()
    }

    /// Whatever unfinished lines are left (at the end of a non-following read).
    pub fn finish(mut self) -> Vec<LogLine> {
        [LogStream::Stdout, LogStream::Stderr]
            .into_iter()
            .filter_map(|s| {
                let text = std::mem::take(&mut self.pending[s as usize]);
                (!text.is_empty()).then(|| log_line(s, &text))
            })
            .collect()
    }
}

/// The longest log line kept, in bytes; longer ones are cut with a mark.
pub const MAX_LOG_LINE: usize = 4096;

/// One line: its timestamp prefix (if Docker added one) split off, its level guessed, cut at
/// [`MAX_LOG_LINE`] bytes.
fn log_line(stream: LogStream, raw: &str) -> LogLine {
    let raw = raw.trim_end_matches('\r');
    let (ts_ms, text) = match raw.split_once(' ') {
        Some((ts, rest)) => match parse_time_ms(ts) {
            Some(t) => (Some(t), rest),
            None => (None, raw),
        },
        None => match parse_time_ms(raw) {
            Some(t) => (Some(t), ""),
            None => (None, raw),
        },
    };
    let text = if text.len() > MAX_LOG_LINE {
        let mut end = MAX_LOG_LINE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{} … [cut: {} bytes]", &text[..end], text.len())
    } else {
        text.to_string()
    };
    LogLine {
        ts_ms,
        stream,
        level: detect_level(&text),
        text,
    }
}

fn truncate(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The last three health checks (newest last) and, when the trailing checks failed, the start of
/// the oldest of them: the earliest moment Docker's log shows the container failing.
pub fn health_log(inspect: &ContainerInspectResponse) -> (Vec<HealthCheck>, Option<i64>) {
    let log = inspect
        .state
        .as_ref()
        .and_then(|s| s.health.as_ref())
        .and_then(|h| h.log.as_ref());
    let Some(log) = log else {
        return (vec![], None);
    };
    let checks: Vec<HealthCheck> = log
        .iter()
        .map(|r| HealthCheck {
            start_ms: r.start.as_deref().and_then(parse_time_ms),
            end_ms: r.end.as_deref().and_then(parse_time_ms),
            exit_code: r.exit_code.unwrap_or(-1),
            output: truncate(r.output.as_deref().unwrap_or(""), 300),
        })
        .collect();
    let failing_since = checks
        .iter()
        .rev()
        .take_while(|c| c.exit_code != 0)
        .last()
        .and_then(|c| c.start_ms);
    let last3 = checks[checks.len().saturating_sub(3)..].to_vec();
    (last3, failing_since)
}

/// One container from its inspection, its stats (or why they are missing), its image's build
/// time and the previous round's sample. Returns the sample to keep for the next round.
pub fn container(
    inspect: &ContainerInspectResponse,
    stats: Result<&ContainerStatsResponse, String>,
    image_created_ms: Option<i64>,
    prev: Option<&Sample>,
    rules: &Rules,
    now_ms: i64,
) -> (Container, Option<Sample>) {
    let state = inspect.state.as_ref();
    let health = state.and_then(|s| s.health.as_ref());
    let labels = inspect.config.as_ref().and_then(|c| c.labels.as_ref());
    let label = |k: &str| labels.and_then(|l| l.get(k)).cloned();
    let (health_log, failing_since) = health_log(inspect);
    let is_running = state
        .and_then(|s| s.status)
        .is_some_and(|s| s.to_string() == "running");
    // Health applies to running containers only: Docker keeps the last health state of one
    // that exited, and a finished one-shot job is not unhealthy (nor to be restarted).
    let health_status = health
        .and_then(|h| h.status)
        .map(|s| Health::parse(s.as_ref()))
        .filter(|_| is_running)
        .unwrap_or(Health::None);
    let started_at_ms = state
        .and_then(|s| s.started_at.as_deref())
        .and_then(parse_time_ms);
    let memory = inspect
        .host_config
        .as_ref()
        .and_then(|h| h.memory)
        .filter(|&m| m > 0)
        .map(|m| m as u64);

    let (stats_ok, stats_error) = match stats {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    let cur = stats_ok.and_then(|s| sample(s, now_ms));
    let online = stats_ok
        .and_then(|s| s.cpu_stats.as_ref())
        .and_then(|c| c.online_cpus)
        .unwrap_or(1);
    let cpu = match (prev, &cur) {
        (Some(p), Some(c)) => cpu_pct(p, c, online),
        _ => None,
    };
    let write_bytes = cur.and_then(|c| c.write_bytes);
    let write_rate = match (prev, &cur) {
        (Some(p), Some(c)) if c.ts_ms > p.ts_ms => match (p.write_bytes, c.write_bytes) {
            (Some(a), Some(b)) if b >= a => {
                Some((b - a) as f64 / ((c.ts_ms - p.ts_ms) as f64 / 1000.0))
            }
            _ => None,
        },
        _ => None,
    };
    // The daily figure is the average since the container started (the seed's "22 GB in 13 h"),
    // from an hour of uptime on, so that a start-up burst is not extrapolated to a day.
    let running = state
        .and_then(|s| s.status)
        .map_or(ContainerState::Unknown, |s| {
            ContainerState::parse(s.as_ref())
        });
    let per_day = match (write_bytes, started_at_ms) {
        (Some(b), Some(start))
            if running == ContainerState::Running && now_ms - start >= 3_600_000 =>
        {
            Some(b as f64 / ((now_ms - start) as f64 / 86_400_000.0))
        }
        _ => None,
    };
    let image_stale = rules.image_max_age_days > 0
        && image_created_ms
            .is_some_and(|c| now_ms - c > rules.image_max_age_days as i64 * 86_400_000);
    let name = inspect
        .name
        .as_deref()
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string();

    let c = Container {
        id: inspect.id.clone().unwrap_or_default(),
        name,
        stack: label(STACK_LABEL),
        image: inspect
            .config
            .as_ref()
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        image_created_ms,
        image_stale,
        exit_code: state
            .and_then(|s| s.exit_code)
            .filter(|_| running != ContainerState::Running),
        state: running,
        health: health_status,
        unhealthy_since_ms: (health_status == Health::Unhealthy)
            .then_some(failing_since)
            .flatten(),
        failing_streak: health
            .and_then(|h| h.failing_streak)
            .unwrap_or(0)
            .clamp(0, u32::MAX as i64) as u32,
        health_log,
        restart_count: inspect.restart_count.unwrap_or(0).max(0) as u64,
        steward_restarts: 0,
        started_at_ms,
        cpu_pct: cpu,
        mem_usage_bytes: stats_ok.and_then(memory_usage),
        mem_limit_bytes: memory,
        oom_killed: state.and_then(|s| s.oom_killed).unwrap_or(false),
        block_write_bytes: write_bytes,
        block_write_rate: write_rate,
        block_write_per_day: per_day,
        io_anomaly: per_day.is_some_and(|d| d > rules.block_write_limit_per_day as f64),
        labels_watchdog_off: label(WATCHDOG_LABEL).is_some_and(|v| v.eq_ignore_ascii_case("off")),
        watchdog: WatchdogView::default(),
        stats_error,
    };
    (c, cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All lines of a finished read, in order.
    fn log_lines(chunks: impl Iterator<Item = (LogStream, String)>) -> Vec<LogLine> {
        let mut splitter = LineSplitter::default();
        let mut lines: Vec<LogLine> = chunks
            .flat_map(|(stream, text)| splitter.push(stream, &text))
            .collect();
        lines.extend(splitter.finish());
        lines
    }

    /// An inspect answer in the shape Docker 20.10 returns (trimmed to the fields we read).
    fn inspect(json: serde_json::Value) -> ContainerInspectResponse {
        serde_json::from_value(json).unwrap()
    }

    fn unhealthy() -> ContainerInspectResponse {
        inspect(serde_json::json!({
            "Id": "abc123",
            "Name": "/shop-web-1",
            "RestartCount": 2,
            "State": {
                "Status": "running", "Running": true, "OOMKilled": false,
                "StartedAt": "2026-11-20T10:00:00.123456789Z",
                "Health": {
                    "Status": "unhealthy", "FailingStreak": 4,
                    "Log": [
                        {"Start": "2026-11-22T10:00:00Z", "End": "2026-11-22T10:00:01Z", "ExitCode": 0, "Output": "ok"},
                        {"Start": "2026-11-22T10:01:00Z", "End": "2026-11-22T10:01:01Z", "ExitCode": 1, "Output": "refused"},
                        {"Start": "2026-11-22T10:02:00Z", "End": "2026-11-22T10:02:01Z", "ExitCode": 1, "Output": "refused"},
                        {"Start": "2026-11-22T10:03:00Z", "End": "2026-11-22T10:03:01Z", "ExitCode": 1, "Output": "refused\n"}
                    ]
                }
            },
            "Config": {"Image": "shop/web:1.2", "Labels": {"com.docker.compose.project": "shop", "steward.watchdog": "OFF"}},
            "HostConfig": {"Memory": 0}
        }))
    }

    fn stats(cpu: u64, sys: u64, write: u64) -> ContainerStatsResponse {
        serde_json::from_value(serde_json::json!({
            "cpu_stats": {"cpu_usage": {"total_usage": cpu}, "system_cpu_usage": sys, "online_cpus": 2},
            "memory_stats": {"usage": 100_000_000u64, "limit": 8_000_000_000u64, "stats": {"inactive_file": 30_000_000u64}},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "read", "value": 5},
                {"major": 8, "minor": 0, "op": "write", "value": write},
                {"major": 8, "minor": 16, "op": "Write", "value": 1}
            ]}
        }))
        .unwrap()
    }

    fn rules() -> Rules {
        Rules {
            block_write_limit_per_day: 10_000_000_000,
            image_max_age_days: 30,
        }
    }

    #[test]
    fn times() {
        assert_eq!(parse_time_ms("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_time_ms("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_time_ms("yesterday"), None);
        assert_eq!(parse_time_ms(""), None);
    }

    #[test]
    fn cpu_and_memory_like_docker_stats() {
        let a = Sample {
            cpu_total: 1_000,
            system_total: 10_000,
            write_bytes: None,
            ts_ms: 0,
        };
        let b = Sample {
            cpu_total: 2_000,
            system_total: 20_000,
            write_bytes: None,
            ts_ms: 1,
        };
        assert_eq!(cpu_pct(&a, &b, 2), Some(20.0));
        assert_eq!(cpu_pct(&b, &a, 2), None, "counters went back (restart)");
        assert_eq!(cpu_pct(&a, &a, 2), None);
        assert_eq!(memory_usage(&stats(0, 0, 0)), Some(70_000_000));
        assert_eq!(block_write_bytes(&stats(0, 0, 7)), Some(8));
    }

    #[test]
    fn unhealthy_container_with_log_labels_and_no_limit() {
        let now = parse_time_ms("2026-11-22T10:04:00Z").unwrap();
        let prev = Sample {
            cpu_total: 0,
            system_total: 0,
            write_bytes: Some(0),
            ts_ms: now - 10_000,
        };
        let (c, s) = container(
            &unhealthy(),
            Ok(&stats(1_000, 10_000, 99_999_999)),
            None,
            Some(&prev),
            &rules(),
            now,
        );
        assert_eq!(c.name, "shop-web-1");
        assert_eq!(c.stack.as_deref(), Some("shop"));
        assert_eq!(c.image, "shop/web:1.2");
        assert_eq!(c.health, Health::Unhealthy);
        assert_eq!(c.failing_streak, 4);
        assert_eq!(c.health_log.len(), 3);
        assert_eq!(c.health_log[2].output, "refused");
        assert_eq!(c.unhealthy_since_ms, parse_time_ms("2026-11-22T10:01:00Z"));
        assert_eq!(c.restart_count, 2);
        assert!(c.no_memory_limit());
        assert!(c.labels_watchdog_off);
        assert_eq!(c.cpu_pct, Some(20.0));
        assert_eq!(c.block_write_bytes, Some(100_000_000));
        assert_eq!(c.block_write_rate, Some(10_000_000.0));
        // 100 MB over 2 days of uptime: 50 MB/day, well under 10 GB.
        let per_day = c.block_write_per_day.unwrap();
        assert!((per_day - 50_000_000.0).abs() < 1_000_000.0, "{per_day}");
        assert!(!c.io_anomaly);
        assert_eq!(s.unwrap().cpu_total, 1_000);
    }

    #[test]
    fn anomalies_and_missing_stats() {
        let now = parse_time_ms("2026-11-20T23:00:00Z").unwrap();
        // 22.2 GB in 13 h (the seed's container): about 41 GB a day.
        let (c, _) = container(
            &unhealthy(),
            Ok(&stats(0, 0, 22_200_000_000)),
            Some(now - 31 * 86_400_000),
            None,
            &rules(),
            now,
        );
        assert!(c.io_anomaly);
        assert!(c.image_stale);
        assert_eq!(c.cpu_pct, None, "no previous sample yet");
        let (c, s) = container(
            &unhealthy(),
            Err("timeout".into()),
            Some(now),
            None,
            &rules(),
            now,
        );
        assert_eq!(c.stats_error.as_deref(), Some("timeout"));
        assert!(!c.image_stale);
        assert!(s.is_none());
        assert_eq!(c.mem_usage_bytes, None);
    }

    #[test]
    fn an_exited_job_is_never_unhealthy() {
        // A one-shot job that exited 0 keeps its last health state in Docker.
        let i = inspect(serde_json::json!({
            "Id": "m1", "Name": "/migrate",
            "State": {"Status": "exited", "Running": false, "ExitCode": 0,
                      "Health": {"Status": "unhealthy", "FailingStreak": 3, "Log": []}},
            "Config": {"Image": "migrate"}, "HostConfig": {}
        }));
        let (c, _) = container(&i, Err("not running".into()), None, None, &rules(), 0);
        assert_eq!(c.health, Health::None);
        assert_eq!(c.unhealthy_since_ms, None);
        assert_eq!(c.exit_code, Some(0));
        assert_eq!(c.state_label(), "exited (0)");
        // Running, the same health state counts.
        let (c, _) = container(&unhealthy(), Err("x".into()), None, None, &rules(), 0);
        assert_eq!((c.health, c.exit_code), (Health::Unhealthy, None));
    }

    #[test]
    fn healthy_and_no_health_check() {
        let i = inspect(serde_json::json!({
            "Id": "x", "Name": "/db", "State": {"Status": "exited", "StartedAt": "0001-01-01T00:00:00Z"},
            "Config": {"Image": "db"}, "HostConfig": {"Memory": 268435456}
        }));
        let (c, _) = container(&i, Err("not running".into()), None, None, &rules(), 0);
        assert_eq!(c.health, Health::None);
        assert_eq!(c.state, ContainerState::Exited);
        assert_eq!(c.started_at_ms, None);
        assert_eq!(c.mem_limit_bytes, Some(268_435_456));
        assert!(c.health_log.is_empty());
        assert_eq!(c.unhealthy_since_ms, None);
    }

    #[test]
    fn log_lines_split_across_chunks_per_stream_with_times_and_levels() {
        use LogStream::*;
        let chunks = [
            (
                Stdout,
                "2026-11-24T04:00:00.123456789Z a\n2026-11-24T04:00:01Z b".to_string(),
            ),
            (Stderr, "2026-11-24T04:00:01.5Z ERROR boom\r\n".to_string()),
            (Stdout, "c\n2026-11-24T04:00:02Z d".to_string()),
        ];
        let lines = log_lines(chunks.into_iter());
        let texts: Vec<(&str, LogStream)> =
            lines.iter().map(|l| (l.text.as_str(), l.stream)).collect();
        assert_eq!(
            texts,
            [
                ("a", Stdout),
                ("ERROR boom", Stderr),
                ("bc", Stdout),
                ("d", Stdout)
            ]
        );
        assert_eq!(lines[0].ts_ms, Some(1_795_492_800_123));
        assert_eq!(lines[1].level, Some(app::containers::logs::LogLevel::Error));
        assert_eq!(lines[1].ts_ms, Some(1_795_492_801_500));
        // A very long line is cut, on a character boundary, and says so.
        let long = format!("{}\n", "é".repeat(3000));
        let cut = log_lines([(Stdout, long)].into_iter());
        assert!(
            cut[0].text.len() < MAX_LOG_LINE + 40,
            "{}",
            cut[0].text.len()
        );
        assert!(cut[0].text.ends_with("[cut: 6000 bytes]"));
        // A line without Docker's timestamp keeps all its text.
        let plain = log_lines([(Stdout, "no time here\n".to_string())].into_iter());
        assert_eq!(
            (plain[0].ts_ms, plain[0].text.as_str()),
            (None, "no time here")
        );
    }
}
