//! The one round loop of every periodic collector: an interval, a timeout per round, rounds that
//! never overlap, cancellation, and the status bookkeeping (attempt, duration, ok / degraded /
//! error, errors total) written once. A collector is a [`Collector`] (its `collect`) plus a
//! call to [`run`] with where to publish.

use std::future::Future;
use std::time::{Duration, Instant};

use app::vitals::{CollectorState, CollectorStatus};
use tokio_util::sync::CancellationToken;

use app::shared::clock::now_ms;

/// What one round produced: the data, and the problems that made it partial (degraded).
#[derive(Debug)]
pub struct Collected<T> {
    pub data: T,
    pub problems: Vec<String>,
}

/// A periodic collector.
pub trait Collector: Send + 'static {
    type Data: Send + 'static;

    /// Its name in status reports and `/metrics`.
    fn name(&self) -> &'static str;

    /// One round, run under the round timeout; `Err` says why it produced nothing.
    fn collect(&mut self) -> impl Future<Output = Result<Collected<Self::Data>, String>> + Send;

    /// Work on a round's data after it was collected, outside the timeout (the Docker
    /// collector's watchdog, whose restarts take as long as the containers need to stop).
    fn after(&mut self, data: &mut Self::Data) -> impl Future<Output = ()> + Send {
        let _ = data;
        async {}
    }
}

/// A collector's status across rounds.
#[derive(Debug)]
pub struct StatusBook {
    status: CollectorStatus,
    started: Instant,
}

impl StatusBook {
    pub fn new(name: &str) -> Self {
        Self {
            status: CollectorStatus::starting(name),
            started: Instant::now(),
        }
    }

    /// A round begins.
    pub fn begin(&mut self) {
        self.begin_at(Instant::now());
    }

    /// A round began at `started` (for a book several tasks report into after their round).
    pub fn begin_at(&mut self, started: Instant) {
        self.started = started;
        let ago = started.elapsed().as_millis() as i64;
        self.status.last_attempt_ms = Some(now_ms() - ago);
        self.status.rounds_total += 1;
    }

    /// The round worked; `problems` make it degraded.
    pub fn succeeded(&mut self, problems: &[String]) -> CollectorStatus {
        self.status.last_duration_ms = Some(self.started.elapsed().as_millis() as u64);
        self.status.last_success_ms = Some(now_ms());
        let (state, message) = match problems {
            [] => (CollectorState::Ok, None),
            _ => (CollectorState::Degraded, Some(problems.join("; "))),
        };
        self.settle(state, message);
        self.status.clone()
    }

    /// The round failed with `message`.
    pub fn failed(&mut self, message: String) -> CollectorStatus {
        self.status.last_duration_ms = Some(self.started.elapsed().as_millis() as u64);
        self.status.errors_total += 1;
        self.settle(CollectorState::Error, Some(message));
        self.status.clone()
    }

    /// Sets the state and logs it when it changed (not every round of a lasting problem).
    fn settle(&mut self, state: CollectorState, message: Option<String>) {
        if state != self.status.state || message != self.status.message {
            let name = self.status.name.as_str();
            match (&state, &message) {
                (CollectorState::Ok, _) => tracing::info!(collector = name, "ok"),
                (_, Some(m)) => tracing::warn!(collector = name, "{}: {m}", state.as_str()),
                (_, None) => {}
            }
        }
        self.status.state = state;
        self.status.message = message;
    }
}

/// How long a woken round waits for the rest of a burst of events.
pub const WAKE_BATCH: Duration = Duration::from_millis(150);
/// Woken rounds start at least this far apart, so a container that restarts in a loop cannot
/// keep the collector (and the engine) busy with back-to-back rounds.
pub const WAKE_MIN_GAP: Duration = Duration::from_secs(1);

/// Runs `collector` every `interval` until `cancel` fires, each round under `timeout`, and hands
/// every round's data (`None` when it failed) and status to `publish`. Rounds never overlap:
/// the next tick waits for the round in progress, and a round past its timeout is dropped and
/// reported as an error. Cancellation ends the loop at once, mid-round too.
pub async fn run<C: Collector>(
    collector: C,
    interval: Duration,
    timeout: Duration,
    cancel: CancellationToken,
    publish: impl FnMut(Option<C::Data>, CollectorStatus) + Send,
) {
    run_woken(collector, interval, timeout, None, cancel, publish).await
}

