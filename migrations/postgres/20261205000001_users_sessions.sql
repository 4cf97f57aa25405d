-- Hub state on PostgreSQL (`[database] url`), shared by every hub replica: users and sessions,
-- so a session made on one replica is valid on all of them. Same columns as the SQLite tables.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT      NOT NULL UNIQUE,
    -- An argon2id PHC string; passwords are never stored.
    password_hash TEXT      NOT NULL,
    role          TEXT      NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_ms    BIGINT    NOT NULL
);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's token, so a copy of the database cannot sign anyone in.
    token_hash  TEXT    PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf        TEXT    NOT NULL,
    created_ms  BIGINT  NOT NULL,
    expires_ms  BIGINT  NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_ms);
