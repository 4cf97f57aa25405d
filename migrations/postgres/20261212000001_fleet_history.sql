-- Fleet hosts' history shared by hub replicas: raw samples and three rollup levels, as in the
-- SQLite file (migrations/20261122000001_history.sql), so that a host's chart holds every
-- heartbeat whichever replica took it. Times are milliseconds since the Unix epoch (UTC);
-- buckets start at multiples of their width. The rollups are computed by one replica at a time
-- (the "fleet history" lease); no packed day blocks here: PostgreSQL compresses nothing per
-- row, and minutes are kept as rows until their retention.

CREATE TABLE fleet_series (
    id   BIGSERIAL PRIMARY KEY,
    host TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (host, name)
);

CREATE TABLE fleet_samples (
    series_id BIGINT           NOT NULL REFERENCES fleet_series (id),
    ts        BIGINT           NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series_id, ts)
);
-- BRIN, not a B-tree: samples arrive roughly in time order, so block ranges summarise them
-- well enough for the rollup's and the retention's time ranges, and a write maintains almost
-- nothing (a B-tree here cost each sample a second random index insertion).
CREATE INDEX fleet_samples_ts ON fleet_samples USING brin (ts);

CREATE TABLE fleet_rollup_1m (
    series_id BIGINT           NOT NULL REFERENCES fleet_series (id),
    bucket    BIGINT           NOT NULL,
    avg       DOUBLE PRECISION NOT NULL,
    min       DOUBLE PRECISION NOT NULL,
    max       DOUBLE PRECISION NOT NULL,
    count     BIGINT           NOT NULL,
    PRIMARY KEY (series_id, bucket)
);
CREATE INDEX fleet_rollup_1m_bucket ON fleet_rollup_1m (bucket);

CREATE TABLE fleet_rollup_1h (
    series_id BIGINT           NOT NULL REFERENCES fleet_series (id),
    bucket    BIGINT           NOT NULL,
    avg       DOUBLE PRECISION NOT NULL,
    min       DOUBLE PRECISION NOT NULL,
    max       DOUBLE PRECISION NOT NULL,
    count     BIGINT           NOT NULL,
    PRIMARY KEY (series_id, bucket)
);
CREATE INDEX fleet_rollup_1h_bucket ON fleet_rollup_1h (bucket);

CREATE TABLE fleet_rollup_1d (
    series_id BIGINT           NOT NULL REFERENCES fleet_series (id),
    bucket    BIGINT           NOT NULL,
    avg       DOUBLE PRECISION NOT NULL,
    min       DOUBLE PRECISION NOT NULL,
    max       DOUBLE PRECISION NOT NULL,
    count     BIGINT           NOT NULL,
    PRIMARY KEY (series_id, bucket)
);
CREATE INDEX fleet_rollup_1d_bucket ON fleet_rollup_1d (bucket);

-- How far each level has been computed: buckets before `done_until` are final. A write reads
-- the minute level's row FOR SHARE and the rollup locks it FOR UPDATE, so a sample is either
-- seen by the rollup or noted late, never neither.
CREATE TABLE fleet_rollup_state (
    level      TEXT PRIMARY KEY,
    done_until BIGINT NOT NULL
);
INSERT INTO fleet_rollup_state (level, done_until) VALUES ('1m', 0), ('1h', 0), ('1d', 0);

-- Minutes whose raw samples arrived after the minute level had passed them (a replayed agent
-- buffer): recomputed, with their hours and days, by the next rollup round.
CREATE TABLE fleet_rollup_late (
    minute    BIGINT NOT NULL,
    series_id BIGINT NOT NULL REFERENCES fleet_series (id),
    PRIMARY KEY (minute, series_id)
);

-- When the shared history started (the charts' "history since").
CREATE TABLE fleet_history_meta (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
