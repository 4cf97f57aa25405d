//! One circuit breaker per model backend (pure; the caller passes the clock): closed → open
//! after `threshold` failures in a row → after the cool-off one half-open probe → closed when
//! it answers, open again for another cool-off when it does not. While open the backend is not
//! called at all, so a dead backend costs a round nothing.

use app::models::{BreakerState, BreakerView};

#[derive(Debug, Clone)]
pub struct Breaker {
    threshold: u32,
    cool_off_ms: i64,
    state: BreakerState,
    failures: u32,
    opened_at_ms: i64,
    opened_total: u64,
    probes_total: u64,
    skipped_total: u64,
}

/// What the caller may do this round.
#[derive(Debug, PartialEq, Eq)]
pub enum Permit {
    /// Check normally.
    Call,
    /// The one half-open probe.
    Probe,
    /// Skip: the breaker is open.
    Skip,
}

impl Breaker {
    pub fn new(threshold: u32, cool_off_ms: i64) -> Self {
        Self {
            threshold: threshold.max(1),
            cool_off_ms,
            state: BreakerState::Closed,
            failures: 0,
            opened_at_ms: 0,
            opened_total: 0,
            probes_total: 0,
            skipped_total: 0,
        }
    }

    /// Asks whether to call now; moves an open breaker whose cool-off ended to half-open.
    pub fn permit(&mut self, now_ms: i64) -> Permit {
        match self.state {
            BreakerState::Closed => Permit::Call,
            BreakerState::HalfOpen => Permit::Probe,
            BreakerState::Open if now_ms >= self.opened_at_ms + self.cool_off_ms => {
                self.state = BreakerState::HalfOpen;
                self.probes_total += 1;
                Permit::Probe
            }
            BreakerState::Open => {
                self.skipped_total += 1;
                Permit::Skip
            }
        }
    }

    pub fn success(&mut self) {
        self.failures = 0;
        self.state = BreakerState::Closed;
    }

    pub fn failure(&mut self, now_ms: i64) {
        self.failures = self.failures.saturating_add(1);
        let open = match self.state {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => self.failures >= self.threshold,
            BreakerState::Open => false,
        };
        if open {
            if self.state == BreakerState::Closed {
                self.opened_total += 1;
            }
            self.state = BreakerState::Open;
            self.opened_at_ms = now_ms;
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    pub fn view(&self) -> BreakerView {
        BreakerView {
            state: self.state,
            consecutive_failures: self.failures,
            opened_total: self.opened_total,
            probes_total: self.probes_total,
            skipped_total: self.skipped_total,
            retry_at_ms: (self.state == BreakerState::Open)
                .then_some(self.opened_at_ms + self.cool_off_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_probes_once_per_cool_off_and_closes() {
        let mut b = Breaker::new(3, 30_000);
        for t in 0..2 {
            assert_eq!(b.permit(t), Permit::Call);
            b.failure(t);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.failure(2);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.view().retry_at_ms, Some(30_002));
        // Inside the cool-off: skipped, counted.
        assert_eq!(b.permit(10_000), Permit::Skip);
        assert_eq!(b.permit(30_001), Permit::Skip);
        // One probe; it fails: open again for a whole cool-off, not counted as a new opening.
        assert_eq!(b.permit(30_002), Permit::Probe);
        b.failure(30_002);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.permit(40_000), Permit::Skip);
        assert_eq!(b.permit(60_002), Permit::Probe);
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
        let v = b.view();
        assert_eq!((v.opened_total, v.probes_total, v.skipped_total), (1, 2, 3));
        assert_eq!((v.consecutive_failures, v.retry_at_ms), (0, None));
        // A success in between resets the count.
        b.failure(70_000);
        b.failure(70_001);
        b.success();
        b.failure(70_002);
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
