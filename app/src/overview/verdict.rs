//! The host's worst current state, beside the score: the score keeps the seed's points, but a
//! card that reads 100 while CPU pressure is critical, or while the watchdog has given up on a
//! container, would lie. The card's colour, the page title and the favicon follow this verdict.
//!
//! Rules (pure, no I/O):
//! - a vital at its critical threshold → critical; at its warning threshold → warning;
//! - the watchdog gave up on a container → critical;
//! - an unhealthy running container → warning;
//! - a collector in error (Steward cannot see part of the host) → warning;
//! - nothing collected yet and no cause → unknown; otherwise ok.

use serde::{Deserialize, Serialize};

use crate::containers::ContainerSummary;
use crate::shared::format;
use crate::vitals::{CollectorState, CollectorStatus, Level, Vitals};

/// One reason the host is not fine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    pub level: Level,
    pub text: String,
}

/// The worst current state and what caused it, worst first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub level: Level,
    pub causes: Vec<Cause>,
}

impl Default for Verdict {
    fn default() -> Self {
        Verdict {
            level: Level::Unknown,
            causes: Vec::new(),
        }
    }
}

/// At most this many names in one cause; the rest are counted.
const NAMES_SHOWN: usize = 3;

fn names(list: &[String]) -> String {
    let mut text = list
        .iter()
        .take(NAMES_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > NAMES_SHOWN {
        text.push_str(&format!(" and {} more", list.len() - NAMES_SHOWN));
    }
    text
}

/// Judges the host from its latest state.
pub fn judge(
    vitals: Option<&Vitals>,
    collectors: &[CollectorStatus],
    containers: Option<&ContainerSummary>,
) -> Verdict {
    let mut causes = Vec::new();
    for m in vitals.map(|v| v.metrics.as_slice()).unwrap_or_default() {
        let (limit, word) = match m.level {
            Level::Crit => (m.crit, "crit"),
            Level::Warn => (m.warn, "warn"),
            Level::Ok | Level::Unknown => continue,
        };
        let title = match &m.label {
            Some(label) => format!("{} {label}", format::title(&m.name)),
            None => format::title(&m.name).to_string(),
        };
        let limit = limit
            .map(|l| format!(" ({word} at {})", format::value(l, m.unit)))
            .unwrap_or_default();
        causes.push(Cause {
            level: m.level,
            text: format!("{title} {}{limit}", format::metric(m)),
        });
    }
    if let Some(c) = containers {
        if !c.watchdog_gave_up.is_empty() {
            causes.push(Cause {
                level: Level::Crit,
                text: format!("watchdog gave up on {}", names(&c.watchdog_gave_up)),
            });
        }
        if !c.unhealthy.is_empty() {
            let n = c.unhealthy.len();
            causes.push(Cause {
                level: Level::Warn,
                text: format!(
                    "{n} unhealthy container{}: {}",
                    if n == 1 { "" } else { "s" },
                    names(&c.unhealthy)
                ),
            });
        }
    }
    for s in collectors
        .iter()
        .filter(|s| s.state == CollectorState::Error)
    {
        causes.push(Cause {
            level: Level::Warn,
            text: format!(
                "{} collector in error: {}",
                s.name,
                s.message.as_deref().unwrap_or("no message")
            ),
        });
    }
    // Stable: worst first, then in the order above.
    causes.sort_by_key(|c| std::cmp::Reverse(c.level.severity()));
    let level = causes
        .iter()
        .map(|c| c.level)
        .fold(None, |acc: Option<Level>, l| {
            Some(acc.map_or(l, |a| a.worst(l)))
        })
        .unwrap_or(if vitals.is_some() {
            Level::Ok
        } else {
            Level::Unknown
        });
    Verdict { level, causes }
}

impl Verdict {
    /// Adds scheduled jobs that missed a run or failed (warnings: the host works, but
    /// something it relies on, such as a backup, did not happen).
    pub fn with_jobs(mut self, problems: &[String]) -> Verdict {
        if problems.is_empty() {
            return self;
        }
        for p in problems {
            self.causes.push(Cause {
                level: Level::Warn,
                text: p.clone(),
            });
        }
        self.causes
            .sort_by_key(|c| std::cmp::Reverse(c.level.severity()));
        self.level = match self.level {
            Level::Unknown | Level::Ok => Level::Warn,
            l => l.worst(Level::Warn),
        };
        self
    }

    /// The page title: "⚠ 2 · Steward — vm" while something is wrong, "Steward — vm" otherwise.
    pub fn title(&self, host: &str) -> String {
        let base = if host.is_empty() {
            "Steward".to_string()
        } else {
            format!("Steward — {host}")
        };
        match self.level {
            Level::Crit => format!("✖ {} · {base}", self.causes.len()),
            Level::Warn => format!("⚠ {} · {base}", self.causes.len()),
            Level::Ok | Level::Unknown => base,
        }
    }

    /// The favicon for this state (served from `public/`).
    pub fn favicon(&self) -> &'static str {
        favicon(self.level)
    }
}

