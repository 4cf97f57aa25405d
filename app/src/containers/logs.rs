//! Container log lines as the panel shows them (Dozzle is the bar): each line with its own
//! timestamp, its stream (stdout or stderr) and a level guessed from common formats, plus the
//! search that highlights matches. Pure: the server parses, the browser filters and highlights.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }
}

/// A line's level, when its text says one in a common format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// One log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Docker's timestamp of the line, ms since the epoch (`None` if it had none).
    pub ts_ms: Option<i64>,
    pub stream: LogStream,
    pub level: Option<LogLevel>,
    pub text: String,
}

/// The words that name a level, as loggers write them (`level=error`, `[ERROR]`, `WARN:`,
/// `"level":"warn"`, `E1124 …` is left alone: too easy to mistake).
const LEVEL_WORDS: [(&str, LogLevel); 12] = [
    ("error", LogLevel::Error),
    ("err", LogLevel::Error),
    ("fatal", LogLevel::Error),
    ("panic", LogLevel::Error),
    ("crit", LogLevel::Error),
    ("critical", LogLevel::Error),
    ("warn", LogLevel::Warn),
    ("warning", LogLevel::Warn),
    ("info", LogLevel::Info),
    ("notice", LogLevel::Info),
    ("debug", LogLevel::Debug),
    ("trace", LogLevel::Debug),
];

/// Guesses a line's level from its first words: a level word standing alone (`ERROR`,
/// `[warn]`, `level=info`, `"level":"debug"`) among the first 8 tokens. Words inside other words
/// ("errors=0", "information") do not count.
pub fn detect_level(text: &str) -> Option<LogLevel> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .take(8)
        .find_map(|w| {
            LEVEL_WORDS
                .iter()
                .find(|(name, _)| w.eq_ignore_ascii_case(name))
                .map(|(_, level)| *level)
        })
}

/// The byte ranges of `query` in `text`, case-insensitive (ASCII), not overlapping. An empty
/// query matches nothing.
pub fn find_matches(text: &str, query: &str) -> Vec<(usize, usize)> {
    let q = query.trim();
    if q.is_empty() {
        return Vec::new();
    }
    let (hay, needle) = (text.to_ascii_lowercase(), q.to_ascii_lowercase());
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = hay[from..].find(&needle) {
        let start = from + i;
        out.push((start, start + needle.len()));
        from = start + needle.len();
    }
    out
}

/// Splits `text` into (part, is_match) pieces for highlighting.
pub fn highlight<'a>(text: &'a str, query: &str) -> Vec<(&'a str, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    for (a, b) in find_matches(text, query) {
        if a > at {
            out.push((&text[at..a], false));
        }
        out.push((&text[a..b], true));
        at = b;
    }
    if at < text.len() || out.is_empty() {
        out.push((&text[at..], false));
    }
    out
}

/// A line as plain text for a download: `2026-11-24T04:00:00.123Z stderr text`.
pub fn to_text(line: &LogLine) -> String {
    let ts = line
        .ts_ms
        .map(crate::shared::format::rfc3339_ms)
        .unwrap_or_else(|| "-".into());
    format!("{ts} {} {}", line.stream.as_str(), line.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_from_common_formats() {
        for (text, level) in [
            ("2026/11/24 ERROR could not connect", Some(LogLevel::Error)),
            ("[warn] slow query 2.1 s", Some(LogLevel::Warn)),
            ("level=info msg=\"started\"", Some(LogLevel::Info)),
            (r#"{"level":"debug","msg":"tick"}"#, Some(LogLevel::Debug)),
            ("WARNING: low disk", Some(LogLevel::Warn)),
            ("tick 42", None),
            ("errors=0 information only", None),
        ] {
            assert_eq!(detect_level(text), level, "{text}");
        }
    }

    #[test]
    fn search_highlights_every_match_case_insensitively() {
        assert_eq!(find_matches("Error, error, ERROR", "error").len(), 3);
        assert_eq!(
            highlight("a Tick and a tick", "tick"),
            [
                ("a ", false),
                ("Tick", true),
                (" and a ", false),
                ("tick", true)
            ]
        );
        assert_eq!(highlight("nothing", ""), [("nothing", false)]);
        assert_eq!(highlight("", "x"), [("", false)]);
        // Non-ASCII text keeps its byte boundaries.
        assert_eq!(
            highlight("grüße tick", "tick"),
            [("grüße ", false), ("tick", true)]
        );
    }

    #[test]
    fn download_lines_carry_time_and_stream() {
        let line = LogLine {
            ts_ms: Some(86_400_123),
            stream: LogStream::Stderr,
            level: None,
            text: "boom".into(),
        };
        assert_eq!(to_text(&line), "1970-01-02T00:00:00.123Z stderr boom");
    }
}
