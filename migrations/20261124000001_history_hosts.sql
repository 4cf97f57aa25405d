-- History becomes host-aware: each series belongs to a host ('local' is the machine Steward
-- runs on). SQLite cannot change a UNIQUE constraint in place, so `series` is rebuilt as its
-- documented procedure says (https://www.sqlite.org/lang_altertable.html, "other kinds of
-- table schema changes"): copy, drop, rename. Steward applies migrations on a connection with
-- foreign keys off and runs `PRAGMA foreign_key_check` after them (HistoryStore::open).
-- Series ids do not change, so every sample and rollup row keeps pointing at its series.
CREATE TABLE series_new (
    id   INTEGER PRIMARY KEY,
    host TEXT NOT NULL DEFAULT 'local',
    name TEXT NOT NULL,
    UNIQUE (host, name)
);
INSERT INTO series_new (id, host, name) SELECT id, 'local', name FROM series;
DROP TABLE series;
ALTER TABLE series_new RENAME TO series;
