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

pub struct RemoteWriter {
    config: RemoteWriteConfig,
    http: reqwest::Client,
    token: Option<String>,
    queue: Mutex<Queue>,
    /// Woken when a full batch waits.
    full: Notify,
    pub stats: WriterStats,
}

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
        Ok(Arc::new(Self {
            config: config.clone(),
            http,
            token,
            queue: Mutex::new(Queue::new(config.capacity_samples as usize)),
            full: Notify::new(),
            stats: WriterStats::default(),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a committed heartbeat's samples; never waits.
    pub fn push(&self, entry: Entry) {
        let waiting = self.lock().push(entry);
        if waiting >= self.config.max_samples_per_send as usize {
            self.full.notify_one();
        }
    }

    /// Samples waiting to be sent.
    pub fn waiting(&self) -> usize {
        self.lock().len()
    }

    /// Samples dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped()
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
                if r.status().is_success() {
                    return Outcome::Sent;
                }
                let answer = r.text().await.unwrap_or_default();
                outcome(status, &answer)
            }
        }
    }

    /// Sends what is queued until `cancel`: a batch when `max_samples_per_send` wait or
    /// `batch_deadline_ms` passed, one request at a time, each batch retried until it is sent
    /// or refused.
    pub async fn run(self: Arc<Self>, bus: Arc<Bus>, cancel: CancellationToken) {
        let mut status = Publisher::new(bus);
        let max = self.config.max_samples_per_send as usize;
        let deadline = Duration::from_millis(self.config.batch_deadline_ms);
        let max_backoff = Duration::from_millis(self.config.max_backoff_ms);
        let mut dropped_seen = 0;
        // Shown as "starting" until the first batch, so the line is there from the start.
        status.publish(CollectorStatus {
            message: Some("no samples to send yet".into()),
            ..CollectorStatus::starting(NAME)
        });
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.full.notified() => {}
                _ = tokio::time::sleep(deadline) => {}
            }
            loop {
                let batch = self.lock().take(max);
                if batch.is_empty() {
                    break;
                }
                let (body, samples) = proto::encode(&batch);
                drop(batch);
                let mut backoff = MIN_BACKOFF;
                loop {
                    status.book.begin();
                    match self.send(body.clone()).await {
                        Outcome::Sent => {
                            let s = &self.stats;
                            s.sent_samples.fetch_add(samples as u64, Ordering::Relaxed);
                            s.sent_requests.fetch_add(1, Ordering::Relaxed);
                            s.last_success_ms.store(now_ms(), Ordering::Relaxed);
                            let dropped = self.dropped();
                            let problems = match dropped - dropped_seen {
                                0 => Vec::new(),
                                n => vec![format!(
                                    "{n} samples dropped: the queue was full ({} samples) while the receiver was unreachable",
                                    self.config.capacity_samples
                                )],
                            };
                            dropped_seen = dropped;
                            let st = status.book.succeeded(&problems);
                            status.publish(st);
                            break;
                        }
                        Outcome::Refused(why) => {
                            self.stats
                                .refused_samples
                                .fetch_add(samples as u64, Ordering::Relaxed);
                            let st = status.book.succeeded(&[format!(
                                "the receiver refused {samples} samples ({why}); they were dropped"
                            )]);
                            status.publish(st);
                            break;
                        }
                        Outcome::Retry(why) => {
                            self.stats.failed_requests.fetch_add(1, Ordering::Relaxed);
                            let st = status.book.failed(format!(
                                "{why}; {} samples waiting, retrying in {} ms",
                                samples + self.waiting(),
                                backoff.as_millis()
                            ));
                            status.publish(st);
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
