//! The alert state machine, pure (no clock, no I/O: the caller passes the time). One
//! [`Instance`] per rule and label set goes inactive → pending (the condition must hold for the
//! rule's `for:`) → firing → resolved, with **hysteresis**: a level is entered at its threshold
//! but left only once the reading is a margin past it, so a value hovering around a threshold
//! neither flaps nor floods. Firing alerts repeat on an interval until acknowledged; a silence
//! keeps an instance's state but sends nothing, and an alert still firing when the silence ends
//! is sent then. Missing data keeps the state: "no data" is the collector rules' business.

pub use app::alerts::Severity;

/// Which side of the thresholds is bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Steal, memory used, disk used: higher is worse.
    Above,
    /// Available memory, free VRAM: lower is worse.
    Below,
}

/// A rule's levels, strict like Steward's thresholds (a reading *above* `warn` warns).
/// `clear_margin` (in the metric's unit, ≥ 0) is how far back past a threshold the reading
/// must come before that level clears.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub direction: Direction,
    pub warn: Option<f64>,
    pub crit: Option<f64>,
    pub clear_margin: f64,
}

impl Thresholds {
    /// The level of `value`, given the level it is at now (hysteresis): `None` is fine.
    pub fn level(&self, current: Option<Severity>, value: f64) -> Option<Severity> {
        // Work on the "higher is worse" side.
        let sign = match self.direction {
            Direction::Above => 1.0,
            Direction::Below => -1.0,
        };
        let v = value * sign;
        let breached = |t: Option<f64>, held: bool| {
            t.is_some_and(|t| {
                let t = t * sign;
                if held {
                    v > t - self.clear_margin
                } else {
                    v > t
                }
            })
        };
        if breached(self.crit, current == Some(Severity::Critical)) {
            Some(Severity::Critical)
        } else if breached(self.warn, current.is_some()) {
            Some(Severity::Warning)
        } else {
            None
        }
    }
}

/// A rule's timing: how long a condition must hold before it fires, how often a firing alert
/// is sent again (0: never).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub for_ms: i64,
    pub repeat_ms: i64,
}

/// Where an instance is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Inactive,
    Pending {
        since_ms: i64,
    },
    Firing {
        since_ms: i64,
    },
}

/// What to send after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// It fires (or fires again after a silence ended).
    Firing(Severity),
    /// It got worse while firing.
    Escalated(Severity),
    /// Still firing, not acknowledged, the repeat interval passed.
    Repeat(Severity),
    /// It was sent as firing and is fine again.
    Resolved,
}

/// One alert instance (a rule and its labels).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instance {
    pub phase: Phase,
    pub severity: Option<Severity>,
    /// The last reading.
    pub value: Option<f64>,
    /// The last notice sent: its severity and time.
    pub sent: Option<(Severity, i64)>,
    pub acknowledged_by: Option<String>,
    pub resolved_ms: Option<i64>,
}

impl Instance {
    /// One evaluation: the reading (`None`: no data, nothing changes), the time, and whether
    /// a silence covers the instance now. Returns what to send, if anything.
    pub fn step(
        &mut self,
        th: &Thresholds,
        timing: &Timing,
        value: Option<f64>,
        now_ms: i64,
        silenced: bool,
    ) -> Option<Notice> {
        let value = value.filter(|v| v.is_finite())?;
        self.value = Some(value);
        let Some(level) = th.level(self.severity, value) else {
            let was_firing = matches!(self.phase, Phase::Firing { .. });
            self.phase = Phase::Inactive;
            self.severity = None;
            self.acknowledged_by = None;
            if !was_firing {
                return None;
            }
            self.resolved_ms = Some(now_ms);
            // Only what was said to fire is said to resolve.
            return self.sent.take().map(|_| Notice::Resolved);
        };
        self.severity = Some(level);
        let since = match self.phase {
            Phase::Inactive => {
                self.phase = Phase::Pending { since_ms: now_ms };
                now_ms
            }
            Phase::Pending { since_ms } | Phase::Firing { since_ms } => since_ms,
        };
        if let Phase::Pending { .. } = self.phase {
            if now_ms - since < timing.for_ms {
                return None;
            }
            self.phase = Phase::Firing { since_ms: now_ms };
            self.resolved_ms = None;
        }
        if silenced {
            return None;
        }
        let notice = match self.sent {
            None => Notice::Firing(level),
            Some((s, _)) if level > s => {
                // Worse than what was acknowledged: the acknowledgement no longer holds.
                self.acknowledged_by = None;
                Notice::Escalated(level)
            }
            Some((_, at))
                if self.acknowledged_by.is_none()
                    && timing.repeat_ms > 0
                    && now_ms - at >= timing.repeat_ms =>
            {
                Notice::Repeat(level)
            }
            Some(_) => return None,
        };
        self.sent = Some((level, now_ms));
        Some(notice)
    }

