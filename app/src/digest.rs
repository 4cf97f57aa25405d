//! The weekly digest (seed 000 §4.3): the week in ten lines and one thing to do, built from
//! history by the server and shown at `/digest`. The builder here is pure: the server gathers
//! the week's figures into [`DigestInputs`], and [`build`] words them.

pub mod api;
pub mod page;

use serde::{Deserialize, Serialize};

use crate::alerts::Severity;
use crate::shared::format::{bytes, utc_datetime};
use crate::vitals::thresholds::Threshold;
use crate::vitals::Level;

/// A figure of the week: read (with or without data), or why it could not be read. "No data"
/// and "could not read" are different lines, never a silent zero.
pub type Figure<T> = Result<Option<T>, String>;

/// The week's figures, gathered by the server.
#[derive(Clone, Debug, PartialEq)]
pub struct DigestInputs {
    pub host: String,
    pub week_start_ms: i64,
    pub week_end_ms: i64,
    /// Average CPU steal over the week, in percent.
    pub steal_avg_pct: Figure<f64>,
    pub steal: Option<Threshold>,
    /// The scored filesystem and its latest use, in percent.
    pub disk_mount: String,
    pub disk_used_pct: Figure<f64>,
    pub disk: Option<Threshold>,
    /// What cleanups freed this week, in bytes.
    pub freed_bytes: Figure<u64>,
    /// Average available memory over the week, in bytes.
    pub mem_available_avg: Figure<f64>,
    /// The week's highest swap use, in bytes, and the swap size.
    pub swap_peak_bytes: Figure<f64>,
    pub swap_total_bytes: Option<f64>,
    /// Containers unhealthy now, by name.
    pub unhealthy_now: Figure<Vec<String>>,
    /// Container restarts this week (watchdog and people).
    pub restarts: Figure<u64>,
    /// Models loaded this week, with how many times.
    pub models_used: Figure<Vec<(String, u64)>>,
    /// Cleanup runs this week: scheduled, then by hand.
    pub cleanups: Figure<(u64, u64)>,
    /// The next scheduled cleanup.
    pub next_cleanup_ms: Option<i64>,
    /// Alerts that fired this week: critical, then warning.
    pub alerts_fired: Figure<(u64, u64)>,
    /// What fires now: severity and summary, worst first.
    pub firing_now: Vec<(Severity, String)>,
}

/// One line of the digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DigestLine {
    pub icon: String,
    pub label: String,
    pub text: String,
    pub level: Level,
}

/// A delivery of the digest to one notifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DigestDelivery {
    pub notifier: String,
    pub result: Result<(), String>,
}

/// The digest as shown and sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub host: String,
    pub week_start_ms: i64,
    pub week_end_ms: i64,
    /// When these figures were read.
    pub generated_ms: i64,
    pub lines: Vec<DigestLine>,
    pub top_action: String,
    /// The schedule (cron) and when it next sends.
    pub schedule: String,
    pub next_send_ms: Option<i64>,
    /// The last send: when, and how each notifier took it.
    pub last_sent_ms: Option<i64>,
    pub deliveries: Vec<DigestDelivery>,
    /// Whether the chart was drawn (`/api/v1/digest.png`).
    pub chart: bool,
    /// What went wrong with the chart: why it is missing (then it is left out of what is
    /// sent), or that its words are (no font).
    pub chart_error: Option<String>,
}

fn level_of(t: Option<Threshold>, v: f64) -> Level {
    t.map_or(Level::Ok, |t| t.level(v))
}

fn mark(level: Level) -> &'static str {
    match level {
        Level::Ok => " ✓",
        Level::Warn | Level::Crit => " ⚠️",
        Level::Unknown => "",
    }
}

