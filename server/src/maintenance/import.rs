//! Imports runs of an existing cleanup script from its log (seed §1.1: the script "runs
//! silently; no structured outcome record"). Pure: text in, runs out.
//!
//! Accepted format, one event per line, each line starting with its time in brackets
//! (`[YYYY-MM-DD HH:MM:SS]`, UTC unless it ends in `Z` or `±HH:MM`):
//!
//! ```text
//! [2026-05-26 03:00:01] === vm-cleanup start (mode: standard) ===
//! [2026-05-26 03:00:01] Disk before: 39.2G used of 96G (41%)
//! [2026-05-26 03:00:05] step docker_builder_cache: freed 120MB
//! [2026-05-26 03:00:09] step apt_cache: FAILED (exit 100)
//! [2026-05-26 03:00:12] Disk after: 38.9G used of 96G (40%)
//! [2026-05-26 03:00:12] === vm-cleanup done: freed 257MB ===
//! ```
//!
//! - A start line contains `start`; its mode is `(mode: X)` or `mode=X` (default `standard`).
//! - `Disk before:` / `Disk after:` take the first size as the used space.
//! - `step NAME: freed SIZE`, `step NAME: FAILED (why)`, `step NAME: skipped (why)`.
//! - An end line contains `done` (freed SIZE) or `failed` (the run failed, with the rest as
//!   the reason). Sizes are `df -h` style and 1024-based: `512K`, `120MB`, `1.5G`, `2T`, `0`.
//! - Lines without a time, or unknown lines, are skipped; a run with a step failure is
//!   `partial`; a run whose end line never came is `failed` when another run starts after it,
//!   and not imported yet when it is the last one (it may still be running).

use app::maintenance::{CleanupRun, RunResult, StepRecord, Trigger};

/// Runs read from a log, and lines that looked like events but could not be read.
#[derive(Debug, Default)]
pub struct Imported {
    pub runs: Vec<CleanupRun>,
    pub skipped: Vec<(usize, String)>,
}

pub fn parse(text: &str, source: &str) -> Imported {
    let mut out = Imported::default();
    let mut current: Option<CleanupRun> = None;
    for (i, raw) in text.lines().enumerate() {
        let Some((ts, rest)) = timestamp(raw) else {
            continue;
        };
        let lower = rest.to_ascii_lowercase();
        if lower.starts_with("===") && lower.contains("start") {
            if let Some(mut open) = current.take() {
                open.result = RunResult::Failed;
                open.error = Some("the log has no end line for this run (interrupted?)".into());
                open.ended_ms = Some(ts);
                out.runs.push(open);
            }
            current = Some(CleanupRun {
                id: 0,
                started_ms: ts,
                ended_ms: None,
                mode: mode(rest).unwrap_or_else(|| "standard".into()),
                trigger: Trigger::Imported,
                actor: source.into(),
                disk_before_bytes: None,
                disk_after_bytes: None,
                freed_bytes: 0,
                steps: Vec::new(),
                result: RunResult::Running,
                error: None,
            });
            continue;
        }
        let Some(run) = current.as_mut() else {
            continue;
        };
        if let Some(v) = strip_prefix_ci(rest, "disk before:") {
            run.disk_before_bytes = first_size(v);
        } else if let Some(v) = strip_prefix_ci(rest, "disk after:") {
            run.disk_after_bytes = first_size(v);
        } else if let Some(v) = strip_prefix_ci(rest, "step ") {
            match step(v, ts - run.started_ms) {
                Some(s) => run.steps.push(s),
                None => out.skipped.push((i + 1, raw.to_string())),
            }
        } else if lower.starts_with("===") && (lower.contains("done") || lower.contains("failed")) {
            let mut run = current.take().expect("checked above");
            run.ended_ms = Some(ts);
            let freed_steps: u64 = run.steps.iter().filter_map(|s| s.freed_bytes).sum();
            run.freed_bytes = after(&lower, "freed ")
                .and_then(first_size)
                .unwrap_or(freed_steps);
            run.result = if lower.contains("failed") {
                run.error = Some(rest.trim_matches(['=', ' ']).to_string());
                RunResult::Failed
            } else if run.steps.iter().any(|s| s.error.is_some()) {
                RunResult::Partial
            } else {
                RunResult::Ok
            };
            out.runs.push(run);
        }
    }
    out
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

fn after<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    s.find(word).map(|i| &s[i + word.len()..])
}

