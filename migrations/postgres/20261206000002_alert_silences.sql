-- Alert silences, shared by every hub replica: a silence made on one quiets the alert on
-- whichever replica judges it. Same columns as the SQLite table. (Each replica keeps the
-- history of its own machine's alerts in its SQLite file.)
CREATE TABLE alert_silences (
    id         BIGSERIAL PRIMARY KEY,
    matchers   TEXT   NOT NULL,   -- JSON [[name, value], ...]
    starts_ms  BIGINT NOT NULL,
    ends_ms    BIGINT NOT NULL,
    comment    TEXT   NOT NULL,
    created_by TEXT   NOT NULL
);
CREATE INDEX alert_silences_ends ON alert_silences (ends_ms);
