-- Agents: fleet hosts that push to this hub with a bearer token (the guard's second kind of
-- identity, beside browser sessions). Only the SHA-256 of each token is stored.
CREATE TABLE agents (
    host         TEXT    PRIMARY KEY,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER
);
