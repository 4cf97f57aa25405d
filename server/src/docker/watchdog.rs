//! The health-check-aware watchdog (seed §2.1): restart a running container only after N
//! consecutive failed health checks, within a per-container budget, with a cooldown, and never
//! one that is stopped, paused, being restarted by Docker, or labelled `steward.watchdog=off`.
//!
//! [`Watchdog::decide`] does no I/O (the caller passes the time; it keeps the restart budget and
//! give-ups in memory); the Docker collector executes its restarts and records every decision
//! that changed.

use std::collections::{HashMap, VecDeque};

use app::containers::{Container, ContainerState, Health};

use crate::config::WatchdogConfig;

/// What the watchdog decided about one container in one round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Restart it now (or, in dry-run mode, say it would).
    Restart { streak: u32 },
    /// Not yet: still counting failed checks, or cooling down after a restart.
    Wait(String),
    /// Leave it alone, for this reason (opted out, not running, disabled, gave up).
    Skip(String),
    /// The budget is spent: stop trying and raise an alert.
    GiveUp { restarts: u32 },
}

impl Decision {
    /// The decision in words, as shown on the container.
    pub fn describe(&self, dry_run: bool) -> String {
        match self {
            Decision::Restart { streak } if dry_run => {
                format!("dry run: would restart after {streak} failed checks")
            }
            Decision::Restart { streak } => format!("restarted after {streak} failed checks"),
            Decision::Wait(why) | Decision::Skip(why) => why.clone(),
            Decision::GiveUp { restarts } => {
                format!("gave up: {restarts} restarts within the last hour did not help")
            }
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Memory {
    restarts: VecDeque<i64>,
    gave_up: bool,
    last: Option<(String, i64)>,
}

/// The watchdog's memory across rounds.
#[derive(Debug)]
pub struct Watchdog {
    config: WatchdogConfig,
    memory: HashMap<String, Memory>,
}

const HOUR_MS: i64 = 3_600_000;

impl Watchdog {
    pub fn new(config: WatchdogConfig) -> Self {
        Self {
            config,
            memory: HashMap::new(),
        }
    }

    pub fn config(&self) -> &WatchdogConfig {
        &self.config
    }

    /// Decides about one container. `None` when there is nothing to decide (it is not unhealthy).
    pub fn decide(&mut self, c: &Container, now_ms: i64) -> Option<Decision> {
        let cfg = &self.config;
        let mem = self.memory.entry(c.id.clone()).or_default();
        while mem.restarts.front().is_some_and(|&t| t <= now_ms - HOUR_MS) {
            mem.restarts.pop_front();
        }
        if c.health != Health::Unhealthy {
            // Healthy again: a fresh start for the budget's "gave up" state.
            if c.health == Health::Healthy {
                mem.gave_up = false;
            }
            return None;
        }
        let decision = if !cfg.enabled {
            Decision::Skip("watchdog is disabled".into())
        } else if c.labels_watchdog_off {
            Decision::Skip("opted out (label steward.watchdog=off)".into())
        } else if c.state != ContainerState::Running {
            Decision::Skip(format!("container is {}, not running", c.state))
        } else if mem.gave_up {
            Decision::Skip("watchdog gave up; restart it by hand once fixed".into())
        } else if c.failing_streak < cfg.failures_before_restart {
            Decision::Wait(format!(
                "waiting: {} of {} failed checks",
                c.failing_streak, cfg.failures_before_restart
            ))
        } else if let Some(&last) = mem
            .restarts
            .back()
            .filter(|&&t| now_ms - t < cfg.cooldown_secs as i64 * 1000)
        {
            // The end time, not a countdown: the text stays the same all through the
            // cooldown, so it is one event, not one per round.
            Decision::Wait(format!(
                "cooling down until {} UTC after the last restart",
                app::shared::format::utc_datetime(last + cfg.cooldown_secs as i64 * 1000)
            ))
        } else if mem.restarts.len() as u32 >= cfg.restarts_per_hour {
            mem.gave_up = true;
            Decision::GiveUp {
                restarts: mem.restarts.len() as u32,
            }
        } else {
            // Dry runs count against the budget too, so that a dry run shows what a real run
            // would do, give-ups included.
            mem.restarts.push_back(now_ms);
            Decision::Restart {
                streak: c.failing_streak,
            }
        };
        Some(decision)
    }

    /// Records the decision shown on the container; returns true when it differs from the last
    /// one (only changes are written to the event log, not every round's "still waiting").
    pub fn note(&mut self, id: &str, text: &str, now_ms: i64) -> bool {
        let mem = self.memory.entry(id.to_string()).or_default();
        let changed = mem.last.as_ref().map(|(t, _)| t.as_str()) != Some(text);
        if changed {
            mem.last = Some((text.to_string(), now_ms));
        }
        changed
    }

    /// Fills a container's watchdog view from memory.
    pub fn annotate(&self, c: &mut Container) {
        c.watchdog.opted_out = c.labels_watchdog_off;
        if let Some(mem) = self.memory.get(&c.id) {
            c.watchdog.gave_up = mem.gave_up;
            c.watchdog.restarts_last_hour = mem.restarts.len() as u32;
            if let Some((text, ts)) = &mem.last {
                c.watchdog.last_decision = Some(text.clone());
                c.watchdog.last_decision_ms = Some(*ts);
            }
        }
    }

    /// Forgets containers that no longer exist.
    pub fn retain(&mut self, ids: &std::collections::HashSet<&str>) {
        self.memory.retain(|id, _| ids.contains(id.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> WatchdogConfig {
        WatchdogConfig {
            enabled: true,
            dry_run: false,
            failures_before_restart: 3,
            restarts_per_hour: 2,
            cooldown_secs: 60,
        }
    }

    fn container(health: Health, streak: u32) -> Container {
        Container {
            health,
            failing_streak: streak,
            ..Container::running("c1", "web")
        }
    }

    #[test]
    fn restarts_after_exactly_n_failures() {
        let mut w = Watchdog::new(config());
        assert_eq!(w.decide(&container(Health::Healthy, 0), 0), None);
        for streak in 1..3 {
            let d = w.decide(&container(Health::Unhealthy, streak), 0).unwrap();
            assert_eq!(
                d,
                Decision::Wait(format!("waiting: {streak} of 3 failed checks"))
            );
        }
        assert_eq!(
            w.decide(&container(Health::Unhealthy, 3), 0),
            Some(Decision::Restart { streak: 3 })
        );
    }

    #[test]
    fn never_touches_stopped_paused_restarting_or_opted_out() {
        let mut w = Watchdog::new(config());
        for state in ["exited", "paused", "restarting", "dead", "created"] {
            let mut c = container(Health::Unhealthy, 10);
            c.state = ContainerState::parse(state);
            assert!(
                matches!(w.decide(&c, 0), Some(Decision::Skip(_))),
                "{state}"
            );
        }
        let mut c = container(Health::Unhealthy, 10);
        c.labels_watchdog_off = true;
        assert!(matches!(w.decide(&c, 0), Some(Decision::Skip(s)) if s.contains("opted out")));
        let mut off = Watchdog::new(WatchdogConfig {
            enabled: false,
            ..config()
        });
        assert!(matches!(
            off.decide(&container(Health::Unhealthy, 10), 0),
            Some(Decision::Skip(_))
        ));
    }

    #[test]
    fn cooldown_then_budget_then_gives_up_until_healthy() {
        let mut w = Watchdog::new(config());
        let sick = container(Health::Unhealthy, 3);
        assert_eq!(w.decide(&sick, 0), Some(Decision::Restart { streak: 3 }));
        let mut cooling = |t| match w.decide(&sick, t) {
            Some(Decision::Wait(s)) => s,
            other => panic!("{other:?}"),
        };
        let (a, b) = (cooling(10_000), cooling(30_000));
        assert!(a.contains("cooling down until 1970-01-01"), "{a}");
        assert_eq!(
            a, b,
            "the same text all through the cooldown: one event, not one a round"
        );
        assert_eq!(
            w.decide(&sick, 60_000),
            Some(Decision::Restart { streak: 3 })
        );
        assert_eq!(
            w.decide(&sick, 120_000),
            Some(Decision::GiveUp { restarts: 2 })
        );
        assert!(
            matches!(w.decide(&sick, 130_000), Some(Decision::Skip(s)) if s.contains("gave up"))
        );
        let mut view = sick.clone();
        w.annotate(&mut view);
        assert!(view.watchdog.gave_up);
        assert_eq!(view.watchdog.restarts_last_hour, 2);
        // Healthy again: the give-up ends; an hour later the budget is back.
        assert_eq!(w.decide(&container(Health::Healthy, 0), 140_000), None);
        assert_eq!(
            w.decide(&sick, 3_600_001 + 60_000),
            Some(Decision::Restart { streak: 3 })
        );
    }

    #[test]
    fn notes_only_changes() {
        let mut w = Watchdog::new(config());
        assert!(w.note("c1", "waiting", 0));
        assert!(!w.note("c1", "waiting", 5));
        assert!(w.note("c1", "restarted", 6));
    }
}
