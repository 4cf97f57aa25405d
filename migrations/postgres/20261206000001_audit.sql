-- The audit log, shared by every hub replica: any replica shows what was done on any of them.
-- Same columns as the SQLite table; `node` names the replica (host name) that wrote the row.
-- Container events stay in each machine's SQLite file: they describe that machine's containers.

CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    ts_ms   BIGINT    NOT NULL,
    node    TEXT      NOT NULL DEFAULT '',
    actor   TEXT      NOT NULL,
    action  TEXT      NOT NULL,
    target  TEXT      NOT NULL,
    result  TEXT      NOT NULL,
    detail  TEXT
);
CREATE INDEX audit_log_ts ON audit_log (ts_ms);
CREATE INDEX audit_log_target ON audit_log (target, ts_ms);
