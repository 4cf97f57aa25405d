-- Resolved alerts, shared by every hub replica: each row names the node that judged it, so the
-- alerts page shows the fleet's resolved alerts on every replica and each replica's digest
-- counts its own. Same columns as the SQLite table.
CREATE TABLE alert_history (
    id          BIGSERIAL PRIMARY KEY,
    rule        TEXT NOT NULL,
    labels      TEXT NOT NULL,  -- JSON [[name, value], ...], alertname first
    severity    TEXT NOT NULL,  -- the worst level it reached
    summary     TEXT NOT NULL,
    value       DOUBLE PRECISION,
    since_ms    BIGINT NOT NULL,
    resolved_ms BIGINT NOT NULL,
    node        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_history_resolved ON alert_history (resolved_ms);
CREATE INDEX alert_history_since ON alert_history (since_ms);
