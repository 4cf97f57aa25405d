-- Each host's latest state (vitals, status, containers, GPUs) as its newest heartbeat gave it,
-- written by the replica that committed the heartbeat so that every replica shows every
-- host's score and vitals. `state` is versioned JSON (server/src/fleet/latest.rs); `writer`
-- names the replica process that wrote it (a replica skips its own rows); `stored_ms` (hub
-- clock) lets a replica read only what changed since its last read.
CREATE TABLE fleet_latest (
    host         TEXT   PRIMARY KEY REFERENCES fleet_hosts (host) ON DELETE CASCADE,
    collected_ms BIGINT NOT NULL,
    stored_ms    BIGINT NOT NULL,
    writer       TEXT   NOT NULL,
    state        TEXT   NOT NULL
);
CREATE INDEX fleet_latest_stored ON fleet_latest (stored_ms);
