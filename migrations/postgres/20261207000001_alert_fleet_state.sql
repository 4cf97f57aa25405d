-- The fleet's alerts shared by hub replicas (issue 17). One replica at a time judges the fleet's
-- rules (the "fleet alerts" lease) and writes the instances it tracks here after each round that
-- changed them; the others show these rows, and a replica that takes the lease over adopts them
-- (same spell, same acknowledgement, no second "firing" notice).
CREATE TABLE alert_fleet_active (
    key        TEXT PRIMARY KEY,  -- rule{label="value",...}
    body       TEXT NOT NULL,     -- JSON: the alert as shown, and the last notice sent
    node       TEXT NOT NULL,     -- the replica that judges it
    updated_ms BIGINT NOT NULL
);

-- Acknowledgements asked on a replica that does not judge the alert: the judging replica takes
-- them (and deletes them) on its next round.
CREATE TABLE alert_fleet_acks (
    id      BIGSERIAL PRIMARY KEY,
    key     TEXT NOT NULL,
    by_user TEXT NOT NULL,
    at_ms   BIGINT NOT NULL
);
