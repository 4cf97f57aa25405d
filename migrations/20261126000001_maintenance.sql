-- Jobs that report their runs to Steward (a dead man's switch), their reports, and Steward's
-- cleanup runs (manual, scheduled, dry runs and runs imported from an existing script's log).
CREATE TABLE heartbeat_jobs (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- A 5-field cron expression: when a run is expected.
    schedule TEXT NOT NULL,
    grace_secs INTEGER NOT NULL,
    -- SHA-256 of the job's token, hex; the token itself is shown once.
    token_digest TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES heartbeat_jobs(id) ON DELETE CASCADE,
    started_ms INTEGER,
    ended_ms INTEGER,
    -- running | ok | failed
    result TEXT NOT NULL,
    exit_code INTEGER,
    log_tail TEXT
);
CREATE INDEX job_runs_by_job ON job_runs (job_id, id DESC);

CREATE TABLE cleanup_runs (
    id INTEGER PRIMARY KEY,
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER,
    mode TEXT NOT NULL,
    -- manual | scheduled | imported
    trigger TEXT NOT NULL,
    actor TEXT NOT NULL,
    dry_run INTEGER NOT NULL DEFAULT 0,
    disk_before_bytes INTEGER,
    disk_after_bytes INTEGER,
    freed_bytes INTEGER NOT NULL DEFAULT 0,
    -- JSON array of steps: name, freed_bytes, items, error, detail, duration_ms.
    steps TEXT NOT NULL DEFAULT '[]',
    -- running | ok | partial | failed
    result TEXT NOT NULL,
    error TEXT
);
CREATE INDEX cleanup_runs_by_time ON cleanup_runs (dry_run, started_ms DESC);
-- An imported run is imported once, however often the log is read.
CREATE UNIQUE INDEX cleanup_runs_imported ON cleanup_runs (started_ms) WHERE trigger = 'imported';
