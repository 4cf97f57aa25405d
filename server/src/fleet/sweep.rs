//! The health sweep: seed 003's health worker, done right. Every host with an address (a
//! health URL: Steward's own `/healthz` or any HTTP health endpoint) is checked each round with
//! bounded concurrency, the hosts checked longest ago first, a timeout per check, no sleeps
//! between batches (a new check starts as soon as one finishes) and rounds that never overlap
//! (the periodic loop waits for the round in progress). A round that reaches its deadline stops
//! starting checks; the hosts it skipped are the stalest, so they go first next round.
//!
//! Only changes of a host's health are stored; statistics (checks performed, succeeded,
//! failed, last run) are kept for `GET /api/v1/fleet/workers` and `/metrics`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::fleet::{Health, HealthCheck};
use futures::StreamExt;

use super::Fleet;
use crate::config::SweepConfig;
use crate::platform::bus::{local_host, Bus, Event};
use crate::platform::periodic::{self, Collected, Collector};
use crate::store::lease::Lease;
use app::shared::clock::now_ms;

/// Most bytes of an answer read to judge it (a health body is small).
const MAX_BODY: usize = 64 * 1024;

/// A host to check.
#[derive(Clone, Debug)]
pub struct Target {
    pub host: String,
    pub url: String,
}

/// What a health URL answered.
#[derive(Debug)]
pub enum Answer {
    Http {
        status: u16,
        body: Vec<u8>,
    },
    /// No HTTP answer, and why (refused, timed out, TLS, …).
    None(String),
}

/// Judges one answer (pure). A 2xx whose JSON body has a `status` field is judged by it
/// (Steward's `/healthz`: `ok` / `degraded` with the collectors that are not ok); a 2xx or 3xx
/// slower than `slow` is degraded; 4xx and 5xx are critical; no answer is unreachable.
pub fn classify(answer: &Answer, latency: Duration, slow: Duration) -> (Health, String) {
    let (status, body) = match answer {
        Answer::None(why) => return (Health::Unreachable, why.clone()),
        Answer::Http { status, body } => (*status, body),
    };
    if status >= 400 {
        let hint = if status == 404 {
            " (is the health URL right?)"
        } else {
            ""
        };
        return (Health::Critical, format!("HTTP {status}{hint}"));
    }
    let (mut health, mut reason) = (Health::Healthy, format!("HTTP {status}"));
    if let Some((said, detail)) = body_status(body) {
        match said {
            Health::Healthy => {}
            _ => {
                health = said;
                reason = match detail {
                    Some(d) => format!("HTTP {status}, says {}: {d}", said.key()),
                    None => format!("HTTP {status}, says {}", said.key()),
                };
            }
        }
    }
    if health == Health::Healthy && latency > slow {
        return (
            Health::Degraded,
            format!(
                "slow: answered in {} ms (over {} ms)",
                latency.as_millis(),
                slow.as_millis()
            ),
        );
    }
    (health, reason)
}

/// The health a JSON body states in its `status` field, and, for Steward's `/healthz`, the
/// collectors that are not ok.
fn body_status(body: &[u8]) -> Option<(Health, Option<String>)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let said = value.get("status")?.as_str()?.to_ascii_lowercase();
    let health = match said.as_str() {
        "ok" | "healthy" | "pass" | "up" | "green" => Health::Healthy,
        "degraded" | "warn" | "warning" | "yellow" => Health::Degraded,
        "fail" | "failed" | "error" | "down" | "critical" | "unhealthy" | "red" => Health::Critical,
        _ => return None,
    };
    let detail = value
        .get("collectors")
        .and_then(|c| c.as_array())
        .map(|cs| {
            cs.iter()
                .filter(|c| c.get("state").and_then(|s| s.as_str()) != Some("ok"))
                .map(|c| {
                    let name = c.get("name").and_then(|n| n.as_str()).unwrap_or("?");
                    let state = c.get("state").and_then(|s| s.as_str()).unwrap_or("?");
                    match c.get("message").and_then(|m| m.as_str()) {
                        Some(m) => format!("{name} {state} ({m})"),
                        None => format!("{name} {state}"),
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        });
    Some((health, detail.filter(|d| !d.is_empty())))
}

/// The sweep's HTTP client: no connection kept between checks (each check proves that a new
/// connection works, and 10,000 idle sockets would cost file descriptors), a timeout per check.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("steward-sweep/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Checks one URL.
pub async fn check(client: &reqwest::Client, url: &str, slow: Duration) -> HealthCheck {
    let at_ms = now_ms();
    let started = Instant::now();
    let answer = match client.get(url).send().await {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let mut body = Vec::new();
            let mut failed = None;
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        body.extend_from_slice(&chunk);
                        if body.len() >= MAX_BODY {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        failed = Some(describe(&e));
                        break;
                    }
                }
            }
            match failed {
                Some(why) => Answer::None(format!("answer cut off: {why}")),
                None => Answer::Http { status, body },
            }
        }
        Err(e) => Answer::None(describe(&e)),
    };
    let latency = started.elapsed();
    let (status, reason) = classify(&answer, latency, slow);
    HealthCheck {
        at_ms,
        status,
        latency_ms: match answer {
            Answer::Http { .. } => Some(latency.as_millis().min(u32::MAX as u128) as u32),
            Answer::None(_) => None,
        },
        reason,
    }
}

