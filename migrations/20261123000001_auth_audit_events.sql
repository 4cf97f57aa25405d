-- Users, sessions, the audit log and Steward's own record of container events.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    -- An argon2id PHC string; passwords are never stored.
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_ms    INTEGER NOT NULL
);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's token, so a copy of the database cannot sign anyone in.
    token_hash  TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf        TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_ms);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    ts_ms   INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL,
    result  TEXT    NOT NULL,
    detail  TEXT
);
CREATE INDEX audit_log_ts ON audit_log (ts_ms);
CREATE INDEX audit_log_target ON audit_log (target, ts_ms);

-- Health transitions and watchdog decisions per container, kept beside Docker's short log.
CREATE TABLE container_events (
    id            INTEGER PRIMARY KEY,
    ts_ms         INTEGER NOT NULL,
    container_id  TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    detail        TEXT
);
CREATE INDEX container_events_name ON container_events (name, ts_ms);
