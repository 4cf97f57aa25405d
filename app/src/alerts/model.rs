//! The alerts API's types (`GET /api/v1/alerts`), shared with the client.

use serde::{Deserialize, Serialize};

/// How bad a firing alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Where one alert instance is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition holds but not yet for the rule's `for:`.
    Pending,
    Firing,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// One alert instance: a rule and the labels that tell its instances apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The rule's name (`cpu_steal_pct`, `container_unhealthy`, `collector_error`).
    pub rule: String,
    /// `alertname` first, then the instance's own labels (`mountpoint`, `container`, …).
    pub labels: Vec<(String, String)>,
    pub state: AlertState,
    /// Pending and firing: the level it is at; resolved: the level it was at.
    pub severity: Severity,
    /// The latest reading (`None` for rules that are a condition, not a number).
    pub value: Option<f64>,
    /// The level that was crossed (for numeric rules).
    pub threshold: Option<f64>,
    /// What it is, in a sentence an operator can act on.
    pub summary: String,
    /// Pending: since when the condition holds; firing: since when it fires.
    pub since_ms: i64,
    pub resolved_ms: Option<i64>,
    /// Who acknowledged it (repeats stop until it resolves or gets worse).
    pub acknowledged_by: Option<String>,
    /// A silence covers it now: it keeps its state but nothing is sent.
    pub silenced: bool,
    /// The replica that judges it, when that is another one (the fleet's rules, judged by one
    /// hub replica at a time on shared state); `None`: judged here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_on: Option<String>,
}

impl Alert {
    /// A stable key for the instance: `rule{k="v",…}`.
    pub fn key(&self) -> String {
        instance_key(&self.labels)
    }
}

/// `alertname{k="v",…}` of a label set whose first label is `alertname`.
pub fn instance_key(labels: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = labels.iter();
    if let Some((_, name)) = rest.next() {
        out.push_str(name);
    }
    let inner: Vec<String> = rest.map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    if !inner.is_empty() {
        out.push('{');
        out.push_str(&inner.join(","));
        out.push('}');
    }
    out
}

/// A silence: every matcher must equal one of an alert's labels, between `starts_ms` and
/// `ends_ms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SilenceView {
    pub id: i64,
    pub matchers: Vec<(String, String)>,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub comment: String,
    pub created_by: String,
}

/// One notifier (webhook, Telegram, ntfy, email, Alertmanager) and how its deliveries went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotifierStatus {
    pub name: String,
    /// `webhook`, `telegram`, `ntfy`, `alertmanager` or `email`.
    pub kind: String,
    /// The lowest severity it is sent.
    pub min_severity: Severity,
    /// Deliveries that the receiver accepted, and those that failed after every retry.
    pub sent_total: u64,
    pub failed_total: u64,
    /// Notices dropped because its queue was full.
    pub dropped_total: u64,
    /// Notices waiting in its queue.
    pub queued: usize,
    pub last_success_ms: Option<i64>,
    pub last_attempt_ms: Option<i64>,
    /// The last failure, as the receiver or the network said it.
    pub last_error: Option<String>,
}

/// `GET /api/v1/alerts`: what fires now and what happened recently.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Alerts {
    /// Alerting is on (`[alerts] enabled`).
    pub enabled: bool,
    /// Firing first (critical before warning), then pending; newest first within each.
    pub active: Vec<Alert>,
    /// Resolved recently, newest first.
    pub recent: Vec<Alert>,
    pub silences: Vec<SilenceView>,
    pub notifiers: Vec<NotifierStatus>,
    /// When the rules were last evaluated (`None`: not yet).
    pub evaluated_ms: Option<i64>,
    /// How long the last evaluation took, in microseconds.
    pub evaluation_us: Option<u64>,
    /// Quiet hours, when configured: the window and how many alerts wait for its end.
    #[serde(default)]
    pub quiet: Option<String>,
    /// Hub replicas only: why the state shared with the other replicas (silences, the fleet's
    /// alerts) could not be read or written on the last try; `None` when it worked.
    #[serde(default)]
    pub sync_error: Option<String>,
}

impl Alerts {
    /// Firing alerts that are not silenced: what the badge counts.
    pub fn firing(&self) -> usize {
        self.active
            .iter()
            .filter(|a| a.state == AlertState::Firing && !a.silenced)
            .count()
    }

    /// The worst severity of the alerts [`Alerts::firing`] counts.
    pub fn worst(&self) -> Option<Severity> {
        self.active
            .iter()
            .filter(|a| a.state == AlertState::Firing && !a.silenced)
            .map(|a| a.severity)
            .max()
    }
}