/// A request error in words, down to its root cause ("connection refused").
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer within the timeout".into();
    }
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let kind = if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    format!("{kind}: {root}")
}

/// Checks `targets` in order, at most `concurrency` at once, starting none after `deadline`.
/// Returns the checks and how many targets were not started.
pub async fn check_all(
    client: &reqwest::Client,
    targets: Vec<Target>,
    concurrency: usize,
    deadline: Instant,
    slow: Duration,
) -> (Vec<(String, HealthCheck)>, u32) {
    let total = targets.len();
    let checks: Vec<(String, HealthCheck)> = futures::stream::iter(
        targets
            .into_iter()
            .take_while(move |_| Instant::now() < deadline),
    )
    .map(|t| async move {
        let c = check(client, &t.url, slow).await;
        (t.host, c)
    })
    .buffer_unordered(concurrency.max(1))
    .collect()
    .await;
    let skipped = (total - checks.len()) as u32;
    (checks, skipped)
}

/// What one round did.
#[derive(Debug, Default)]
pub struct Round {
    pub started_ms: i64,
    pub checked: u32,
    pub succeeded: u32,
    pub skipped: u32,
    pub targets: u32,
    /// Another replica holds the sweep's lease: this one checked nothing.
    pub standby: bool,
}

/// The sweep as a periodic collector.
pub struct Sweep {
    fleet: Arc<Fleet>,
    client: reqwest::Client,
    config: SweepConfig,
    lease: Arc<Lease>,
}

impl Sweep {
    pub fn new(fleet: Arc<Fleet>, config: SweepConfig, lease: Arc<Lease>) -> Self {
        Self {
            client: client(Duration::from_millis(config.timeout_ms)),
            fleet,
            config,
            lease,
        }
    }

    /// The round's budget: past it no check starts (the periodic loop's timeout is above).
    pub fn round_budget(config: &SweepConfig) -> Duration {
        Duration::from_secs(config.interval_secs.max(1) * 2)
    }
}

impl Collector for Sweep {
    type Data = Round;

    fn name(&self) -> &'static str {
        "fleet_sweep"
    }

    async fn collect(&mut self) -> Result<Collected<Round>, String> {
        // Asked every round, so a replica takes the sweep over within one interval of the
        // leader's death; an error sweeps nothing rather than risk two sweeps.
        if !self.lease.hold().await.map_err(|e| e.to_string())? {
            return Ok(Collected {
                data: Round {
                    standby: true,
                    ..Default::default()
                },
                problems: Vec::new(),
            });
        }
        let targets = self.fleet.sweep_targets();
        let mut round = Round {
            started_ms: now_ms(),
            targets: targets.len() as u32,
            ..Default::default()
        };
        self.fleet.sweep_started(round.started_ms, round.targets);
        let deadline = Instant::now() + Self::round_budget(&self.config);
        let (checks, skipped) = check_all(
            &self.client,
            targets,
            self.config.concurrency as usize,
            deadline,
            Duration::from_millis(self.config.slow_ms),
        )
        .await;
        round.checked = checks.len() as u32;
        round.succeeded = checks.iter().filter(|(_, c)| c.status.succeeded()).count() as u32;
        round.skipped = skipped;
        let changes = self.fleet.apply_checks(checks);
        let mut problems = Vec::new();
        if skipped > 0 {
            problems.push(format!(
                "{skipped} hosts not checked within the round's {} s (they go first next round)",
                Self::round_budget(&self.config).as_secs()
            ));
        }
        if let Err(e) = self.fleet.store().record_health(&changes).await {
            problems.push(format!("health changes not stored: {e}"));
        }
        Ok(Collected {
            data: round,
            problems,
        })
    }
}