    /// Stops the repeats of a firing alert until it resolves or gets worse.
    pub fn acknowledge(&mut self, by: &str) -> bool {
        if matches!(self.phase, Phase::Firing { .. }) {
            self.acknowledged_by = Some(by.to_string());
            true
        } else {
            false
        }
    }
}

/// A silence: label matchers (all must equal; `alertname` is the rule) over a time window.
#[derive(Clone, Debug, PartialEq)]
pub struct Silence {
    pub matchers: Vec<(String, String)>,
    pub starts_ms: i64,
    pub ends_ms: i64,
}

impl Silence {
    /// Whether it covers an instance with these labels at `now_ms`. A silence without
    /// matchers covers nothing (silencing everything by accident is worse than not at all).
    pub fn covers(&self, labels: &[(String, String)], now_ms: i64) -> bool {
        (self.starts_ms..self.ends_ms).contains(&now_ms) && matches_all(&self.matchers, labels)
    }
}

/// Whether every matcher equals one of the labels; no matchers match nothing.
pub fn matches_all(matchers: &[(String, String)], labels: &[(String, String)]) -> bool {
    !matchers.is_empty()
        && matchers
            .iter()
            .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1000;

    /// Steal: warn 5 %, crit 15 %, leaves a level 1 point below it.
    fn steal() -> Thresholds {
        Thresholds {
            direction: Direction::Above,
            warn: Some(5.0),
            crit: Some(15.0),
            clear_margin: 1.0,
        }
    }

    fn timing(for_s: i64, repeat_s: i64) -> Timing {
        Timing {
            for_ms: for_s * SEC,
            repeat_ms: repeat_s * SEC,
        }
    }

    /// Feeds one reading per 5 s from t = 0; returns each step's notice.
    fn run(i: &mut Instance, th: &Thresholds, t: &Timing, values: &[f64]) -> Vec<Option<Notice>> {
        values
            .iter()
            .enumerate()
            .map(|(n, v)| i.step(th, t, Some(*v), n as i64 * 5 * SEC, false))
            .collect()
    }

    #[test]
    fn pending_until_for_then_firing_then_resolved() {
        let mut i = Instance::default();
        let out = run(&mut i, &steal(), &timing(10, 0), &[7.0, 7.0, 7.0]);
        assert_eq!(
            out,
            vec![None, None, Some(Notice::Firing(Severity::Warning))]
        );
        assert_eq!(i.phase, Phase::Firing { since_ms: 10 * SEC });
        assert_eq!(
            i.step(&steal(), &timing(10, 0), Some(2.0), 15 * SEC, false),
            Some(Notice::Resolved)
        );
        assert_eq!(i.phase, Phase::Inactive);
        assert_eq!(i.resolved_ms, Some(15 * SEC));
        // A blip shorter than `for:` sends nothing at all.
        let mut j = Instance::default();
        let out = run(&mut j, &steal(), &timing(10, 0), &[7.0, 2.0, 7.0, 2.0]);
        assert!(out.iter().all(Option::is_none), "{out:?}");
    }

    #[test]
    fn a_value_around_the_threshold_does_not_flap() {
        let mut i = Instance::default();
        let around = [5.2, 4.8, 5.1, 4.5, 5.3, 4.2, 5.0, 4.9];
        assert_eq!(
            steal().level(None, 5.0),
            None,
            "strict: at the threshold is fine"
        );
        let out = run(&mut i, &steal(), &timing(0, 0), &around);
        assert_eq!(out[0], Some(Notice::Firing(Severity::Warning)));
        assert!(out[1..].iter().all(Option::is_none), "{out:?}");
        assert!(matches!(i.phase, Phase::Firing { .. }));
        // Clear only below 5 − 1.
        assert_eq!(
            i.step(&steal(), &timing(0, 0), Some(3.9), 100 * SEC, false),
            Some(Notice::Resolved)
        );
        // The critical level has its own margin: 14.5 stays critical, 13.9 is a warning.
        let mut c = Instance::default();
        run(&mut c, &steal(), &timing(0, 0), &[16.0, 14.5]);
        assert_eq!(c.severity, Some(Severity::Critical));
        c.step(&steal(), &timing(0, 0), Some(13.9), 60 * SEC, false);
        assert_eq!(c.severity, Some(Severity::Warning));
    }

    #[test]
    fn repeats_on_the_interval_until_acknowledged_and_escalation_always_tells() {
        let mut i = Instance::default();
        let t = timing(0, 60);
        let mut sent = Vec::new();
        for n in 0..30 {
            if let Some(s) = i.step(&steal(), &t, Some(8.0), n * 5 * SEC, false) {
                sent.push((n * 5, s));
            }
        }
        assert_eq!(
            sent,
            vec![
                (0, Notice::Firing(Severity::Warning)),
                (60, Notice::Repeat(Severity::Warning)),
                (120, Notice::Repeat(Severity::Warning))
            ]
        );
        assert!(i.acknowledge("ops"));
        assert_eq!(i.step(&steal(), &t, Some(8.0), 400 * SEC, false), None);
        assert_eq!(
            i.step(&steal(), &t, Some(20.0), 405 * SEC, false),
            Some(Notice::Escalated(Severity::Critical))
        );
        assert_eq!(i.acknowledged_by, None, "worse than what was acknowledged");
        assert_eq!(
            i.step(&steal(), &t, Some(20.0), 465 * SEC, false),
            Some(Notice::Repeat(Severity::Critical))
        );
        // Nothing to acknowledge once it is fine.
        i.step(&steal(), &t, Some(1.0), 470 * SEC, false);
        assert!(!i.acknowledge("ops"));
    }

    #[test]
    fn a_silence_sends_nothing_and_what_still_fires_after_it_is_sent() {
        let mut i = Instance::default();
        let t = timing(0, 60);
        assert_eq!(i.step(&steal(), &t, Some(9.0), 0, true), None);
        assert!(
            matches!(i.phase, Phase::Firing { .. }),
            "silenced, still firing"
        );
        assert_eq!(i.step(&steal(), &t, Some(9.0), 120 * SEC, true), None);
        assert_eq!(
            i.step(&steal(), &t, Some(9.0), 125 * SEC, false),
            Some(Notice::Firing(Severity::Warning))
        );
        // Fired and resolved within a silence: nothing was said, nothing to resolve.
        let mut j = Instance::default();
        j.step(&steal(), &t, Some(9.0), 0, true);
        assert_eq!(j.step(&steal(), &t, Some(1.0), 5 * SEC, true), None);
        assert_eq!(j.resolved_ms, Some(5 * SEC));
    }

    #[test]
    fn no_data_keeps_the_state() {
        let mut i = Instance::default();
        let t = timing(0, 0);
        i.step(&steal(), &t, Some(9.0), 0, false);
        let before = i.clone();
        assert_eq!(i.step(&steal(), &t, None, 5 * SEC, false), None);
        assert_eq!(i.step(&steal(), &t, Some(f64::NAN), 10 * SEC, false), None);
        assert_eq!(i, before);
    }

    #[test]
    fn lower_is_worse_for_a_below_rule() {
        // Free VRAM: warn under 2 GB, crit under 1 GB, clears 0.25 GB above.
        let th = Thresholds {
            direction: Direction::Below,
            warn: Some(2.0),
            crit: Some(1.0),
            clear_margin: 0.25,
        };
        assert_eq!(th.level(None, 3.0), None);
        assert_eq!(
            th.level(None, 2.0),
            None,
            "strict: at the threshold is fine"
        );
        assert_eq!(th.level(None, 1.5), Some(Severity::Warning));
        assert_eq!(th.level(None, 0.5), Some(Severity::Critical));
        assert_eq!(
            th.level(Some(Severity::Critical), 1.2),
            Some(Severity::Critical)
        );
        assert_eq!(
            th.level(Some(Severity::Critical), 1.3),
            Some(Severity::Warning)
        );
        assert_eq!(
            th.level(Some(Severity::Warning), 2.2),
            Some(Severity::Warning)
        );
        assert_eq!(th.level(Some(Severity::Warning), 2.3), None);
    }

    #[test]
    fn silences_match_all_their_labels_within_their_window() {
        let labels = vec![
            ("alertname".to_string(), "cpu_steal".to_string()),
            ("host".to_string(), "vm1".to_string()),
        ];
        let s = Silence {
            matchers: vec![("alertname".into(), "cpu_steal".into())],
            starts_ms: 0,
            ends_ms: 60 * SEC,
        };
        assert!(s.covers(&labels, 10 * SEC));
        assert!(!s.covers(&labels, 60 * SEC), "the end is exclusive");
        let other = Silence {
            matchers: vec![
                ("alertname".into(), "cpu_steal".into()),
                ("host".into(), "vm2".into()),
            ],
            ..s.clone()
        };
        assert!(!other.covers(&labels, 10 * SEC));
        let empty = Silence {
            matchers: vec![],
            ..s
        };
        assert!(
            !empty.covers(&labels, 10 * SEC),
            "an empty silence covers nothing"
        );
    }
}
