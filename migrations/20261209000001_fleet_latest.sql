-- Each host's latest state, as on PostgreSQL (migrations/postgres/20261209000001_fleet_latest.sql):
-- the same table on both engines, so the fleet store's suite runs on both. A hub on this file
-- alone keeps it empty: only replicas on PostgreSQL share their hosts' latest state.
CREATE TABLE fleet_latest (
    host         TEXT    PRIMARY KEY REFERENCES fleet_hosts (host) ON DELETE CASCADE,
    collected_ms INTEGER NOT NULL,
    stored_ms    INTEGER NOT NULL,
    writer       TEXT    NOT NULL,
    state        TEXT    NOT NULL
);
CREATE INDEX fleet_latest_stored ON fleet_latest (stored_ms);
