-- Facts about this database, e.g. when it started keeping history (`history_started_ms`), so a
-- trend can say that a window lies "before Steward started keeping history on …".
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