/// The top bar's badge: firing alerts nobody silenced, and the worst of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Badge {
    pub firing: usize,
    pub worst: Option<Severity>,
}

/// `POST /api/v1/alerts/silences`: a silence to add. Durations are minutes (1 – 30 days).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewSilence {
    pub matchers: Vec<(String, String)>,
    pub minutes: u32,
    pub comment: String,
}

/// The longest silence, in minutes (30 days).
pub const MAX_SILENCE_MINUTES: u32 = 30 * 24 * 60;

/// Why a silence was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    #[error("a silence needs at least one matcher (silencing everything is refused)")]
    NoMatchers,
    #[error("at most 8 matchers")]
    TooManyMatchers,
    #[error("matcher names are 1–64 of a-z, A-Z, 0-9 and _; values 1–256 characters")]
    BadMatcher,
    #[error("minutes must be between 1 and {MAX_SILENCE_MINUTES}")]
    BadDuration,
    #[error("a comment (1–500 characters) says why")]
    BadComment,
}

impl NewSilence {
    /// Checks the silence as it arrives; the comment is trimmed.
    pub fn validate(mut self) -> Result<Self, SilenceError> {
        if self.matchers.is_empty() {
            return Err(SilenceError::NoMatchers);
        }
        if self.matchers.len() > 8 {
            return Err(SilenceError::TooManyMatchers);
        }
        let name_ok = |k: &str| {
            (1..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        if !self
            .matchers
            .iter()
            .all(|(k, v)| name_ok(k) && (1..=256).contains(&v.chars().count()))
        {
            return Err(SilenceError::BadMatcher);
        }
        if !(1..=MAX_SILENCE_MINUTES).contains(&self.minutes) {
            return Err(SilenceError::BadDuration);
        }
        self.comment = self.comment.trim().to_string();
        if !(1..=500).contains(&self.comment.chars().count()) {
            return Err(SilenceError::BadComment);
        }
        Ok(self)
    }
}

/// Reads matchers as an operator types them: `alertname=cpu_steal_pct, mountpoint=/`.
pub fn parse_matchers(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| format!("{p:?} is not name=value"))?;
            let v = v.trim().trim_matches('"');
            Ok((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

/// The matchers that pick out exactly one alert: all its labels, as `name=value, …`.
pub fn matchers_text(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_read_as_typed_and_round_trip() {
        let m = parse_matchers(" alertname=disk_used_pct , mountpoint=\"/\" ").unwrap();
        assert_eq!(
            m,
            vec![
                ("alertname".to_string(), "disk_used_pct".to_string()),
                ("mountpoint".to_string(), "/".to_string())
            ]
        );
        assert_eq!(parse_matchers(&matchers_text(&m)).unwrap(), m);
        assert!(parse_matchers("alertname")
            .unwrap_err()
            .contains("name=value"));
        assert_eq!(parse_matchers("").unwrap(), vec![]);
    }

    fn silence(matchers: &[(&str, &str)], minutes: u32, comment: &str) -> NewSilence {
        NewSilence {
            matchers: matchers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            minutes,
            comment: comment.into(),
        }
    }

    #[test]
    fn silences_are_checked_at_the_edge() {
        let ok = silence(&[("alertname", "cpu_steal_pct")], 60, "  noisy neighbour ")
            .validate()
            .unwrap();
        assert_eq!(ok.comment, "noisy neighbour");
        assert_eq!(
            silence(&[], 60, "x").validate(),
            Err(SilenceError::NoMatchers)
        );
        assert_eq!(
            silence(&[("alert name", "x")], 60, "x").validate(),
            Err(SilenceError::BadMatcher)
        );
        assert_eq!(
            silence(&[("alertname", "")], 60, "x").validate(),
            Err(SilenceError::BadMatcher)
        );
        assert_eq!(
            silence(&[("alertname", "x")], 0, "x").validate(),
            Err(SilenceError::BadDuration)
        );
        assert_eq!(
            silence(&[("alertname", "x")], MAX_SILENCE_MINUTES + 1, "x").validate(),
            Err(SilenceError::BadDuration)
        );
        assert_eq!(
            silence(&[("alertname", "x")], 60, "   ").validate(),
            Err(SilenceError::BadComment)
        );
    }

    #[test]
    fn instance_keys_read_like_prometheus_series() {
        let labels = vec![
            ("alertname".to_string(), "disk_used_pct".to_string()),
            ("mountpoint".to_string(), "/".to_string()),
        ];
        assert_eq!(instance_key(&labels), "disk_used_pct{mountpoint=\"/\"}");
        assert_eq!(instance_key(&labels[..1]), "disk_used_pct");
    }
}
