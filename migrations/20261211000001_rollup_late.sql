-- Minutes whose raw samples arrived after the minute level had passed them (an agent's
-- buffer replayed after a network cut or a hub restart). Noted in the same transaction as
-- the samples; the next rollup recomputes each minute from its raw samples, then the hour and
-- the day above it, and deletes the note (server/src/store/history/store.rs, `redo_late_on`).
-- Keyed by minute first: the rollup takes the oldest notes in batches.
CREATE TABLE rollup_late (
    minute    INTEGER NOT NULL,
    series_id INTEGER NOT NULL REFERENCES series(id),
    PRIMARY KEY (minute, series_id)
) WITHOUT ROWID;
