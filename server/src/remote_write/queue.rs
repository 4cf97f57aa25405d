//! The remote writer's bounded queue (pure): heartbeats' samples in commit order, bounded by a
//! sample count; when full the oldest heartbeats go first and are counted.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::store::history::Sample;

/// One committed heartbeat's samples and the labels its host had then.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub host: Arc<str>,
    pub group: Option<Arc<str>>,
    pub samples: Vec<Sample>,
}

#[derive(Debug)]
pub struct Queue {
    entries: VecDeque<Entry>,
    samples: usize,
    capacity: usize,
    dropped: u64,
}

impl Queue {
    /// A queue holding at most `capacity` samples (at least one heartbeat's worth is kept).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            samples: 0,
            capacity,
            dropped: 0,
        }
    }

    /// Adds a heartbeat's samples, dropping the oldest heartbeats past the capacity. Returns
    /// the samples now waiting.
    pub fn push(&mut self, entry: Entry) -> usize {
        if entry.samples.is_empty() {
            return self.samples;
        }
        self.samples += entry.samples.len();
        self.entries.push_back(entry);
        while self.samples > self.capacity && self.entries.len() > 1 {
            if let Some(old) = self.entries.pop_front() {
                self.samples -= old.samples.len();
                self.dropped += old.samples.len() as u64;
            }
        }
        self.samples
    }

    /// Takes the oldest heartbeats, whole, up to `max_samples` (at least one heartbeat when
    /// any waits, so a heartbeat larger than a batch still goes).
    pub fn take(&mut self, max_samples: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut n = 0;
        while let Some(front) = self.entries.front() {
            let len = front.samples.len();
            if !out.is_empty() && n + len > max_samples {
                break;
            }
            n += len;
            self.samples -= len;
            out.extend(self.entries.pop_front());
        }
        out
    }

    /// Samples waiting.
    pub fn len(&self) -> usize {
        self.samples
    }

    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }

    /// Samples dropped because the queue was full, since start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(host: &str, n: usize) -> Entry {
        Entry {
            host: Arc::from(host),
            group: None,
            samples: (0..n)
                .map(|i| Sample {
                    series: "mem_used_pct".into(),
                    ts_ms: i as i64,
                    value: 1.0,
                })
                .collect(),
        }
    }

    #[test]
    fn full_drops_the_oldest_heartbeats_and_counts_their_samples() {
        let mut q = Queue::new(10);
        assert_eq!(q.push(entry("a", 4)), 4);
        assert_eq!(q.push(entry("b", 4)), 8);
        assert_eq!(q.push(entry("c", 4)), 8, "a went");
        assert_eq!(q.dropped(), 4);
        let hosts: Vec<_> = q.take(100).iter().map(|e| e.host.to_string()).collect();
        assert_eq!(hosts, ["b", "c"]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_heartbeat_larger_than_the_capacity_is_kept_alone() {
        let mut q = Queue::new(3);
        q.push(entry("a", 2));
        assert_eq!(q.push(entry("big", 5)), 5);
        assert_eq!(q.dropped(), 2);
        assert_eq!(q.take(1).len(), 1, "whole, though past the batch size");
    }

    #[test]
    fn take_keeps_order_and_whole_heartbeats() {
        let mut q = Queue::new(100);
        for h in ["a", "b", "c"] {
            q.push(entry(h, 3));
        }
        q.push(entry("empty", 0));
        let first: Vec<_> = q.take(7).iter().map(|e| e.host.to_string()).collect();
        assert_eq!(first, ["a", "b"]);
        assert_eq!(q.len(), 3);
        assert_eq!(q.take(7)[0].host.as_ref(), "c");
        assert!(q.take(7).is_empty());
    }
}
