-- History of host metrics: raw samples and three rollup levels (see ARCHITECTURE.md).
-- Timestamps are milliseconds since the Unix epoch (UTC); buckets start at multiples of the width.

CREATE TABLE series (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE samples_raw (
    series_id INTEGER NOT NULL REFERENCES series(id),
    ts        INTEGER NOT NULL,
    value     REAL    NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
CREATE INDEX samples_raw_ts ON samples_raw(ts);

CREATE TABLE rollup_1m (
    series_id INTEGER NOT NULL REFERENCES series(id),
    bucket    INTEGER NOT NULL,
    avg       REAL    NOT NULL,
    min       REAL    NOT NULL,
    max       REAL    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_1m_bucket ON rollup_1m(bucket);

CREATE TABLE rollup_1h (
    series_id INTEGER NOT NULL REFERENCES series(id),
    bucket    INTEGER NOT NULL,
    avg       REAL    NOT NULL,
    min       REAL    NOT NULL,
    max       REAL    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_1h_bucket ON rollup_1h(bucket);

CREATE TABLE rollup_1d (
    series_id INTEGER NOT NULL REFERENCES series(id),
    bucket    INTEGER NOT NULL,
    avg       REAL    NOT NULL,
    min       REAL    NOT NULL,
    max       REAL    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;

-- How far each rollup level has been computed: buckets before `done_until` are final.
CREATE TABLE rollup_state (
    level      TEXT PRIMARY KEY,
    done_until INTEGER NOT NULL
);
