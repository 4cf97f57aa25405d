//! The progress of background jobs (a model load): each job's events so far, kept for a late
//! or reconnecting reader, and a broadcast of the live ones until the last. Finished jobs are
//! kept, newest first, up to a bound, so a reader who comes back later still sees the end.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tokio::sync::broadcast;

/// Finished jobs kept for readers.
const FINISHED_KEPT: usize = 32;

struct Job<E> {
    events: Vec<E>,
    tx: broadcast::Sender<E>,
    done: bool,
}

/// Jobs by number, in start order.
pub struct Jobs<E> {
    inner: Mutex<(u64, BTreeMap<u64, Job<E>>)>,
}

impl<E: Clone> Default for Jobs<E> {
    fn default() -> Self {
        Self {
            inner: Mutex::new((0, BTreeMap::new())),
        }
    }
}

impl<E: Clone> Jobs<E> {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, BTreeMap<u64, Job<E>>)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new job's number (from 1); the oldest finished ones beyond the bound are dropped.
    pub fn start(&self) -> u64 {
        let mut g = self.lock();
        g.0 += 1;
        let id = g.0;
        let finished: Vec<u64> =
            g.1.iter()
                .filter(|(_, j)| j.done)
                .map(|(k, _)| *k)
                .collect();
        for k in finished
            .iter()
            .take(finished.len().saturating_sub(FINISHED_KEPT - 1))
        {
            g.1.remove(k);
        }
        let (tx, _) = broadcast::channel(64);
        g.1.insert(
            id,
            Job {
                events: Vec::new(),
                tx,
                done: false,
            },
        );
        id
    }

    /// Adds an event to job `id`; `last` ends it (later events are ignored).
    pub fn emit(&self, id: u64, event: E, last: bool) {
        let mut g = self.lock();
        if let Some(job) = g.1.get_mut(&id).filter(|j| !j.done) {
            job.events.push(event.clone());
            job.done = last;
            // Nobody listening is fine: the events are kept.
            let _ = job.tx.send(event);
        }
    }

    /// The events so far and, while the job runs, a receiver for the rest.
    pub fn subscribe(&self, id: u64) -> Option<(Vec<E>, Option<broadcast::Receiver<E>>)> {
        let g = self.lock();
        let job = g.1.get(&id)?;
        Some((job.events.clone(), (!job.done).then(|| job.tx.subscribe())))
    }

    /// Whether job `id` is still running.
    pub fn running(&self, id: u64) -> bool {
        self.lock().1.get(&id).is_some_and(|j| !j.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn late_readers_see_everything_and_the_end_stays() {
        let jobs = Jobs::<u32>::default();
        let id = jobs.start();
        jobs.emit(id, 1, false);
        let (past, rx) = jobs.subscribe(id).unwrap();
        assert_eq!(past, vec![1]);
        let mut rx = rx.unwrap();
        jobs.emit(id, 2, true);
        jobs.emit(id, 3, false);
        assert_eq!(rx.recv().await.unwrap(), 2);
        let (past, rx) = jobs.subscribe(id).unwrap();
        assert_eq!(past, vec![1, 2], "nothing after the last event");
        assert!(rx.is_none());
        assert!(!jobs.running(id));
        assert!(jobs.subscribe(99).is_none());
    }

    #[test]
    fn finished_jobs_are_bounded_running_ones_kept() {
        let jobs = Jobs::<u32>::default();
        let running = jobs.start();
        for _ in 0..100 {
            let id = jobs.start();
            jobs.emit(id, 0, true);
        }
        let g = jobs.lock();
        assert!(g.1.len() <= FINISHED_KEPT + 1, "{}", g.1.len());
        assert!(g.1.contains_key(&running));
        assert!(g.1.contains_key(&101), "the newest stays");
    }
}
