-- Fleet: the health sweep's changes per host and groups of hosts.
--
-- The sweep checks every host with an address each round; only changes of a host's health are
-- stored (the latest checks stay in memory), so the table grows with incidents, not with
-- rounds. It is trimmed to the newest rows per host by the sweep.
CREATE TABLE fleet_health_changes (
    host       TEXT    NOT NULL REFERENCES fleet_hosts (host) ON DELETE CASCADE,
    at_ms      INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    latency_ms INTEGER,
    reason     TEXT    NOT NULL
);
CREATE INDEX fleet_health_changes_host ON fleet_health_changes (host, at_ms);

-- A host is in at most one group; renaming a group carries its hosts, deleting it leaves
-- them ungrouped.
CREATE TABLE fleet_groups (
    name       TEXT    PRIMARY KEY,
    created_ms INTEGER NOT NULL
);
ALTER TABLE fleet_hosts ADD COLUMN group_name TEXT
    REFERENCES fleet_groups (name) ON UPDATE CASCADE ON DELETE SET NULL;
CREATE INDEX fleet_hosts_group ON fleet_hosts (group_name);