/// `[YYYY-MM-DD HH:MM:SS(Z|±HH:MM)?] rest` → (ms, rest).
fn timestamp(line: &str) -> Option<(i64, &str)> {
    let line = line.trim_start().strip_prefix('[')?;
    let (ts, rest) = line.split_once(']')?;
    let ts = ts.trim().replacen(' ', "T", 1);
    let with_zone = if ts.ends_with('Z') || ts.get(10..).is_some_and(|t| t.contains(['+', '-'])) {
        ts
    } else {
        format!("{ts}Z")
    };
    let t = chrono::DateTime::parse_from_rfc3339(&with_zone).ok()?;
    Some((t.timestamp_millis(), rest.trim()))
}

fn mode(rest: &str) -> Option<String> {
    let lower = rest.to_ascii_lowercase();
    let v = after(&lower, "mode:").or_else(|| after(&lower, "mode="))?;
    let m: String = v
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!m.is_empty()).then_some(m)
}

fn step(v: &str, offset_ms: i64) -> Option<StepRecord> {
    let (name, outcome) = v.split_once(':')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let outcome = outcome.trim();
    let lower = outcome.to_ascii_lowercase();
    let mut rec = StepRecord {
        name: name.into(),
        freed_bytes: None,
        items: 0,
        error: None,
        detail: outcome.into(),
        duration_ms: offset_ms.max(0),
    };
    if lower.starts_with("failed") {
        let why = outcome[6..].trim().trim_matches(['(', ')', ':', ' ']);
        rec.error = Some(if why.is_empty() {
            "failed".into()
        } else {
            why.into()
        });
    } else if let Some(v) = after(&lower, "freed ") {
        rec.freed_bytes = Some(first_size(v)?);
    } else if !lower.starts_with("skipped") {
        return None;
    }
    Some(rec)
}

/// The first `df -h` style size in `s` (1024-based), skipping percentages.
pub fn first_size(s: &str) -> Option<u64> {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .find_map(size)
}

fn size(token: &str) -> Option<u64> {
    let t = token.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    if digits == 0 {
        return None;
    }
    let n: f64 = t[..digits].parse().ok()?;
    let unit = t[digits..].to_ascii_uppercase();
    let power = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "" if unit.is_empty() || unit == "B" => 0,
        "K" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        _ => return None,
    };
    Some((n * 1024f64.powi(power)).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../../tests/fixtures/maintenance/vm-cleanup.log");

    #[test]
    fn the_fixture_log_becomes_runs() {
        let got = parse(FIXTURE, "/var/log/vm-cleanup.log");
        assert_eq!(got.runs.len(), 3, "{:#?}", got.runs);
        let ok = &got.runs[0];
        assert_eq!(ok.mode, "standard");
        assert_eq!(ok.trigger, Trigger::Imported);
        assert_eq!(ok.result, RunResult::Ok);
        assert_eq!(ok.freed_bytes, 257 * 1024 * 1024);
        assert_eq!(ok.steps.len(), 3);
        assert_eq!(ok.steps[0].freed_bytes, Some(120 * 1024 * 1024));
        assert_eq!(
            ok.disk_before_bytes,
            Some((39.2 * 1024f64.powi(3)).round() as u64)
        );
        assert_eq!(ok.ended_ms.unwrap() - ok.started_ms, 11_000);
        let partial = &got.runs[1];
        assert_eq!(partial.mode, "full");
        assert_eq!(partial.result, RunResult::Partial);
        assert_eq!(partial.steps[1].error.as_deref(), Some("exit 100"));
        // No "freed" on the end line: the steps' sum.
        assert_eq!(partial.freed_bytes, 1536 * 1024 * 1024);
        let interrupted = &got.runs[2];
        assert_eq!(interrupted.result, RunResult::Failed);
        assert!(interrupted
            .error
            .as_deref()
            .unwrap()
            .contains("no end line"));
        // The last run has no end line yet: not imported (it may still be running).
        assert!(got
            .runs
            .iter()
            .all(|r| r.started_ms != got.runs[2].ended_ms.unwrap()));
        assert_eq!(got.skipped.len(), 1, "{:?}", got.skipped);
    }

    #[test]
    fn sizes() {
        assert_eq!(first_size("41% 512K"), Some(512 * 1024));
        assert_eq!(first_size("1.5G used"), Some(1_610_612_736));
        assert_eq!(first_size("0 bytes"), Some(0));
        assert_eq!(first_size("2TiB"), Some(2 * 1024u64.pow(4)));
        assert_eq!(first_size("lots"), None);
    }
}
