-- Fleet: every host that pushes heartbeats, and its agent tokens. A host may hold two live
-- tokens while a rotation's grace period runs (the old one has `expires_ms`); a revoked token
-- stays as a row so that its later uses are counted against its host. Only SHA-256 digests of
-- tokens are stored. The earlier `agents` table (one token per host) moves here unchanged.
CREATE TABLE fleet_hosts (
    host              TEXT    PRIMARY KEY,
    created_ms        INTEGER NOT NULL,
    -- The address the health sweep checks (optional).
    address           TEXT,
    last_heartbeat_ms INTEGER,
    last_seq          INTEGER,
    agent_version     TEXT,
    agent_status      TEXT,
    heartbeats_total  INTEGER NOT NULL DEFAULT 0,
    rejected_fields   INTEGER NOT NULL DEFAULT 0,
    clamped_fields    INTEGER NOT NULL DEFAULT 0,
    refused_tokens    INTEGER NOT NULL DEFAULT 0,
    agent_dropped     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE agent_tokens (
    token_hash   TEXT    PRIMARY KEY,
    host         TEXT    NOT NULL REFERENCES fleet_hosts (host) ON DELETE CASCADE,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER,
    revoked_ms   INTEGER,
    last_used_ms INTEGER
);
CREATE INDEX agent_tokens_host ON agent_tokens (host);

INSERT INTO fleet_hosts (host, created_ms, last_heartbeat_ms)
    SELECT host, created_ms, last_seen_ms FROM agents;
INSERT INTO agent_tokens (token_hash, host, created_ms)
    SELECT token_hash, host, created_ms FROM agents;
DROP TABLE agents;

-- Uses of tokens no host ever had: counted, since they cannot be filed under a host.
INSERT OR IGNORE INTO meta (key, value) VALUES ('fleet_unknown_tokens', '0');
