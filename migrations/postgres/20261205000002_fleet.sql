-- The fleet registry on PostgreSQL, shared by every hub replica: hosts, agent tokens (SHA-256
-- digests only), groups, health changes and actions. Same columns as the SQLite tables, so
-- the same statements run on both; where SQLite orders by its implicit `rowid`, the table here
-- has a `rowid` column that counts the same way (insertion order).

CREATE TABLE meta (
    key   TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);
-- Uses of tokens no host ever had: counted, since they cannot be filed under a host.
INSERT INTO meta (key, value) VALUES ('fleet_unknown_tokens', 0) ON CONFLICT DO NOTHING;

-- A host is in at most one group; renaming a group carries its hosts, deleting it leaves
-- them ungrouped.
CREATE TABLE fleet_groups (
    name       TEXT   PRIMARY KEY,
    created_ms BIGINT NOT NULL
);

CREATE TABLE fleet_hosts (
    host              TEXT   PRIMARY KEY,
    created_ms        BIGINT NOT NULL,
    -- The address the health sweep checks (optional).
    address           TEXT,
    last_heartbeat_ms BIGINT,
    last_seq          BIGINT,
    agent_version     TEXT,
    agent_status      TEXT,
    heartbeats_total  BIGINT NOT NULL DEFAULT 0,
    rejected_fields   BIGINT NOT NULL DEFAULT 0,
    clamped_fields    BIGINT NOT NULL DEFAULT 0,
    refused_tokens    BIGINT NOT NULL DEFAULT 0,
    agent_dropped     BIGINT NOT NULL DEFAULT 0,
    group_name        TEXT   REFERENCES fleet_groups (name) ON UPDATE CASCADE ON DELETE SET NULL
);
CREATE INDEX fleet_hosts_group ON fleet_hosts (group_name);

-- A host may hold two live tokens while a rotation's grace period runs (the old one has
-- `expires_ms`); a revoked token stays as a row so that its later uses are counted.
CREATE TABLE agent_tokens (
    rowid        BIGSERIAL,
    token_hash   TEXT   PRIMARY KEY,
    host         TEXT   NOT NULL REFERENCES fleet_hosts (host) ON DELETE CASCADE,
    created_ms   BIGINT NOT NULL,
    expires_ms   BIGINT,
    revoked_ms   BIGINT,
    last_used_ms BIGINT
);
CREATE INDEX agent_tokens_host ON agent_tokens (host);

-- Only changes of a host's health are stored, trimmed to the newest rows per host.
CREATE TABLE fleet_health_changes (
    rowid      BIGSERIAL PRIMARY KEY,
    host       TEXT   NOT NULL REFERENCES fleet_hosts (host) ON DELETE CASCADE,
    at_ms      BIGINT NOT NULL,
    status     TEXT   NOT NULL,
    latency_ms BIGINT,
    reason     TEXT   NOT NULL
);
CREATE INDEX fleet_health_changes_host ON fleet_health_changes (host, at_ms);

-- What admins asked of hosts' agents, how far each got, and what the agent reported.
CREATE TABLE fleet_actions (
    id           TEXT   PRIMARY KEY,
    batch        TEXT   NOT NULL,
    host         TEXT   NOT NULL REFERENCES fleet_hosts (host) ON DELETE CASCADE,
    kind         TEXT   NOT NULL,
    -- JSON array of container names, fixed when the admin confirmed.
    containers   TEXT   NOT NULL,
    requested_by TEXT   NOT NULL,
    requested_ms BIGINT NOT NULL,
    state        TEXT   NOT NULL,
    delivered_ms BIGINT,
    updated_ms   BIGINT NOT NULL,
    finished_ms  BIGINT,
    -- JSON array of per-container results, as the agent reported them.
    results      TEXT   NOT NULL DEFAULT '[]',
    message      TEXT
);
CREATE INDEX fleet_actions_host ON fleet_actions (host, requested_ms);
CREATE INDEX fleet_actions_batch ON fleet_actions (batch);
-- Each replica reloads the actions other replicas changed since its last look.
CREATE INDEX fleet_actions_updated ON fleet_actions (updated_ms);
