-- Each model load Steward made: the pre-load estimate and the memory measured after it, so the
-- estimate's error per backend is learned across restarts (issue 13).
CREATE TABLE model_loads (
    id              INTEGER PRIMARY KEY,
    ts_ms           INTEGER NOT NULL,
    backend         TEXT NOT NULL,
    model           TEXT NOT NULL,
    context         INTEGER,
    estimated_bytes INTEGER NOT NULL,
    measured_bytes  INTEGER NOT NULL,
    actor           TEXT NOT NULL
);
CREATE INDEX model_loads_backend ON model_loads (backend, ts_ms);
