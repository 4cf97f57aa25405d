-- Minutes whose raw samples arrived after the minute level had passed them (an agent's
-- buffer replayed after a network cut or a hub restart). Noted in the same transaction as
-- the samples; the next rollup recomputes each minute from its raw samples, then the hour and
-- the day above it, and deletes the note (server/src/store/history/store.rs, `redo_late_on`).
CREATE TABLE rollup_late (
    series_id INTEGER NOT NULL REFERENCES series(id),
    minute    INTEGER NOT NULL,
    PRIMARY KEY (series_id, minute)
) WITHOUT ROWID;