/// A line whose figure is missing or unreadable, said as such.
fn missing<T>(icon: &str, label: &str, f: &Figure<T>) -> Option<DigestLine> {
    let text = match f {
        Ok(Some(_)) => return None,
        Ok(None) => "no data this week".to_string(),
        Err(e) => format!("could not be read: {e}"),
    };
    Some(DigestLine {
        icon: icon.into(),
        label: label.into(),
        text,
        level: Level::Unknown,
    })
}

fn line(icon: &str, label: &str, text: String, level: Level) -> DigestLine {
    DigestLine {
        icon: icon.into(),
        label: label.into(),
        text,
        level,
    }
}

/// Words the week's figures: the lines of seed §4.3 and the top action.
pub fn build(i: &DigestInputs) -> (Vec<DigestLine>, String) {
    let mut lines = Vec::new();
    lines.push(
        missing("🖥", "CPU steal", &i.steal_avg_pct).unwrap_or_else(|| {
            let v = i.steal_avg_pct.clone().ok().flatten().unwrap_or_default();
            let level = level_of(i.steal, v);
            let hint = match (level, i.steal.and_then(|t| t.crit)) {
                (Level::Warn | Level::Crit, Some(c)) => {
                    format!(" (host contention — escalate if > {c:.0}%)")
                }
                _ => String::new(),
            };
            line(
                "🖥",
                "CPU steal",
                format!("{v:.1}% avg{}{hint}", mark(level)),
                level,
            )
        }),
    );
    lines.push(missing("💾", "Disk", &i.disk_used_pct).unwrap_or_else(|| {
        let v = i.disk_used_pct.clone().ok().flatten().unwrap_or_default();
        let level = level_of(i.disk, v);
        let freed = match &i.freed_bytes {
            Ok(Some(b)) if *b > 0 => format!(" (freed {} this week via cleanup)", bytes(*b as f64)),
            Ok(_) => " (no cleanup freed space this week)".to_string(),
            Err(e) => format!(" (what cleanups freed could not be read: {e})"),
        };
        line(
            "💾",
            "Disk",
            format!("{v:.0}% of {}{freed}{}", i.disk_mount, mark(level)),
            level,
        )
    }));
    lines.push(
        missing("🧠", "RAM", &i.mem_available_avg).unwrap_or_else(|| {
            let v = i
                .mem_available_avg
                .clone()
                .ok()
                .flatten()
                .unwrap_or_default();
            line("🧠", "RAM", format!("{} free avg ✓", bytes(v)), Level::Ok)
        }),
    );
    lines.push(
        missing("🔄", "Swap peak", &i.swap_peak_bytes).unwrap_or_else(|| {
            let v = i.swap_peak_bytes.clone().ok().flatten().unwrap_or_default();
            // Swap that was used at all is worth a look; over half of it is a warning.
            let level = match i.swap_total_bytes {
                Some(t) if t > 0.0 && v > t / 2.0 => Level::Warn,
                _ => Level::Ok,
            };
            line(
                "🔄",
                "Swap peak",
                format!("{}{}", bytes(v), mark(level)),
                level,
            )
        }),
    );
    let unhealthy = i.unhealthy_now.clone().ok().flatten();
    lines.push(
        missing("🐳", "Containers", &i.unhealthy_now).unwrap_or_else(|| {
            let names = unhealthy.clone().unwrap_or_default();
            let restarts = match &i.restarts {
                Ok(Some(n)) => format!(", {n} restarts this week"),
                Ok(None) => String::new(),
                Err(e) => format!(", restarts could not be read: {e}"),
            };
            if names.is_empty() {
                line(
                    "🐳",
                    "Containers",
                    format!("all healthy{restarts} ✓"),
                    Level::Ok,
                )
            } else {
                line(
                    "🐳",
                    "Containers",
                    format!("{} unhealthy (action required){restarts}", names.len()),
                    Level::Crit,
                )
            }
        }),
    );
    lines.push(
        missing("🤖", "LLMs run", &i.models_used).unwrap_or_else(|| {
            let used = i.models_used.clone().ok().flatten().unwrap_or_default();
            let text = if used.is_empty() {
                "none loaded this week".to_string()
            } else {
                used.iter()
                    .map(|(m, n)| format!("{m} ({n} load{})", if *n == 1 { "" } else { "s" }))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            line("🤖", "LLMs run", text, Level::Ok)
        }),
    );
    lines.push(missing("🧹", "Cleanups", &i.cleanups).unwrap_or_else(|| {
        let (scheduled, manual) = i.cleanups.clone().ok().flatten().unwrap_or_default();
        line(
            "🧹",
            "Cleanups",
            format!("{scheduled} scheduled, {manual} by hand"),
            Level::Ok,
        )
    }));
    lines.push(line(
        "📅",
        "Next cleanup",
        match i.next_cleanup_ms {
            Some(t) => format!("{} UTC", utc_datetime(t)),
            None => "none scheduled".into(),
        },
        if i.next_cleanup_ms.is_some() {
            Level::Ok
        } else {
            Level::Warn
        },
    ));
    lines.push(missing("🔔", "Alerts", &i.alerts_fired).unwrap_or_else(|| {
        let (crit, warn) = i.alerts_fired.clone().ok().flatten().unwrap_or_default();
        let now = match i.firing_now.len() {
            0 => "nothing fires now".to_string(),
            n => format!("{n} firing now"),
        };
        let level = match i.firing_now.first() {
            Some((Severity::Critical, _)) => Level::Crit,
            Some(_) => Level::Warn,
            None => Level::Ok,
        };
        line(
            "🔔",
            "Alerts",
            format!("{crit} critical and {warn} warnings fired this week; {now}"),
            level,
        )
    }));
    (lines, top_action(i, unhealthy.as_deref()))
}

/// The one thing most worth doing, worst first.
fn top_action(i: &DigestInputs, unhealthy: Option<&[String]>) -> String {
    if let Some((_, s)) = i
        .firing_now
        .iter()
        .find(|(sev, _)| *sev == Severity::Critical)
    {
        return format!("Fix what fires: {s}");
    }
    if let Some(names) = unhealthy.filter(|n| !n.is_empty()) {
        let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
        let more = if names.len() > 3 { ", …" } else { "" };
        return format!(
            "Restart {} unhealthy container{} ({}{more})",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            shown.join(", ")
        );
    }
    if let (Ok(Some(v)), Some(t)) = (&i.steal_avg_pct, i.steal) {
        if t.level(*v) == Level::Crit {
            return format!("Escalate host contention to the provider: steal {v:.1}% avg");
        }
    }
    if let (Ok(Some(v)), Some(t)) = (&i.disk_used_pct, i.disk) {
        if matches!(t.level(*v), Level::Warn | Level::Crit) {
            return format!("Free disk space on {} ({v:.0}% used)", i.disk_mount);
        }
    }
    if let Some((_, s)) = i.firing_now.first() {
        return format!("Look at: {s}");
    }
    "Nothing needs doing this week.".into()
}

/// The digest as one message (Telegram's caption, ntfy's body, the email's text part).
pub fn text(d: &Digest) -> String {
    let mut out = format!(
        "📊 Weekly VM Digest — {}\nWeek ending {}\n",
        d.host,
        &utc_datetime(d.week_end_ms)[..10]
    );
    for l in &d.lines {
        out.push_str(&format!("{} {}: {}\n", l.icon, l.label, l.text));
    }
    out.push_str(&format!("Top action: {}", d.top_action));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week() -> DigestInputs {
        DigestInputs {
            host: "srv1491630".into(),
            week_start_ms: 1_780_272_000_000 - 7 * 86_400_000,
            week_end_ms: 1_780_272_000_000,
            steal_avg_pct: Ok(Some(8.2)),
            steal: Some(Threshold::new(5.0, 10.0)),
            disk_mount: "/".into(),
            disk_used_pct: Ok(Some(37.0)),
            disk: Some(Threshold::new(80.0, 90.0)),
            freed_bytes: Ok(Some(257_000_000)),
            mem_available_avg: Ok(Some(10e9)),
            swap_peak_bytes: Ok(Some(1.4e9)),
            swap_total_bytes: Some(2e9),
            unhealthy_now: Ok(Some((1..=7).map(|n| format!("web-{n}")).collect())),
            restarts: Ok(Some(4)),
            models_used: Ok(Some(vec![("qwen2.5-coder:1.5b".into(), 3)])),
            cleanups: Ok(Some((1, 0))),
            next_cleanup_ms: Some(1_780_272_000_000 + 3_600_000),
            alerts_fired: Ok(Some((0, 2))),
            firing_now: vec![(Severity::Warning, "CPU steal is 8.2 %".into())],
        }
    }

    #[test]
    fn the_seed_week_reads_like_the_seed() {
        let i = week();
        let (lines, action) = build(&i);
        let d = Digest {
            host: i.host.clone(),
            week_end_ms: i.week_end_ms,
            lines,
            top_action: action,
            ..Default::default()
        };
        let t = text(&d);
        assert!(
            t.starts_with("📊 Weekly VM Digest — srv1491630\nWeek ending 2026-06-01\n"),
            "{t}"
        );
        assert!(
            t.contains("🖥 CPU steal: 8.2% avg ⚠️ (host contention — escalate if > 10%)"),
            "{t}"
        );
        assert!(
            t.contains("💾 Disk: 37% of / (freed 257.0 MB this week via cleanup) ✓"),
            "{t}"
        );
        assert!(t.contains("🧠 RAM: 10.0 GB free avg ✓"), "{t}");
        assert!(t.contains("🔄 Swap peak: 1.4 GB ⚠️"), "{t}");
        assert!(
            t.contains("🐳 Containers: 7 unhealthy (action required), 4 restarts this week"),
            "{t}"
        );
        assert!(
            t.contains("🤖 LLMs run: qwen2.5-coder:1.5b (3 loads)"),
            "{t}"
        );
        assert!(t.contains("🧹 Cleanups: 1 scheduled, 0 by hand"), "{t}");
        assert!(
            t.contains("📅 Next cleanup: 2026-06-01 01:00:00 UTC"),
            "{t}"
        );
        assert!(
            t.ends_with("Top action: Restart 7 unhealthy containers (web-1, web-2, web-3, …)"),
            "{t}"
        );
    }

    #[test]
    fn no_data_and_errors_are_said_not_zeroed() {
        let mut i = week();
        i.steal_avg_pct = Ok(None);
        i.freed_bytes = Err("database is locked".into());
        i.models_used = Err("audit log unreadable".into());
        let (lines, _) = build(&i);
        let by = |label: &str| lines.iter().find(|l| l.label == label).unwrap().clone();
        assert_eq!(by("CPU steal").text, "no data this week");
        assert_eq!(by("CPU steal").level, Level::Unknown);
        assert!(by("Disk")
            .text
            .contains("could not be read: database is locked"));
        assert_eq!(
            by("LLMs run").text,
            "could not be read: audit log unreadable"
        );
    }

    #[test]
    fn the_top_action_is_the_worst_thing() {
        let mut i = week();
        i.firing_now = vec![(Severity::Critical, "Disk used (/) is 95 %".into())];
        assert_eq!(build(&i).1, "Fix what fires: Disk used (/) is 95 %");
        i.firing_now.clear();
        i.unhealthy_now = Ok(Some(vec![]));
        i.steal_avg_pct = Ok(Some(12.0));
        assert_eq!(
            build(&i).1,
            "Escalate host contention to the provider: steal 12.0% avg"
        );
        i.steal_avg_pct = Ok(Some(1.0));
        i.disk_used_pct = Ok(Some(85.0));
        assert_eq!(build(&i).1, "Free disk space on / (85% used)");
        i.disk_used_pct = Ok(Some(40.0));
        assert_eq!(build(&i).1, "Nothing needs doing this week.");
    }
}
