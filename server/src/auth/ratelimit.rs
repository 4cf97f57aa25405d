//! A sliding-window limit on sign-in attempts, per key (client address or username). Pure: the
//! caller passes the time, so tests need no clock.

use std::collections::{HashMap, VecDeque};

/// Attempts per key within a window; a key at the limit is refused until its oldest attempt
/// ages out. An attempt counts from the moment it begins, so parallel attempts cannot overtake
/// the limit.
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

    /// Starts a sign-in attempt: `Err(seconds to wait)` when any key is at its limit, else the
    /// attempt is counted against every key at once, before the password is checked. Counting
    /// attempts in flight (not failures after the fact) is what keeps a burst of parallel
    /// requests from all being verified: at most `max_failures` per window and key, ever.
    pub fn begin(&mut self, keys: &[&str], now_ms: i64) -> Result<(), u64> {
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
        if let Some(ms) = wait {
            return Err(((ms + 999) / 1000).max(1) as u64);
        }
        // Bound memory under a flood of distinct keys: drop keys whose attempts have aged out.
        if self.failures.len() > 10_000 {
            let horizon = now_ms - self.window_ms;
            self.failures
                .retain(|_, q| q.back().is_some_and(|&t| t > horizon));
        }
        for key in keys {
            self.failures
                .entry((*key).to_string())
                .or_default()
                .push_back(now_ms);
        }
        Ok(())
    }

    /// Takes back an attempt begun at `started_ms` that turned out not to be a failure (it was
    /// not checked, or it succeeded).
    pub fn forget(&mut self, key: &str, started_ms: i64) {
        if let Some(q) = self.failures.get_mut(key) {
            if let Some(i) = q.iter().rposition(|&t| t == started_ms) {
                q.remove(i);
            }
        }
    }

    /// A successful sign-in clears the username's attempts (not the address's).
    pub fn succeed(&mut self, key: &str) {
        self.failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_at_the_limit_until_the_oldest_attempt_ages_out() {
        let mut r = RateLimiter::new(3, 60);
        for t in [0, 1_000, 2_000] {
            assert_eq!(r.begin(&["ip", "alice"], t), Ok(()));
        }
        assert_eq!(r.begin(&["ip", "alice"], 3_000), Err(57));
        // Another user from the same address is refused too; the address is at its limit.
        assert_eq!(r.begin(&["ip", "bob"], 3_000), Err(57));
        assert_eq!(r.begin(&["other-ip", "carol"], 3_000), Ok(()));
        assert_eq!(r.begin(&["ip"], 60_000), Ok(()));
    }

    #[test]
    fn attempts_in_flight_count_before_they_finish() {
        // 40 attempts begun at the same instant (none finished): only the limit gets through.
        let mut r = RateLimiter::new(5, 900);
        let admitted = (0..40)
            .filter(|_| r.begin(&["ip", "alice"], 7).is_ok())
            .count();
        assert_eq!(admitted, 5);
    }

    #[test]
    fn success_clears_only_that_key_and_forget_takes_one_back() {
        let mut r = RateLimiter::new(1, 60);
        r.begin(&["ip", "alice"], 0).unwrap();
        r.succeed("alice");
        assert_eq!(r.begin(&["alice"], 1), Ok(()));
        assert!(r.begin(&["ip"], 1).is_err());
        r.forget("ip", 0);
        assert_eq!(r.begin(&["ip"], 2), Ok(()));
    }
}
