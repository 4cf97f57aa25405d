//! A sliding-window limit on failed sign-ins, per key (client address or username). Pure: the
//! caller passes the time, so tests need no clock.

use std::collections::{HashMap, VecDeque};

/// Failures per key within a window; a key at the limit is refused until its oldest failure ages
/// out.
#[derive(Debug)]
pub struct RateLimiter {
    max_failures: usize,
    window_ms: i64,
    failures: HashMap<String, VecDeque<i64>>,
}

impl RateLimiter {
    pub fn new(max_failures: u32, window_secs: u64) -> Self {
        Self {
            max_failures: max_failures.max(1) as usize,
            window_ms: (window_secs.max(1) * 1000) as i64,
            failures: HashMap::new(),
        }
    }

    /// `Some(seconds to wait)` when any of the keys is at its limit.
    pub fn check(&mut self, keys: &[&str], now_ms: i64) -> Option<u64> {
        let mut wait: Option<i64> = None;
        for key in keys {
            if let Some(q) = self.failures.get_mut(*key) {
                while q.front().is_some_and(|&t| t <= now_ms - self.window_ms) {
                    q.pop_front();
                }
                if q.len() >= self.max_failures {
                    let until = q.front().copied().unwrap_or(now_ms) + self.window_ms;
                    wait = Some(wait.unwrap_or(0).max(until - now_ms));
                }
            }
        }
        wait.map(|ms| ((ms + 999) / 1000).max(1) as u64)
    }

    /// Records a failure against every key.
    pub fn fail(&mut self, keys: &[&str], now_ms: i64) {
        // Bound memory under a flood of distinct keys: drop keys whose failures have all aged out.
        if self.failures.len() > 10_000 {
            let horizon = now_ms - self.window_ms;
            self.failures
                .retain(|_, q| q.back().is_some_and(|&t| t > horizon));
        }
        for key in keys {
            let q = self.failures.entry((*key).to_string()).or_default();
            q.push_back(now_ms);
            while q.len() > self.max_failures {
                q.pop_front();
            }
        }
    }

    /// A successful sign-in clears the username's failures (not the address's).
    pub fn succeed(&mut self, key: &str) {
        self.failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_at_the_limit_until_the_oldest_failure_ages_out() {
        let mut r = RateLimiter::new(3, 60);
        for t in [0, 1_000, 2_000] {
            assert_eq!(r.check(&["ip", "alice"], t), None);
            r.fail(&["ip", "alice"], t);
        }
        assert_eq!(r.check(&["ip", "alice"], 3_000), Some(57));
        // Another user from the same address is refused too; the address is at its limit.
        assert_eq!(r.check(&["ip", "bob"], 3_000), Some(57));
        assert_eq!(r.check(&["other-ip", "bob"], 3_000), None);
        assert_eq!(r.check(&["ip"], 60_000), None);
    }

    #[test]
    fn success_clears_only_that_key() {
        let mut r = RateLimiter::new(1, 60);
        r.fail(&["ip", "alice"], 0);
        r.succeed("alice");
        assert_eq!(r.check(&["alice"], 1), None);
        assert!(r.check(&["ip"], 1).is_some());
    }
}
