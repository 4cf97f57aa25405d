-- Finished days of 1-minute rollups, packed: one block per series and UTC day (`day` is the
-- day's start in ms), the columns compressed (server/src/store/history/block.rs). A day moves
-- here from rollup_1m in one transaction once its hours are rolled up; reads of the minute
-- level take both tables. The `day` index serves retention and the history's start.
CREATE TABLE rollup_1m_blocks (
    series_id INTEGER NOT NULL REFERENCES series(id),
    day       INTEGER NOT NULL,
    data      BLOB    NOT NULL,
    PRIMARY KEY (series_id, day)
) WITHOUT ROWID;
CREATE INDEX rollup_1m_blocks_day ON rollup_1m_blocks(day);