/// Like [`run`], and a notification on `wake` runs a round early (an event source saw a change);
/// wakes within [`WAKE_BATCH`] of each other share one round, and the interval restarts after it.
pub async fn run_woken<C: Collector>(
    mut collector: C,
    interval: Duration,
    timeout: Duration,
    wake: Option<std::sync::Arc<tokio::sync::Notify>>,
    cancel: CancellationToken,
    mut publish: impl FnMut(Option<C::Data>, CollectorStatus) + Send,
) {
    let mut book = StatusBook::new(collector.name());
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let woken = || async {
        match &wake {
            Some(w) => w.notified().await,
            None => std::future::pending().await,
        }
    };
    let mut last_round: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
            _ = woken() => {
                // A burst of events (stop, die, start) is one change: let it finish, and keep
                // woken rounds at least WAKE_MIN_GAP apart.
                let gap = last_round.map_or(Duration::ZERO, |t| WAKE_MIN_GAP.saturating_sub(t.elapsed()));
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(WAKE_BATCH.max(gap)) => {}
                }
                ticker.reset();
            }
        }
        last_round = Some(Instant::now());
        book.begin();
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            outcome = tokio::time::timeout(timeout, collector.collect()) => outcome,
        };
        match outcome {
            Ok(Ok(mut collected)) => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = collector.after(&mut collected.data) => {}
                }
                let status = book.succeeded(&collected.problems);
                publish(Some(collected.data), status);
            }
            Ok(Err(message)) => publish(None, book.failed(message)),
            Err(_) => publish(
                None,
                book.failed(format!("round timed out after {}s", timeout.as_secs_f64())),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Rounds that take `round` each, counting how many run at once.
    struct Slow {
        round: Duration,
        in_flight: Arc<AtomicUsize>,
        most_at_once: Arc<AtomicUsize>,
    }

    impl Collector for Slow {
        type Data = u32;

        fn name(&self) -> &'static str {
            "slow"
        }

        async fn collect(&mut self) -> Result<Collected<u32>, String> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_at_once.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.round).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(Collected {
                data: 7,
                problems: vec![],
            })
        }
    }

    fn slow(round_ms: u64) -> (Slow, Arc<AtomicUsize>) {
        let most = Arc::new(AtomicUsize::new(0));
        let c = Slow {
            round: Duration::from_millis(round_ms),
            in_flight: Arc::default(),
            most_at_once: most.clone(),
        };
        (c, most)
    }

    type Published = Arc<Mutex<Vec<(Option<u32>, CollectorStatus)>>>;

    fn recorder() -> (Published, impl FnMut(Option<u32>, CollectorStatus) + Send) {
        let seen: Published = Arc::default();
        let sink = seen.clone();
        (seen, move |d, s| sink.lock().unwrap().push((d, s)))
    }

    #[tokio::test]
    async fn rounds_never_overlap_even_when_slower_than_the_interval() {
        let (c, most) = slow(30);
        let (seen, publish) = recorder();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            c,
            Duration::from_millis(5),
            Duration::from_secs(5),
            cancel.clone(),
            publish,
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
        task.await.unwrap();
        assert_eq!(most.load(Ordering::SeqCst), 1);
        let seen = seen.lock().unwrap();
        assert!(seen.len() >= 3, "{}", seen.len());
        let last = &seen.last().unwrap().1;
        assert_eq!((last.state, last.errors_total), (CollectorState::Ok, 0));
        assert_eq!(last.rounds_total as usize, seen.len());
        assert!(last.last_duration_ms.unwrap() >= 30);
    }

    #[tokio::test]
    async fn a_round_past_its_timeout_is_an_error_and_the_next_one_runs() {
        let (c, _) = slow(300);
        let (seen, publish) = recorder();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            c,
            Duration::from_millis(10),
            Duration::from_millis(50),
            cancel.clone(),
            publish,
        ));
        tokio::time::sleep(Duration::from_millis(250)).await;
        cancel.cancel();
        task.await.unwrap();
        let seen = seen.lock().unwrap();
        assert!(seen.len() >= 2, "{}", seen.len());
        let (data, status) = &seen[1];
        assert_eq!(*data, None);
        assert_eq!(status.state, CollectorState::Error);
        assert_eq!(status.errors_total, 2);
        assert!(status
            .message
            .as_deref()
            .unwrap()
            .contains("timed out after 0.05s"));
    }

    #[tokio::test]
    async fn cancellation_ends_the_loop_mid_round() {
        let (c, _) = slow(60_000);
        let (seen, publish) = recorder();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            c,
            Duration::from_millis(10),
            Duration::from_secs(120),
            cancel.clone(),
            publish,
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let asked = Instant::now();
        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .expect("the loop ends at once")
            .unwrap();
        assert!(asked.elapsed() < Duration::from_millis(500));
        assert!(
            seen.lock().unwrap().is_empty(),
            "the cut round published nothing"
        );
    }

    #[tokio::test]
    async fn wakes_run_early_rounds_but_never_back_to_back() {
        let (c, _) = slow(0);
        let (seen, publish) = recorder();
        let cancel = CancellationToken::new();
        let wake = std::sync::Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn(run_woken(
            c,
            Duration::from_secs(60),
            Duration::from_secs(5),
            Some(wake.clone()),
            cancel.clone(),
            publish,
        ));
        // The first tick runs a round at once; then a restart loop wakes it 50 times in 2.5 s.
        tokio::time::sleep(Duration::from_millis(10)).await;
        for _ in 0..50 {
            wake.notify_one();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let rounds = seen.lock().unwrap().len();
        cancel.cancel();
        task.await.unwrap();
        // Without the events: 1 round (the 60 s interval). Woken: about one a second, not 50.
        assert!((2..=5).contains(&rounds), "{rounds} rounds in 2.5 s");
    }

    #[test]
    fn the_book_keeps_counts_and_states() {
        let mut book = StatusBook::new("x");
        book.begin();
        let s = book.succeeded(&["one disk unreadable".into()]);
        assert_eq!(s.state, CollectorState::Degraded);
        assert_eq!(s.message.as_deref(), Some("one disk unreadable"));
        book.begin();
        let s = book.failed("gone".into());
        assert_eq!(
            (s.state, s.errors_total, s.rounds_total),
            (CollectorState::Error, 1, 2)
        );
        assert!(s.last_success_ms.is_some(), "the last success is kept");
        book.begin();
        let s = book.succeeded(&[]);
        assert_eq!((s.state, s.message), (CollectorState::Ok, None));
    }
}