/// Runs the sweep until `shutdown`: rounds every `interval_secs`, never overlapping. Its status
/// joins the collectors' (overview, `/healthz`) once there is a host to check.
pub async fn run(
    fleet: Arc<Fleet>,
    config: SweepConfig,
    lease: Arc<Lease>,
    bus: Arc<Bus>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let interval = Duration::from_secs(config.interval_secs);
    // Past the budget no check starts; those started finish within their own timeout.
    let timeout = Sweep::round_budget(&config) + Duration::from_millis(config.timeout_ms * 2);
    let sweep = Sweep::new(fleet.clone(), config, lease.clone());
    periodic::run(sweep, interval, timeout, shutdown, move |round, status| {
        fleet.sweep_finished(round.as_ref(), &status, lease.holder());
        if round.is_none_or(|r| r.targets > 0) {
            bus.publish(Event::Status {
                host: local_host(),
                status,
            });
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOW: Duration = Duration::from_millis(1000);
    const QUICK: Duration = Duration::from_millis(20);

    fn http(status: u16, body: &str) -> Answer {
        Answer::Http {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_quick_2xx_is_healthy_whatever_its_body() {
        assert_eq!(
            classify(&http(200, "OK"), QUICK, SLOW),
            (Health::Healthy, "HTTP 200".into())
        );
        assert_eq!(classify(&http(204, ""), QUICK, SLOW).0, Health::Healthy);
    }

    #[test]
    fn stewards_own_healthz_is_read_with_the_collectors_that_are_not_ok() {
        let body = r#"{"status":"degraded","collectors":[
            {"name":"vitals","state":"ok"},
            {"name":"docker","state":"error","message":"socket refused"}]}"#;
        assert_eq!(
            classify(&http(200, body), QUICK, SLOW),
            (
                Health::Degraded,
                "HTTP 200, says degraded: docker error (socket refused)".into()
            )
        );
        assert_eq!(
            classify(
                &http(200, r#"{"status":"ok","collectors":[]}"#),
                QUICK,
                SLOW
            )
            .0,
            Health::Healthy
        );
        assert_eq!(
            classify(&http(200, r#"{"status":"DOWN"}"#), QUICK, SLOW),
            (Health::Critical, "HTTP 200, says critical".into())
        );
        // A status word it does not know leaves the HTTP code to judge.
        assert_eq!(
            classify(&http(200, r#"{"status":"sideways"}"#), QUICK, SLOW).0,
            Health::Healthy
        );
    }

    #[test]
    fn error_codes_are_critical_and_a_404_hints_at_the_url() {
        assert_eq!(
            classify(&http(503, ""), QUICK, SLOW),
            (Health::Critical, "HTTP 503".into())
        );
        assert_eq!(
            classify(&http(404, ""), QUICK, SLOW).1,
            "HTTP 404 (is the health URL right?)"
        );
    }

    #[test]
    fn a_slow_answer_is_degraded_and_no_answer_is_unreachable() {
        let (h, why) = classify(&http(200, ""), Duration::from_millis(1500), SLOW);
        assert_eq!(h, Health::Degraded);
        assert!(why.contains("1500 ms"), "{why}");
        // Slow and failing stays critical: the worse finding wins.
        assert_eq!(
            classify(&http(500, ""), Duration::from_secs(2), SLOW).0,
            Health::Critical
        );
        assert_eq!(
            classify(&Answer::None("cannot connect: refused".into()), QUICK, SLOW),
            (Health::Unreachable, "cannot connect: refused".into())
        );
    }

    #[tokio::test]
    async fn checks_stop_starting_at_the_deadline() {
        let client = client(Duration::from_millis(200));
        // Port 9 on loopback: nothing listens, each check is refused at once.
        let targets: Vec<Target> = (0..50)
            .map(|i| Target {
                host: format!("h{i}"),
                url: "http://127.0.0.1:9/healthz".into(),
            })
            .collect();
        let (checks, skipped) = check_all(
            &client,
            targets.clone(),
            8,
            Instant::now() + Duration::from_secs(30),
            SLOW,
        )
        .await;
        assert_eq!((checks.len(), skipped), (50, 0));
        assert!(checks
            .iter()
            .all(|(_, c)| c.status == Health::Unreachable && c.latency_ms.is_none()));
        let (checks, skipped) = check_all(&client, targets, 8, Instant::now(), SLOW).await;
        assert_eq!((checks.len(), skipped), (0, 50));
    }
}
