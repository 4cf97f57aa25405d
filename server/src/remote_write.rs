//! Prometheus remote write of the fleet's samples (`[remote_write]`): each committed
//! heartbeat's vitals are queued (bounded, oldest dropped and counted) and one task sends them
//! in batches to Prometheus-compatible storage, retrying with backoff while the receiver is
//! down, slow or overloaded (network errors, 5xx, 429) and dropping, counted, what it refuses
//! (other 4xx: the same batch would be refused again). Its status is the `remote_write`
//! collector line; its counters are on `/metrics`.
//!
//! The samples are also in SQLite, committed before the agent's ack: the remote copy is
//! best-effort within the queue's capacity, like Prometheus's own remote write.

pub mod proto;
pub mod queue;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::vitals::{CollectorState, CollectorStatus};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::RemoteWriteConfig;
use crate::platform::bus::{local_host, Bus, Event};
use crate::platform::periodic::StatusBook;
use app::shared::clock::now_ms;
pub use queue::Entry;
use queue::Queue;

/// The collector name its status is shown under.
pub const NAME: &str = "remote_write";
/// The first wait before a retry; it doubles up to `max_backoff_ms`.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// A status that keeps its state and message is published at most this often.
const STATUS_EVERY: Duration = Duration::from_secs(5);
/// The part of a receiver's error answer kept in the status.
const ANSWER_CHARS: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum RemoteWriteError {
    #[error("cannot read remote_write.bearer_token_file {path}: {source}")]
    Token {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("remote_write.url {url}: {message}")]
    Client { url: String, message: String },
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct WriterStats {
    pub sent_samples: AtomicU64,
    pub sent_requests: AtomicU64,
    /// Requests that failed and were retried (network, timeout, 5xx, 429).
    pub failed_requests: AtomicU64,
    /// Samples the receiver refused (4xx other than 429), not retried.
    pub refused_samples: AtomicU64,
    pub last_success_ms: AtomicI64,
}

/// What one request came to.
#[derive(Debug, PartialEq)]
enum Outcome {
    Sent,
    /// Worth sending again: the receiver is down, slow or overloaded.
    Retry(String),
    /// The receiver will refuse this batch again: drop it.
    Refused(String),
}

/// How an HTTP answer is treated (the remote-write spec's rules).
fn outcome(status: u16, answer: &str) -> Outcome {
    let answer: String = answer.trim().chars().take(ANSWER_CHARS).collect();
    match status {
        200..=299 => Outcome::Sent,
        429 | 500..=599 => Outcome::Retry(format!("HTTP {status}: {answer}")),
        _ => Outcome::Refused(format!("HTTP {status}: {answer}")),
    }
}

/// An error and its causes on one line (reqwest's own message says little: "error sending
/// request").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// One of the writer's queues and the task sending it: a host's heartbeats always land in the
/// same one, so its series are written in order however many requests are in flight.
struct Shard {
    queue: Mutex<Queue>,
    /// Woken when a full batch waits.
    full: Notify,
}

impl Shard {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct RemoteWriter {
    config: RemoteWriteConfig,
    http: reqwest::Client,
    token: Option<String>,
    shards: Vec<Shard>,
    pub stats: WriterStats,
}

/// How long, at most, the queued samples are sent for once the writer is told to stop.
const FLUSH_DEADLINE: Duration = Duration::from_secs(5);

impl RemoteWriter {
    /// A writer for `config` (whose `url` is set); reads the token file once.
    pub fn new(config: &RemoteWriteConfig) -> Result<Arc<Self>, RemoteWriteError> {
        let token = match &config.bearer_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|source| RemoteWriteError::Token {
                        path: path.clone(),
                        source,
                    })?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RemoteWriteError::Client {
                url: config.url.clone(),
                message: chain(&e),
            })?;
        let n = config.shards.max(1) as usize;
        let each = (config.capacity_samples as usize / n).max(1);
        Ok(Arc::new(Self {
            config: config.clone(),
            http,
            token,
            shards: (0..n)
                .map(|_| Shard {
                    queue: Mutex::new(Queue::new(each)),
                    full: Notify::new(),
                })
                .collect(),
            stats: WriterStats::default(),
        }))
    }

    /// The queue a host's samples go through.
    fn shard_of(&self, host: &str) -> &Shard {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        host.hash(&mut h);
        &self.shards[(h.finish() % self.shards.len() as u64) as usize]
    }

    /// Queues a committed heartbeat's samples; never waits.
    pub fn push(&self, entry: Entry) {
        let shard = self.shard_of(&entry.host);
        let waiting = shard.lock().push(entry);
        if waiting >= self.config.max_samples_per_send as usize {
            shard.full.notify_one();
        }
    }

    /// Samples waiting to be sent.
    pub fn waiting(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Samples dropped because a queue was full.
    pub fn dropped(&self) -> u64 {
        self.shards.iter().map(|s| s.lock().dropped()).sum()
    }

    async fn send(&self, body: Vec<u8>) -> Outcome {
        let mut req = self
            .http
            .post(&self.config.url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .header(reqwest::header::CONTENT_ENCODING, "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        match req.send().await {
            Err(e) => Outcome::Retry(format!("cannot reach {}: {}", self.config.url, chain(&e))),
            Ok(r) => {
                let status = r.status().as_u16();
                let answer = r.text().await.unwrap_or_default();
                outcome(status, &answer)
            }
        }
    }

    /// Sends what is queued until `cancel`, then what is still queued for at most
    /// [`FLUSH_DEADLINE`] (no retries then): each queue has its own task, sending a batch when
    /// `max_samples_per_send` wait or `batch_deadline_ms` passed, each batch retried until it
    /// is sent or refused.
    pub async fn run(self: Arc<Self>, bus: Arc<Bus>, cancel: CancellationToken) {
        let health = Arc::new(Mutex::new(Health::new(
            bus,
            self.shards.len(),
            self.config.capacity_samples,
        )));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..self.shards.len() {
            tasks.spawn(self.clone().run_shard(i, health.clone(), cancel.clone()));
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn run_shard(
        self: Arc<Self>,
        i: usize,
        health: Arc<Mutex<Health>>,
        cancel: CancellationToken,
    ) {
        let shard = &self.shards[i];
        let max = self.config.max_samples_per_send as usize;
        let deadline = Duration::from_millis(self.config.batch_deadline_ms);
        let max_backoff = Duration::from_millis(self.config.max_backoff_ms);
        let report = |started: Instant, issue: Option<Issue>| {
            let dropped = self.dropped();
            health
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .report(i, started, issue, dropped);
        };
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = shard.full.notified() => {}
                _ = tokio::time::sleep(deadline) => {}
            }
            loop {
                let batch = shard.lock().take(max);
                if batch.is_empty() {
                    break;
                }
                // Encoding takes milliseconds of CPU: off the runtime's worker threads.
                let (body, samples) =
                    match tokio::task::spawn_blocking(move || proto::encode(&batch)).await {
                        Ok(encoded) => encoded,
                        Err(e) => {
                            tracing::error!("remote write: encoding a batch failed: {e}");
                            continue;
                        }
                    };
                let mut backoff = MIN_BACKOFF;
                loop {
                    let started = Instant::now();
                    match self.send(body.clone()).await {
                        Outcome::Sent => {
                            self.count_sent(samples);
                            report(started, None);
                            break;
                        }
                        Outcome::Refused(why) => {
                            self.stats
                                .refused_samples
                                .fetch_add(samples as u64, Ordering::Relaxed);
                            report(
                                started,
                                Some(Issue::Refused(format!(
                                    "the receiver refused {samples} samples ({why}); they were dropped"
                                ))),
                            );
                            break;
                        }
                        Outcome::Retry(why) => {
                            self.stats.failed_requests.fetch_add(1, Ordering::Relaxed);
                            report(
                                started,
                                Some(Issue::Retrying(format!(
                                    "{why}; {} samples waiting, retrying in {} ms",
                                    samples + self.waiting(),
                                    backoff.as_millis()
                                ))),
                            );
                            tokio::select! {
                                _ = cancel.cancelled() => return,
                                _ = tokio::time::sleep(backoff) => {}
                            }
                            backoff = (backoff * 2).min(max_backoff);
                        }
                    }
                }
            }
        }
        self.flush(shard).await;
    }

    /// Sends what `shard` still holds, once each batch, until the first failure or
    /// [`FLUSH_DEADLINE`]; what is left, the batch in hand included, stays in SQLite only
    /// (logged with its count).
    async fn flush(&self, shard: &Shard) {
        let until = Instant::now() + FLUSH_DEADLINE;
        let max = self.config.max_samples_per_send as usize;
        loop {
            let batch = shard.lock().take(max);
            if batch.is_empty() {
                return;
            }
            let (body, samples) = proto::encode(&batch);
            let left = until.saturating_duration_since(Instant::now());
            let why = match tokio::time::timeout(left, self.send(body)).await {
                Ok(Outcome::Sent) => {
                    self.count_sent(samples);
                    continue;
                }
                Ok(Outcome::Refused(why)) => {
                    self.stats
                        .refused_samples
                        .fetch_add(samples as u64, Ordering::Relaxed);
                    tracing::warn!("remote write at shutdown: {samples} samples refused ({why})");
                    continue;
                }
                Ok(Outcome::Retry(why)) => why,
                Err(_) => format!("not sent within {} s", FLUSH_DEADLINE.as_secs()),
            };
            // The batch in hand and what is still queued stay in SQLite only.
            tracing::warn!(
                "remote write at shutdown: {why}; {} samples not sent",
                samples + shard.lock().len()
            );
            return;
        }
    }

    fn count_sent(&self, samples: usize) {
        let s = &self.stats;
        s.sent_samples.fetch_add(samples as u64, Ordering::Relaxed);
        s.sent_requests.fetch_add(1, Ordering::Relaxed);
        s.last_success_ms.store(now_ms(), Ordering::Relaxed);
    }
}

/// What the last request of a queue left wrong.
#[derive(Clone, Debug, PartialEq)]
enum Issue {
    /// Its batch is being retried.
    Retrying(String),
    /// Its last batch was refused (shown until that queue sends one).
    Refused(String),
}

impl Issue {
    /// A queue's retry message, if it is retrying.
    fn retrying(issue: &Option<Issue>) -> Option<&str> {
        match issue {
            Some(Issue::Retrying(m)) => Some(m),
            _ => None,
        }
    }

    /// A queue's refusal message, if its last batch was refused.
    fn refused(issue: &Option<Issue>) -> Option<&str> {
        match issue {
            Some(Issue::Refused(m)) => Some(m),
            _ => None,
        }
    }
}

/// The writer's one status line over all its queues: an error while any queue retries, degraded
/// while a queue's last batch was refused or after samples were dropped, else ok.
struct Health {
    publisher: Publisher,
    issues: Vec<Option<Issue>>,
    capacity: u64,
    dropped_seen: u64,
}

impl Health {
    fn new(bus: Arc<Bus>, shards: usize, capacity: u64) -> Self {
        let mut publisher = Publisher::new(bus);
        // Shown as "starting" until the first batch, so the line is there from the start.
        publisher.publish(CollectorStatus {
            message: Some("no samples to send yet".into()),
            ..CollectorStatus::starting(NAME)
        });
        Self {
            publisher,
            issues: vec![None; shards],
            capacity,
            dropped_seen: 0,
        }
    }

    fn report(
        &mut self,
        shard: usize,
        started: Instant,
        issue: Option<Issue>,
        dropped: u64,
    ) -> CollectorStatus {
        self.issues[shard] = issue;
        let retrying: Vec<&str> = self.issues.iter().filter_map(Issue::retrying).collect();
        let book = &mut self.publisher.book;
        book.begin_at(started);
        let status = match retrying.as_slice() {
            [] => {
                let mut problems: Vec<String> = self
                    .issues
                    .iter()
                    .filter_map(Issue::refused)
                    .map(str::to_string)
                    .collect();
                if dropped > self.dropped_seen {
                    problems.push(format!(
                        "{} samples dropped: the queue was full ({} samples) while the receiver was unreachable",
                        dropped - self.dropped_seen,
                        self.capacity
                    ));
                }
                self.dropped_seen = dropped;
                book.succeeded(&problems)
            }
            [one] => book.failed(one.to_string()),
            [first, ..] => book.failed(format!(
                "{first} ({} of {} queues retrying)",
                retrying.len(),
                self.issues.len()
            )),
        };
        self.publisher.publish(status.clone());
        status
    }
}

/// Publishes the writer's status on the bus when it changes, and otherwise every few seconds
/// (its last success moves each request; the page needs no more than that).
struct Publisher {
    bus: Arc<Bus>,
    book: StatusBook,
    last: Option<(CollectorState, Option<String>, Instant)>,
}

impl Publisher {
    fn new(bus: Arc<Bus>) -> Self {
        Self {
            bus,
            book: StatusBook::new(NAME),
            last: None,
        }
    }

    fn publish(&mut self, status: CollectorStatus) {
        let due = match &self.last {
            Some((state, message, at)) => {
                *state != status.state || *message != status.message || at.elapsed() >= STATUS_EVERY
            }
            None => true,
        };
        if due {
            self.last = Some((status.state, status.message.clone(), Instant::now()));
            self.bus.publish(Event::Status {
                host: local_host(),
                status,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_speaks_for_every_queue() {
        let mut h = Health::new(Arc::new(Bus::new()), 3, 1_000);
        let now = Instant::now;
        let retry = |m: &str| Some(Issue::Retrying(m.into()));
        let st = h.report(0, now(), retry("cannot reach x"), 0);
        assert_eq!(st.state, CollectorState::Error);
        assert_eq!(st.message.as_deref(), Some("cannot reach x"));
        let st = h.report(1, now(), None, 0);
        assert_eq!(st.state, CollectorState::Error, "queue 0 still retries");
        let st = h.report(2, now(), retry("HTTP 503: busy"), 0);
        assert_eq!(
            st.message.as_deref(),
            Some("cannot reach x (2 of 3 queues retrying)")
        );
        h.report(0, now(), None, 0);
        let st = h.report(2, now(), Some(Issue::Refused("refused 9".into())), 0);
        assert_eq!(st.state, CollectorState::Degraded);
        let st = h.report(1, now(), None, 0);
        assert_eq!(
            st.message.as_deref(),
            Some("refused 9"),
            "a refusal stays until its queue sends a batch"
        );
        let st = h.report(2, now(), None, 4);
        assert_eq!(st.state, CollectorState::Degraded);
        assert!(st.message.unwrap().starts_with("4 samples dropped"));
        let st = h.report(2, now(), None, 4);
        assert_eq!(st.state, CollectorState::Ok, "drops are told once");
        assert_eq!(st.rounds_total, 8, "one round per request");
    }

    #[test]
    fn a_hosts_samples_always_take_the_same_queue() {
        let w = RemoteWriter::new(&RemoteWriteConfig {
            url: "http://127.0.0.1:9/api/v1/write".into(),
            shards: 4,
            ..RemoteWriteConfig::default()
        })
        .unwrap();
        let entry = |host: &str| Entry {
            host: Arc::from(host),
            group: None,
            samples: vec![crate::store::history::Sample {
                series: "mem_used_pct".into(),
                ts_ms: 1,
                value: 1.0,
            }],
        };
        for i in 0..100 {
            w.push(entry(&format!("h{i}")));
            w.push(entry(&format!("h{i}")));
        }
        assert_eq!(w.waiting(), 200);
        let used = w.shards.iter().filter(|s| !s.lock().is_empty()).count();
        assert!(used > 1, "hosts are spread over the queues");
        for s in &w.shards {
            let mut hosts: Vec<_> = s.lock().take(1_000).into_iter().map(|e| e.host).collect();
            let n = hosts.len();
            hosts.dedup();
            assert_eq!(hosts.len() * 2, n, "both heartbeats of a host in one queue");
        }
    }

    #[test]
    fn answers_follow_the_remote_write_retry_rules() {
        assert_eq!(outcome(204, ""), Outcome::Sent);
        assert!(matches!(outcome(503, "busy"), Outcome::Retry(m) if m == "HTTP 503: busy"));
        assert!(matches!(outcome(429, ""), Outcome::Retry(_)));
        assert!(
            matches!(outcome(400, "out of order sample\n"), Outcome::Refused(m) if m == "HTTP 400: out of order sample")
        );
        assert!(matches!(outcome(404, ""), Outcome::Refused(_)));
        let long = "x".repeat(5_000);
        let Outcome::Refused(m) = outcome(400, &long) else {
            panic!("400 is refused");
        };
        assert!(
            m.len() < ANSWER_CHARS + 20,
            "a long answer is cut: {}",
            m.len()
        );
    }
}
