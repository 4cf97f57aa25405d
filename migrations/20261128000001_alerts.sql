-- Alerts (issue 15): silences, which must outlive a restart, and each alert instance's
-- firing spell once it resolves (the alerts page's history and the weekly digest).
CREATE TABLE alert_silences (
    id         INTEGER PRIMARY KEY,
    matchers   TEXT NOT NULL,   -- JSON [[name, value], ...]
    starts_ms  INTEGER NOT NULL,
    ends_ms    INTEGER NOT NULL,
    comment    TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX alert_silences_ends ON alert_silences (ends_ms);

CREATE TABLE alert_history (
    id          INTEGER PRIMARY KEY,
    rule        TEXT NOT NULL,
    labels      TEXT NOT NULL,  -- JSON [[name, value], ...], alertname first
    severity    TEXT NOT NULL,  -- the worst level it reached
    summary     TEXT NOT NULL,
    value       REAL,
    since_ms    INTEGER NOT NULL,
    resolved_ms INTEGER NOT NULL
);
CREATE INDEX alert_history_resolved ON alert_history (resolved_ms);
