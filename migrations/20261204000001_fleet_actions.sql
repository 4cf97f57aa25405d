-- Fleet actions: what admins asked of hosts' agents (restart the unhealthy containers), how
-- far each got, and what the agent reported. One row per host and confirmation; the rows of
-- one confirmation share its batch. Trimmed to the newest rows per host when one is added.
CREATE TABLE fleet_actions (
    id           TEXT    PRIMARY KEY,
    batch        TEXT    NOT NULL,
    host         TEXT    NOT NULL REFERENCES fleet_hosts (host) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    -- JSON array of container names, fixed when the admin confirmed.
    containers   TEXT    NOT NULL,
    requested_by TEXT    NOT NULL,
    requested_ms INTEGER NOT NULL,
    state        TEXT    NOT NULL,
    delivered_ms INTEGER,
    updated_ms   INTEGER NOT NULL,
    finished_ms  INTEGER,
    -- JSON array of per-container results, as the agent reported them.
    results      TEXT    NOT NULL DEFAULT '[]',
    message      TEXT
);
CREATE INDEX fleet_actions_host ON fleet_actions (host, requested_ms);
CREATE INDEX fleet_actions_batch ON fleet_actions (batch);
