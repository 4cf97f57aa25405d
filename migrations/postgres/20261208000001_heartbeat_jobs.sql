-- Jobs that report their runs to Steward (a dead man's switch) and their reports, shared by
-- every hub replica: a job made on one takes pings on any, and every replica judges it from
-- all its reports. Same columns as the SQLite tables. (Cleanup runs stay in each replica's
-- SQLite file: they are its own machine's.)
CREATE TABLE heartbeat_jobs (
    id           BIGSERIAL PRIMARY KEY,
    slug         TEXT   NOT NULL UNIQUE,
    name         TEXT   NOT NULL,
    schedule     TEXT   NOT NULL,  -- a 5-field cron expression: when a run is expected
    grace_secs   BIGINT NOT NULL,
    token_digest TEXT   NOT NULL UNIQUE,  -- SHA-256 of the job's token, hex
    created_ms   BIGINT NOT NULL,
    created_by   TEXT   NOT NULL
);

CREATE TABLE job_runs (
    id         BIGSERIAL PRIMARY KEY,
    job_id     BIGINT  NOT NULL REFERENCES heartbeat_jobs(id) ON DELETE CASCADE,
    started_ms BIGINT,
    ended_ms   BIGINT,
    result     TEXT    NOT NULL,  -- running | ok | failed
    exit_code  INTEGER,
    log_tail   TEXT
);
CREATE INDEX job_runs_by_job ON job_runs (job_id, id DESC);