/// The favicon for a level: the plain icon unless something is wrong.
pub fn favicon(level: Level) -> &'static str {
    match level {
        Level::Crit => "/favicon-crit.svg",
        Level::Warn => "/favicon-warn.svg",
        Level::Ok | Level::Unknown => "/favicon.svg",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vitals::{Metric, Unit};

    fn metric(name: &str, value: f64, level: Level) -> Metric {
        Metric {
            name: name.into(),
            label: None,
            value: Some(value),
            unit: Unit::Percent,
            level,
            warn: Some(80.0),
            crit: Some(95.0),
            note: None,
        }
    }

    fn vitals(metrics: Vec<Metric>) -> Vitals {
        Vitals {
            host: "vm".into(),
            cores: 2,
            collected_at_ms: 0,
            metrics,
            top_rss: vec![],
            top_cpu: vec![],
        }
    }

    #[test]
    fn a_critical_vital_makes_the_verdict_critical_and_names_it() {
        // The finding: CPU busy at 99.8 % and CPU pressure critical, yet the card was green.
        let v = vitals(vec![
            metric("cpu_busy_pct", 99.8, Level::Crit),
            metric("mem_used_pct", 50.0, Level::Ok),
        ]);
        let verdict = judge(Some(&v), &[], None);
        assert_eq!(verdict.level, Level::Crit);
        assert_eq!(verdict.causes.len(), 1);
        assert!(
            verdict.causes[0].text.contains("99.8 %") && verdict.causes[0].text.contains("crit"),
            "{:?}",
            verdict.causes
        );
        assert_eq!(verdict.title("vm"), "✖ 1 · Steward — vm");
        assert_eq!(verdict.favicon(), "/favicon-crit.svg");
    }

    #[test]
    fn a_watchdog_give_up_is_critical_and_a_collector_error_a_warning() {
        let v = vitals(vec![metric("cpu_busy_pct", 10.0, Level::Ok)]);
        let summary = ContainerSummary {
            watchdog_gave_up: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            ..Default::default()
        };
        let mut docker = CollectorStatus::starting("docker");
        docker.state = CollectorState::Error;
        docker.message = Some("connection refused".into());
        let verdict = judge(Some(&v), &[docker.clone()], Some(&summary));
        assert_eq!(verdict.level, Level::Crit);
        assert_eq!(
            verdict.causes[0].text,
            "watchdog gave up on a, b, c and 1 more"
        );
        assert_eq!(verdict.causes[1].level, Level::Warn);
        assert!(verdict.causes[1].text.contains("connection refused"));

        let only_docker = judge(Some(&v), &[docker], None);
        assert_eq!(only_docker.level, Level::Warn);
        assert_eq!(only_docker.title("vm"), "⚠ 1 · Steward — vm");
    }

    #[test]
    fn all_fine_is_ok_and_nothing_collected_is_unknown() {
        let v = vitals(vec![metric("cpu_busy_pct", 10.0, Level::Ok)]);
        let ok = judge(Some(&v), &[], Some(&ContainerSummary::default()));
        assert_eq!((ok.level, ok.causes.len()), (Level::Ok, 0));
        assert_eq!(ok.title("vm"), "Steward — vm");
        assert_eq!(judge(None, &[], None).level, Level::Unknown);
    }

    #[test]
    fn causes_are_worst_first() {
        let v = vitals(vec![
            metric("mem_used_pct", 85.0, Level::Warn),
            metric("cpu_busy_pct", 99.0, Level::Crit),
        ]);
        let verdict = judge(Some(&v), &[], None);
        assert_eq!(
            verdict.causes.iter().map(|c| c.level).collect::<Vec<_>>(),
            [Level::Crit, Level::Warn]
        );
    }

    #[test]
    fn missed_jobs_warn_without_hiding_worse_causes() {
        let ok = judge(None, &[], None).with_jobs(&["job backup missed".into()]);
        assert_eq!(ok.level, Level::Warn);
        assert_eq!(ok.causes.len(), 1);
        let crit = Verdict {
            level: Level::Crit,
            causes: vec![Cause {
                level: Level::Crit,
                text: "disk".into(),
            }],
        }
        .with_jobs(&["job backup failed".into()]);
        assert_eq!(crit.level, Level::Crit);
        assert_eq!(crit.causes[0].text, "disk");
        assert_eq!(judge(None, &[], None).with_jobs(&[]).level, Level::Unknown);
    }
}
