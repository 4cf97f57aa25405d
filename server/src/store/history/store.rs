//! The SQLite history store (sqlx, WAL mode). One writer task calls the mutating methods; pages
//! and APIs only read.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use app::shared::clock::now_ms;
use app::shared::range::{parse_range, RangeError, Resolution};
use app::vitals::{History, HistoryPoint};
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::SqlitePool;

use super::block::{self, BlockError, MinuteRow, DAY_MS};
use super::rollup::{self, LEVELS};
use crate::config::HistoryConfig;
use crate::platform::bus::{local_host, HostId, LOCAL_HOST};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unknown metric {0:?}; GET /api/v1/vitals lists the metric names")]
    UnknownMetric(String),
    #[error(transparent)]
    Range(#[from] RangeError),
    #[error(
        "{0} exists but is empty (0 bytes): it held Steward's users and history, and starting \
         over it would lose them without a word. Restore it from a backup (README: Backup and \
         restore), or delete it to start fresh"
    )]
    EmptyFile(std::path::PathBuf),
    #[error(
        "the database file is damaged ({0}). Stop Steward, restore steward.db from a backup \
         (README: Backup and restore) or salvage it with `sqlite3 steward.db .recover`"
    )]
    Damaged(String),
    #[error("{0} exists already; choose a new file for the backup")]
    BackupExists(std::path::PathBuf),
    #[error("a packed day of minutes is unreadable: {0}")]
    Block(#[from] BlockError),
}

/// One value of one series at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub series: String,
    pub ts_ms: i64,
    pub value: f64,
}

pub struct HistoryStore {
    pool: SqlitePool,
    /// (host, series name) → id, so writes do not look names up every time.
    ids: Mutex<HashMap<(HostId, String), i64>>,
    /// When this database started keeping history (see [`history_started`]).
    started_ms: i64,
    /// Where packing finished days of minutes stopped: (day, last series id done).
    packing: Mutex<Option<(i64, i64)>>,
}

/// Series packed per transaction: a day of 256 series is ~370k minutes, read, packed and
/// deleted in well under a second, so the writer's other work never waits long.
const PACK_CHUNK: usize = 256;
/// Late minutes (series × minute) one rollup recomputes, oldest first; the rest wait for the
/// next round, so a fleet's replay never holds the write lock for long.
const LATE_PER_ROUND: i64 = 50_000;
/// A round's late minutes: every note up to the round's last (minute, series), bound as ?1, ?2.
const LATE_BATCH: &str =
    "SELECT series_id, minute FROM rollup_late WHERE (minute, series_id) <= (?1, ?2)";

/// When the database started keeping history: the earlier of the time recorded on its first
/// open and its oldest stored point (history can be imported or seeded before a first start;
/// rollup buckets round down). The tables' time indexes make the minimums cheap.
async fn history_started(pool: &SqlitePool) -> Result<i64, HistoryError> {
    let recorded: Option<i64> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'history_started_ms'")
            .fetch_optional(pool)
            .await?;
    let oldest: Option<i64> = match sqlx::query_scalar(
        "SELECT MIN(m) FROM (
            SELECT MIN(ts) AS m FROM samples_raw
            UNION ALL SELECT MIN(bucket) FROM rollup_1m
            UNION ALL SELECT MIN(day) FROM rollup_1m_blocks
            UNION ALL SELECT MIN(bucket) FROM rollup_1h
            UNION ALL SELECT MIN(bucket) FROM rollup_1d)",
    )
    .fetch_one(pool)
    .await
    {
        Ok(ms) => ms,
        // A damaged table is the integrity check's to report; this only dates the history.
        Err(e) => {
            tracing::warn!("history: could not date the oldest sample: {e}");
            None
        }
    };
    let started = [recorded, oldest]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or_else(now_ms);
    if recorded.is_none() {
        sqlx::query("INSERT OR IGNORE INTO meta (key, value) VALUES ('history_started_ms', ?)")
            .bind(started)
            .execute(pool)
            .await?;
    }
    Ok(started)
}

/// How many migrations the file has had applied.
async fn applied_migrations(conn: &mut sqlx::SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(conn)
        .await
}

/// Applies the migrations on a connection of its own with foreign keys off: SQLite's way to
/// change a table's constraints (copy, drop, rename) needs them off, and they can only be
/// turned off outside a transaction, which sqlx opens around each migration. Afterwards every
/// reference is checked, so a migration can never leave a dangling row behind silently.
async fn migrate(options: SqliteConnectOptions) -> Result<(), HistoryError> {
    let mut conn = sqlx::ConnectOptions::connect(&options.foreign_keys(false)).await?;
    // Absent on a new file: nothing applied yet.
    let before = applied_migrations(&mut conn).await.unwrap_or(0);
    sqlx::migrate!("../migrations").run(&mut conn).await?;
    // Only after a migration ran: the check reads every table, and damage elsewhere is the
    // history writer's integrity check's to report, not a reason to refuse to start.
    let dangling = if applied_migrations(&mut conn).await? != before {
        sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut conn)
            .await?
    } else {
        Vec::new()
    };
    sqlx::Connection::close(conn).await?;
    if !dangling.is_empty() {
        return Err(HistoryError::Damaged(format!(
            "{} rows point at missing rows after the migrations (PRAGMA foreign_key_check)",
            dangling.len()
        )));
    }
    Ok(())
}

impl HistoryStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path) -> Result<Self, HistoryError> {
        // SQLite treats a 0-byte file as a new database. A file that exists but is empty was
        // truncated (a full disk, a bad copy), so say so instead of starting over it.
        if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            return Err(HistoryError::EmptyFile(path.to_path_buf()));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| HistoryError::DataDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable against application crashes; a power cut may lose the last
            // transaction, which is at most one batch.
            .synchronous(SqliteSynchronous::Normal)
            // Freed pages return to the OS after retention deletes (set before tables exist).
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        migrate(options.clone()).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let started_ms = history_started(&pool).await?;
        Ok(Self {
            pool,
            ids: Mutex::new(HashMap::new()),
            started_ms,
            packing: Mutex::new(None),
        })
    }

    /// When this database started keeping history.
    pub fn history_started_ms(&self) -> i64 {
        self.started_ms
    }

    async fn series_id(
        &self,
        tx: &mut sqlx::SqliteConnection,
        host: &HostId,
        name: &str,
    ) -> Result<i64, HistoryError> {
        let key = (host.clone(), name.to_string());
        if let Some(id) = self.ids.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(*id);
        }
        sqlx::query("INSERT OR IGNORE INTO series(host, name) VALUES (?, ?)")
            .bind(&**host)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar("SELECT id FROM series WHERE host = ? AND name = ?")
            .bind(&**host)
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, id);
        Ok(id)
    }

    /// Writes a batch of the local host's samples in one transaction, many rows per statement.
    /// A sample at an existing time replaces it.
    pub async fn write(&self, samples: &[Sample]) -> Result<(), HistoryError> {
        self.write_hosts(&[(local_host(), samples)]).await
    }

    /// Writes batches of several hosts' samples in one transaction.
    pub async fn write_hosts(&self, batches: &[(HostId, &[Sample])]) -> Result<(), HistoryError> {
        if batches.iter().all(|(_, s)| s.is_empty()) {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        let result = self.write_on(&mut conn, batches).await;
        self.settle(conn, result)
    }

    async fn write_on(
        &self,
        conn: &mut sqlx::SqliteConnection,
        batches: &[(HostId, &[Sample])],
    ) -> Result<(), HistoryError> {
        // 3 parameters a row; 300 rows stay under SQLite's oldest parameter limit (999).
        const ROWS_PER_STATEMENT: usize = 300;
        let mut tx = sqlx::Connection::begin(conn).await?;
        let total: usize = batches.iter().map(|(_, s)| s.len()).sum();
        let mut ids = Vec::with_capacity(total);
        let mut samples: Vec<&Sample> = Vec::with_capacity(total);
        for (host, batch) in batches {
            for s in batch.iter() {
                ids.push(self.series_id(&mut tx, host, &s.series).await?);
                samples.push(s);
            }
        }
        for (chunk, chunk_ids) in samples
            .chunks(ROWS_PER_STATEMENT)
            .zip(ids.chunks(ROWS_PER_STATEMENT))
        {
            let mut sql =
                String::from("INSERT OR REPLACE INTO samples_raw(series_id, ts, value) VALUES ");
            sql.push_str(&vec!["(?, ?, ?)"; chunk.len()].join(", "));
            let mut query = sqlx::query(&sql);
            for (s, id) in chunk.iter().zip(chunk_ids) {
                query = query.bind(*id).bind(s.ts_ms).bind(s.value);
            }
            query.execute(&mut *tx).await?;
        }
        // Read after the inserts, which took the write lock: the watermark cannot move before
        // this transaction commits, so no sample falls between "late" and "rolled up later".
        let minutes_done: Option<i64> =
            sqlx::query_scalar("SELECT done_until FROM rollup_state WHERE level = '1m'")
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(done) = minutes_done {
            let late = rollup::late_minutes(
                ids.iter().copied().zip(samples.iter().map(|s| s.ts_ms)),
                done,
            );
            // 2 parameters a row.
            for chunk in late.chunks(400) {
                let mut sql =
                    String::from("INSERT OR IGNORE INTO rollup_late(series_id, minute) VALUES ");
                sql.push_str(&vec!["(?, ?)"; chunk.len()].join(", "));
                let mut query = sqlx::query(&sql);
                for (id, minute) in chunk {
                    query = query.bind(id).bind(minute);
                }
                query.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Computes every rollup level incrementally, for buckets completed since the last call.
    /// `raw_complete_until` is the time before which no more raw samples will arrive.
    /// Returns the number of rollup rows written.
    pub async fn rollup(&self, raw_complete_until: i64) -> Result<u64, HistoryError> {
        let mut conn = self.pool.acquire().await?;
        let result = Self::rollup_on(&mut conn, raw_complete_until).await;
        self.settle(conn, result)
    }

    async fn rollup_on(
        conn: &mut sqlx::SqliteConnection,
        raw_complete_until: i64,
    ) -> Result<u64, HistoryError> {
        let mut written = 0;
        let mut source_until = raw_complete_until;
        // IMMEDIATE: the rollup reads its watermarks before it writes, and in WAL mode a
        // transaction that read first cannot take the write lock once another writer (the
        // fleet's ingest) committed meanwhile (SQLITE_BUSY_SNAPSHOT, no busy-timeout wait).
        let mut tx = sqlx::Connection::begin_with(conn, "BEGIN IMMEDIATE").await?;
        for level in LEVELS {
            let done: Option<i64> =
                sqlx::query_scalar("SELECT done_until FROM rollup_state WHERE level = ?")
                    .bind(level.name)
                    .fetch_optional(&mut *tx)
                    .await?;
            let done = match done {
                Some(d) => d,
                None => {
                    // First run: start at the oldest source data.
                    let time_col = if level.source_is_raw { "ts" } else { "bucket" };
                    let first: Option<i64> = sqlx::query_scalar(&format!(
                        "SELECT min({time_col}) FROM {}",
                        level.source
                    ))
                    .fetch_one(&mut *tx)
                    .await?;
                    match first {
                        Some(t) => rollup::bucket_start(t, level.width_ms),
                        None => break,
                    }
                }
            };
            let Some((from, to)) = rollup::next_window(done, source_until, level.width_ms) else {
                source_until = done;
                continue;
            };
            let sql = if level.source_is_raw {
                format!(
                    "INSERT OR REPLACE INTO {table} (series_id, bucket, avg, min, max, count)
                     SELECT series_id, (ts / {w}) * {w} AS b, avg(value), min(value), max(value), count(*)
                     FROM {source} WHERE ts >= ?1 AND ts < ?2 GROUP BY series_id, b",
                    table = level.table,
                    source = level.source,
                    w = level.width_ms
                )
            } else {
                format!(
                    "INSERT OR REPLACE INTO {table} (series_id, bucket, avg, min, max, count)
                     SELECT series_id, (bucket / {w}) * {w} AS b, sum(avg * count) / sum(count),
                            min(min), max(max), sum(count)
                     FROM {source} WHERE bucket >= ?1 AND bucket < ?2 GROUP BY series_id, b",
                    table = level.table,
                    source = level.source,
                    w = level.width_ms
                )
            };
            written += sqlx::query(&sql)
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("INSERT OR REPLACE INTO rollup_state(level, done_until) VALUES (?, ?)")
                .bind(level.name)
                .bind(to)
                .execute(&mut *tx)
                .await?;
            source_until = to;
        }
        written += Self::redo_late_on(&mut tx).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Recomputes the minutes whose raw samples arrived after the minute level had passed them
    /// (`rollup_late`, noted by the write), the oldest [`LATE_PER_ROUND`] a round, then the
    /// hours and days above them that are already computed. Each level is one statement over
    /// the whole batch, so a fleet's replay after a hub outage (27 notes per heartbeat) costs
    /// SQLite's row work, not a statement per note. A minute is read from its raw samples (all
    /// of them: `fleet.max_age_secs` may not exceed the raw retention); an hour from its minute
    /// rows, or, where the day is packed already, from rows and block merged (rows winning:
    /// a late minute of a packed day is a row until the packing merges it); a day from its
    /// hours. Returns the number of rows written.
    async fn redo_late_on(tx: &mut sqlx::SqliteConnection) -> Result<u64, HistoryError> {
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM rollup_late)")
            .fetch_one(&mut *tx)
            .await?;
        if !any {
            return Ok(0);
        }
        // The batch: every note up to the LATE_PER_ROUND-th in (minute, series) order.
        let last: Option<(i64, i64)> = sqlx::query_as(
            "SELECT minute, series_id FROM rollup_late ORDER BY minute, series_id \
             LIMIT 1 OFFSET ?",
        )
        .bind(LATE_PER_ROUND - 1)
        .fetch_optional(&mut *tx)
        .await?;
        let (last_minute, last_series) = last.unwrap_or((i64::MAX, i64::MAX));
        let done = |level: &'static str| {
            sqlx::query_scalar::<_, i64>("SELECT done_until FROM rollup_state WHERE level = ?")
                .bind(level)
        };
        let hours_done = done("1h").fetch_optional(&mut *tx).await?;
        let days_done = done("1d").fetch_optional(&mut *tx).await?;
        let mut written = sqlx::query(&format!(
            "INSERT OR REPLACE INTO rollup_1m (series_id, bucket, avg, min, max, count) \
             SELECT l.series_id, l.minute, avg(s.value), min(s.value), max(s.value), count(*) \
             FROM ({LATE_BATCH}) l JOIN samples_raw s ON s.series_id = l.series_id \
             AND s.ts >= l.minute AND s.ts < l.minute + {m} GROUP BY l.series_id, l.minute",
            m = rollup::MINUTE_MS
        ))
        .bind(last_minute)
        .bind(last_series)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // The batch's hours (and days) that their level has computed (start before its
        // watermark; the watermarks are bucket-aligned, so comparing the minute is enough).
        let last = (last_minute, last_series);
        let packed = format!(
            "EXISTS (SELECT 1 FROM rollup_1m_blocks b WHERE b.series_id = h.series_id \
             AND b.day = (h.bucket / {DAY_MS}) * {DAY_MS})"
        );
        if let Some(hours_done) = hours_done {
            let not_packed = format!("NOT {packed}");
            written += Self::redo_level_on(tx, &LEVELS[1], last, hours_done, &not_packed).await?;
            // Hours of packed days: rare (a replay reaching back past a UTC midnight).
            let in_packed_days: Vec<(i64, i64)> = sqlx::query_as(&format!(
                "SELECT h.series_id, h.bucket FROM (SELECT DISTINCT series_id, \
                 (minute / {w}) * {w} AS bucket FROM ({LATE_BATCH}) WHERE minute < ?3) h \
                 WHERE {packed}",
                w = rollup::HOUR_MS
            ))
            .bind(last_minute)
            .bind(last_series)
            .bind(hours_done)
            .fetch_all(&mut *tx)
            .await?;
            for (id, hour) in in_packed_days {
                let minutes = Self::minutes_on(tx, id, hour, hour + rollup::HOUR_MS).await?;
                let Some(r) = rollup::combine(hour, &minutes) else {
                    continue;
                };
                written += sqlx::query(
                    "INSERT OR REPLACE INTO rollup_1h (series_id, bucket, avg, min, max, count) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(id)
                .bind(hour)
                .bind(r.avg)
                .bind(r.min)
                .bind(r.max)
                .bind(r.count)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
        }
        if let Some(days_done) = days_done {
            written += Self::redo_level_on(tx, &LEVELS[2], last, days_done, "1").await?;
        }
        let redone = sqlx::query("DELETE FROM rollup_late WHERE (minute, series_id) <= (?1, ?2)")
            .bind(last_minute)
            .bind(last_series)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tracing::info!("history: {redone} late minutes rolled up again (a replayed buffer)");
        Ok(written)
    }

    /// Recomputes `level`'s buckets (hours or days) that hold the late minutes up to `last`
    /// (minute, series) and that the level has computed (start before `done`), from its source
    /// rows, count-weighted as the incremental rollup is; `filter` narrows the buckets (`h`).
    async fn redo_level_on(
        tx: &mut sqlx::SqliteConnection,
        level: &rollup::Level,
        last: (i64, i64),
        done: i64,
        filter: &str,
    ) -> Result<u64, HistoryError> {
        let sql = format!(
            "INSERT OR REPLACE INTO {table} (series_id, bucket, avg, min, max, count) \
             SELECT h.series_id, h.bucket, sum(m.avg * m.count) / sum(m.count), min(m.min), \
             max(m.max), sum(m.count) \
             FROM (SELECT DISTINCT series_id, (minute / {w}) * {w} AS bucket \
                   FROM ({LATE_BATCH}) WHERE minute < ?3) h \
             JOIN {source} m ON m.series_id = h.series_id \
             AND m.bucket >= h.bucket AND m.bucket < h.bucket + {w} \
             WHERE {filter} GROUP BY h.series_id, h.bucket",
            table = level.table,
            source = level.source,
            w = level.width_ms
        );
        Ok(sqlx::query(&sql)
            .bind(last.0)
            .bind(last.1)
            .bind(done)
            .execute(&mut *tx)
            .await?
            .rows_affected())
    }

    /// The minutes of series `id` in `from..to`, rows and packed blocks merged (rows win).
    async fn minutes_on(
        tx: &mut sqlx::SqliteConnection,
        id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<MinuteRow>, HistoryError> {
        let rows: Vec<(i64, f64, f64, f64, i64)> = sqlx::query_as(
            "SELECT bucket, avg, min, max, count FROM rollup_1m \
             WHERE series_id = ? AND bucket >= ? AND bucket < ?",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        let mut minutes: Vec<MinuteRow> = rows
            .into_iter()
            .map(|(bucket, avg, min, max, count)| MinuteRow {
                bucket,
                avg,
                min,
                max,
                count,
            })
            .collect();
        let blocks: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT day, data FROM rollup_1m_blocks WHERE series_id = ? AND day >= ? AND day < ?",
        )
        .bind(id)
        .bind(block::day_of(from))
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        let fresh: std::collections::BTreeSet<i64> = minutes.iter().map(|m| m.bucket).collect();
        for (day, data) in blocks {
            minutes.extend(
                block::decode(day, &data)?
                    .into_iter()
                    .filter(|m| (from..to).contains(&m.bucket) && !fresh.contains(&m.bucket)),
            );
        }
        Ok(minutes)
    }

    /// Packs finished days of 1-minute rollups into one compressed block per series and day
    /// ([`block`]), at most `budget` series per call, resuming where the last call stopped. A
    /// day is finished once its hours are rolled up (the hour level reads minutes) and it
    /// ended over an hour ago (the fleet cards' lines read the last half hour of minutes as
    /// rows). Returns the number of blocks written.
    pub async fn pack_minutes(&self, now_ms: i64, budget: usize) -> Result<u64, HistoryError> {
        let hours_done: Option<i64> =
            sqlx::query_scalar("SELECT done_until FROM rollup_state WHERE level = '1h'")
                .fetch_optional(&self.pool)
                .await?;
        let Some(hours_done) = hours_done else {
            return Ok(0);
        };
        let finished_before = hours_done.min(now_ms - 3_600_000);
        let mut left = budget;
        let mut written = 0;
        let mut cursor = *self.packing.lock().unwrap_or_else(|p| p.into_inner());
        let mut finished = None;
        while left > 0 {
            let (day, after) = match cursor {
                Some(c) => c,
                None => {
                    let first: Option<i64> =
                        sqlx::query_scalar("SELECT MIN(bucket) FROM rollup_1m")
                            .fetch_one(&self.pool)
                            .await?;
                    match first.map(block::day_of) {
                        // A day just walked whose minutes are still there waits for a later
                        // call, rather than being walked again in this one.
                        Some(day) if day + DAY_MS <= finished_before && Some(day) != finished => {
                            (day, i64::MIN)
                        }
                        _ => break,
                    }
                }
            };
            let ids: Vec<i64> =
                sqlx::query_scalar("SELECT id FROM series WHERE id > ? ORDER BY id LIMIT ?")
                    .bind(after)
                    .bind(left.min(PACK_CHUNK) as i64)
                    .fetch_all(&self.pool)
                    .await?;
            let Some(&last) = ids.last() else {
                // Every series of this day is packed: on to the next day.
                finished = Some(day);
                cursor = None;
                *self.packing.lock().unwrap_or_else(|p| p.into_inner()) = None;
                continue;
            };
            written += self.pack_day(day, &ids).await?;
            left -= ids.len();
            cursor = Some((day, last));
            *self.packing.lock().unwrap_or_else(|p| p.into_inner()) = cursor;
        }
        Ok(written)
    }

    /// Packs the minutes of `day` of the series `ids` into their blocks. A block already there
    /// (minutes packed before) is merged with the rows, rows winning. The rows are read and
    /// packed outside the write transaction: a finished day changes only through this writer,
    /// and a transaction that read first could not take the write lock once another writer
    /// (the fleet's ingest) committed meanwhile (SQLITE_BUSY_SNAPSHOT, no waiting in WAL mode).
    async fn pack_day(&self, day: i64, ids: &[i64]) -> Result<u64, HistoryError> {
        let marks = vec!["?"; ids.len()].join(", ");
        let select = format!(
            "SELECT series_id, bucket, avg, min, max, count FROM rollup_1m \
             WHERE series_id IN ({marks}) AND bucket >= ? AND bucket < ? ORDER BY series_id, bucket"
        );
        let mut query = sqlx::query_as::<_, (i64, i64, f64, f64, f64, i64)>(&select);
        for id in ids {
            query = query.bind(id);
        }
        let rows = query
            .bind(day)
            .bind(day + DAY_MS)
            .fetch_all(&self.pool)
            .await?;
        let mut per_series: std::collections::BTreeMap<i64, Vec<MinuteRow>> = Default::default();
        for (id, bucket, avg, min, max, count) in rows {
            per_series.entry(id).or_default().push(MinuteRow {
                bucket,
                avg,
                min,
                max,
                count,
            });
        }
        let olds = format!(
            "SELECT series_id, data FROM rollup_1m_blocks WHERE series_id IN ({marks}) AND day = ?"
        );
        let mut query = sqlx::query_as::<_, (i64, Vec<u8>)>(&olds);
        for id in ids {
            query = query.bind(id);
        }
        for (id, old) in query.bind(day).fetch_all(&self.pool).await? {
            if let Some(minutes) = per_series.get_mut(&id) {
                let fresh: std::collections::BTreeSet<i64> =
                    minutes.iter().map(|m| m.bucket).collect();
                minutes.extend(
                    block::decode(day, &old)?
                        .into_iter()
                        .filter(|m| !fresh.contains(&m.bucket)),
                );
            }
        }
        let mut blocks = Vec::with_capacity(per_series.len());
        for (id, minutes) in &per_series {
            blocks.push((*id, block::encode(day, minutes)?));
        }
        let mut conn = self.pool.acquire().await?;
        let result = Self::store_blocks_on(&mut conn, day, ids, &blocks).await;
        self.settle(conn, result)
    }

    /// Writes `blocks` and deletes the day's rows of `ids`, in one transaction that only writes
    /// (so it waits for the write lock like every other writer).
    async fn store_blocks_on(
        conn: &mut sqlx::SqliteConnection,
        day: i64,
        ids: &[i64],
        blocks: &[(i64, Vec<u8>)],
    ) -> Result<u64, HistoryError> {
        let marks = vec!["?"; ids.len()].join(", ");
        let mut tx = sqlx::Connection::begin(conn).await?;
        let delete = format!(
            "DELETE FROM rollup_1m WHERE series_id IN ({marks}) AND bucket >= ? AND bucket < ?"
        );
        let mut query = sqlx::query(&delete);
        for id in ids {
            query = query.bind(id);
        }
        query.bind(day).bind(day + DAY_MS).execute(&mut *tx).await?;
        for (id, data) in blocks {
            sqlx::query(
                "INSERT OR REPLACE INTO rollup_1m_blocks (series_id, day, data) VALUES (?, ?, ?)",
            )
            .bind(id)
            .bind(day)
            .bind(data)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(blocks.len() as u64)
    }

    /// Ends a write: after a failure the connection is closed, never reused. A transaction that
    /// failed (most often on a full disk) can leave the connection's transaction state unknown,
    /// still holding the write lock, and every other writer (sign-ins too) then got "database
    /// is locked" long after space returned. The pool opens a fresh connection instead. Series
    /// ids learnt inside the failed transaction are forgotten, since it was rolled back.
    fn settle<T>(
        &self,
        mut conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
        result: Result<T, HistoryError>,
    ) -> Result<T, HistoryError> {
        if result.is_err() {
            self.ids.lock().unwrap_or_else(|p| p.into_inner()).clear();
            conn.close_on_drop();
        }
        drop(conn);
        result
    }

    /// `PRAGMA quick_check`: `Err(Damaged)` with SQLite's first findings when the file is
    /// damaged. Reads the whole file, so it runs in the history task, never at a request.
    pub async fn quick_check(&self) -> Result<(), HistoryError> {
        let findings: Vec<String> = sqlx::query_scalar("PRAGMA quick_check(5)")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| HistoryError::Damaged(e.to_string()))?;
        match findings.as_slice() {
            [ok] if ok == "ok" => Ok(()),
            _ => Err(HistoryError::Damaged(findings.join("; "))),
        }
    }

    /// Writes an online, consistent copy of the whole database to `dest` (`VACUUM INTO`):
    /// Steward may keep running and writing meanwhile.
    pub async fn backup(&self, dest: &Path) -> Result<(), HistoryError> {
        if dest.exists() {
            return Err(HistoryError::BackupExists(dest.to_path_buf()));
        }
        sqlx::query("VACUUM INTO ?")
            .bind(dest.to_string_lossy().to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes rows past their retention and returns freed pages to the OS.
    /// Returns the number of rows deleted.
    pub async fn enforce_retention(
        &self,
        config: &HistoryConfig,
        now_ms: i64,
    ) -> Result<u64, HistoryError> {
        let mut deleted = 0;
        for (table, cutoff) in rollup::retention_cutoffs(config, now_ms) {
            let Some(cutoff) = cutoff else { continue };
            let col = if table == "samples_raw" {
                "ts"
            } else {
                "bucket"
            };
            deleted += sqlx::query(&format!("DELETE FROM {table} WHERE {col} < ?"))
                .bind(cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected();
            if table == "rollup_1m" {
                // A packed day goes once all of it is past the cutoff.
                deleted += sqlx::query("DELETE FROM rollup_1m_blocks WHERE day <= ?")
                    .bind(cutoff - DAY_MS)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
            }
        }
        if deleted > 0 {
            sqlx::query("PRAGMA incremental_vacuum")
                .execute(&self.pool)
                .await?;
        }
        // Keeps the WAL file from growing between automatic checkpoints.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(deleted)
    }

    /// A series over `range` ending now, at the resolution the range calls for.
    pub async fn query(
        &self,
        metric: &str,
        range: &str,
        now_ms: i64,
    ) -> Result<History, HistoryError> {
        let secs = parse_range(range)?;
        let resolution = Resolution::for_range(secs);
        let from = now_ms - (secs as i64) * 1000;
        let points = self
            .query_between(metric, resolution, from, i64::MAX)
            .await?;
        Ok(History {
            metric: metric.to_string(),
            range: range.trim().to_string(),
            resolution,
            points,
        })
    }

    /// The points of one of the local host's series at `resolution` whose time (bucket start)
    /// lies in `from_ms..=to_ms`, oldest first.
    pub async fn query_between(
        &self,
        metric: &str,
        resolution: Resolution,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<HistoryPoint>, HistoryError> {
        self.query_host_between(LOCAL_HOST, metric, resolution, from_ms, to_ms)
            .await
    }

    /// The points of one series of `host`, as [`HistoryStore::query_between`].
    pub async fn query_host_between(
        &self,
        host: &str,
        metric: &str,
        resolution: Resolution,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<HistoryPoint>, HistoryError> {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM series WHERE host = ? AND name = ?")
                .bind(host)
                .bind(metric)
                .fetch_optional(&self.pool)
                .await?;
        let id = id.ok_or_else(|| HistoryError::UnknownMetric(metric.to_string()))?;
        let rows: Vec<(i64, f64, f64, f64)> =
            sqlx::query_as(&rollup::points_sql(resolution, |t| t))
                .bind(id)
                .bind(from_ms)
                .bind(to_ms)
                .fetch_all(&self.pool)
                .await?;
        let mut points: Vec<HistoryPoint> = rows
            .into_iter()
            .map(|(ts_ms, avg, min, max)| HistoryPoint {
                ts_ms,
                avg,
                min,
                max,
            })
            .collect();
        if resolution == Resolution::Minute {
            points.extend(self.packed_minutes(id, from_ms, to_ms).await?);
            // Packed days usually come before the rows in time, but a late minute (a replayed
            // buffer) or a restore puts a row into a packed day until the packing merges it:
            // the stable sort keeps the row first, and it wins.
            points.sort_by_key(|p| p.ts_ms);
            points.dedup_by_key(|p| p.ts_ms);
        }
        Ok(points)
    }

    /// The minutes of series `id` in `from_ms..=to_ms` that are packed in day blocks.
    async fn packed_minutes(
        &self,
        id: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<HistoryPoint>, HistoryError> {
        let blocks: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT day, data FROM rollup_1m_blocks WHERE series_id = ? AND day >= ? AND day <= ? \
             ORDER BY day",
        )
        .bind(id)
        .bind(block::day_of(from_ms))
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut points = Vec::new();
        for (day, data) in blocks {
            points.extend(
                block::decode(day, &data)?
                    .into_iter()
                    .filter(|m| (from_ms..=to_ms).contains(&m.bucket))
                    .map(|m| HistoryPoint {
                        ts_ms: m.bucket,
                        avg: m.avg,
                        min: m.min,
                        max: m.max,
                    }),
            );
        }
        Ok(points)
    }

    /// The stored series whose names start with `prefix` (e.g. every container's write rate).
    pub async fn series_with_prefix(&self, prefix: &str) -> Result<Vec<String>, HistoryError> {
        self.host_series_with_prefix(LOCAL_HOST, prefix).await
    }

    /// [`HistoryStore::series_with_prefix`] of one host (a fleet host's GPUs, say).
    pub async fn host_series_with_prefix(
        &self,
        host: &str,
        prefix: &str,
    ) -> Result<Vec<String>, HistoryError> {
        // Range on the name instead of LIKE, so `_` and `%` in names match literally.
        let end = format!("{prefix}\u{10ffff}");
        Ok(sqlx::query_scalar(
            "SELECT name FROM series WHERE host = ? AND name >= ? AND name < ? ORDER BY name",
        )
        .bind(host)
        .bind(prefix)
        .bind(end)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The per-minute means of the series named `names` of each of `hosts` since `from_ms`,
    /// as (host, series, bucket start, mean), ordered by host and bucket: the fleet cards'
    /// lines after a restart. Each (host, name) pair is one lookup of the series' unique key
    /// and one walk of its `(series_id, bucket)` key (`CROSS JOIN` keeps SQLite's planner on
    /// that order).
    pub async fn host_minutes(
        &self,
        hosts: &[String],
        names: &[String],
        from_ms: i64,
    ) -> Result<Vec<(String, String, i64, f64)>, HistoryError> {
        if hosts.is_empty() || names.is_empty() {
            return Ok(Vec::new());
        }
        let marks = |n: usize| vec!["?"; n].join(", ");
        let sql = format!(
            "SELECT s.host, s.name, r.bucket, r.avg FROM series s CROSS JOIN rollup_1m r \
             ON r.series_id = s.id AND r.bucket >= ? \
             WHERE s.host IN ({}) AND s.name IN ({}) ORDER BY s.host, r.bucket",
            marks(hosts.len()),
            marks(names.len())
        );
        let mut query = sqlx::query_as(&sql).bind(from_ms);
        for v in hosts.iter().chain(names) {
            query = query.bind(v);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// Row counts per table, for `/metrics` and tests.
    pub async fn row_counts(&self) -> Result<Vec<(&'static str, i64)>, HistoryError> {
        let mut out = Vec::new();
        for table in ["samples_raw", "rollup_1m", "rollup_1h", "rollup_1d"] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&self.pool)
                .await?;
            out.push((table, n));
        }
        Ok(out)
    }

    /// The database's size in bytes (pages in use × page size).
    pub async fn size_bytes(&self) -> Result<i64, HistoryError> {
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&self.pool)
            .await?;
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&self.pool)
            .await?;
        Ok(pages * size)
    }

    /// The connection pool, for benchmarks and tests that prepare data directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 86_400_000;

    async fn store() -> (tempfile::TempDir, HistoryStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::open(&dir.path().join("sub/steward.db"))
            .await
            .unwrap();
        (dir, store)
    }

    fn s(series: &str, ts_ms: i64, value: f64) -> Sample {
        Sample {
            series: series.into(),
            ts_ms,
            value,
        }
    }

    #[tokio::test]
    async fn rollups_are_incremental_and_exact() {
        let (_dir, st) = store().await;
        let t0 = 100 * DAY;
        // Two minutes of samples every 5 s: minute 0 has values 0..11, minute 1 has 100..111.
        let mut batch = Vec::new();
        for i in 0..12 {
            batch.push(s("x", t0 + i * 5_000, i as f64));
            batch.push(s("x", t0 + MIN + i * 5_000, 100.0 + i as f64));
        }
        st.write(&batch).await.unwrap();
        // Only minute 0 is complete.
        st.rollup(t0 + MIN + 30_000).await.unwrap();
        let rows: Vec<(i64, f64, f64, f64, i64)> =
            sqlx::query_as("SELECT bucket, avg, min, max, count FROM rollup_1m ORDER BY bucket")
                .fetch_all(&st.pool)
                .await
                .unwrap();
        assert_eq!(rows, vec![(t0, 5.5, 0.0, 11.0, 12)]);
        // Now minute 1 too; minute 0 is not recomputed from scratch but stays the same.
        st.rollup(t0 + 2 * MIN).await.unwrap();
        let rows: Vec<(i64, f64, f64, f64, i64)> =
            sqlx::query_as("SELECT bucket, avg, min, max, count FROM rollup_1m ORDER BY bucket")
                .fetch_all(&st.pool)
                .await
                .unwrap();
        assert_eq!(
            rows,
            vec![
                (t0, 5.5, 0.0, 11.0, 12),
                (t0 + MIN, 105.5, 100.0, 111.0, 12)
            ]
        );
        // Once the hour and day are complete, they are count-weighted averages of the minutes.
        st.rollup(t0 + DAY + HOUR).await.unwrap();
        let hour: (f64, f64, f64, i64) =
            sqlx::query_as("SELECT avg, min, max, count FROM rollup_1h WHERE bucket = ?")
                .bind(t0)
                .fetch_one(&st.pool)
                .await
                .unwrap();
        assert_eq!(hour, (55.5, 0.0, 111.0, 24));
        let day: (f64, i64) = sqlx::query_as("SELECT avg, count FROM rollup_1d WHERE bucket = ?")
            .bind(t0)
            .fetch_one(&st.pool)
            .await
            .unwrap();
        assert_eq!(day, (55.5, 24));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rollups_succeed_while_another_writer_commits() {
        let (_dir, st) = store().await;
        let st = std::sync::Arc::new(st);
        let t0 = 1_000 * DAY;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // The fleet's ingest: small commits back to back on its own connection.
        let writer = tokio::spawn({
            let (st, stop) = (st.clone(), stop.clone());
            async move {
                let mut k = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let host: HostId = std::sync::Arc::from("fleet-host");
                    st.write_hosts(&[(host, &[s("x", t0 + k * 1_000, 1.0)][..])])
                        .await
                        .unwrap();
                    k += 1;
                }
                k
            }
        });
        for i in 0..300 {
            st.rollup(t0 + i * 60_000).await.unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(writer.await.unwrap() > 0);
    }

    #[tokio::test]
    async fn finished_days_of_minutes_are_packed_and_read_back_unchanged() {
        let (_dir, st) = store().await;
        let day0 = 1_000 * DAY;
        // Three days of one sample every 5 minutes for two series, then 90 minutes of today.
        let mut samples = Vec::new();
        for k in 0..(3 * 288) {
            let t = day0 + k * 300_000;
            samples.push(s("x", t, (k as f64 * 0.37).sin() * 40.0 + 50.0));
            samples.push(s("y", t, 8e9));
        }
        for k in 0..18 {
            samples.push(s("x", day0 + 3 * DAY + k * 300_000, 1.0));
        }
        st.write(&samples).await.unwrap();
        let now = day0 + 3 * DAY + 90 * 60_000;
        st.rollup(now).await.unwrap();
        let before = st
            .query_between("x", Resolution::Minute, day0, now)
            .await
            .unwrap();
        assert_eq!(before.len(), 3 * 288 + 18);

        // A budget of one series per call: the cursor walks series, then days. The last
        // finished day (day 2) ended 90 minutes ago, so it is packed too; today is not.
        let mut blocks = 0;
        for _ in 0..10 {
            blocks += st.pack_minutes(now, 1).await.unwrap();
        }
        assert_eq!(blocks, 6, "3 days × 2 series");
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM rollup_1m")
            .fetch_one(st.pool())
            .await
            .unwrap();
        assert_eq!(rows, 18, "only today's minutes stay rows");
        let after = st
            .query_between("x", Resolution::Minute, day0, now)
            .await
            .unwrap();
        assert_eq!(after, before);
        // A window inside a packed day, and one across the packed and the row minutes.
        let inside = st
            .query_between("x", Resolution::Minute, day0 + HOUR, day0 + 2 * HOUR)
            .await
            .unwrap();
        assert_eq!(inside.len(), 13);
        assert!(inside
            .iter()
            .all(|p| (day0 + HOUR..=day0 + 2 * HOUR).contains(&p.ts_ms)));
        let across = st
            .query_between("x", Resolution::Minute, day0 + 3 * DAY - HOUR, now)
            .await
            .unwrap();
        assert_eq!(across.len(), 12 + 18);
        // Packing again finds nothing; the hours computed before are untouched.
        assert_eq!(st.pack_minutes(now, 100).await.unwrap(), 0);
        let hours = st
            .query_between("x", Resolution::Hour, day0, now)
            .await
            .unwrap();
        assert_eq!(hours.len(), 3 * 24 + 1);
        // A minute of a packed day that turns up as a row (restored, say) joins its block.
        sqlx::query("INSERT INTO rollup_1m VALUES (1, ?, 7.0, 7.0, 7.0, 1)")
            .bind(day0 + 60_000)
            .execute(st.pool())
            .await
            .unwrap();
        assert_eq!(st.pack_minutes(now, 100).await.unwrap(), 1);
        let merged = st
            .query_between("x", Resolution::Minute, day0, day0 + DAY - 1)
            .await
            .unwrap();
        assert_eq!(merged.len(), 289);
        assert_eq!((merged[1].ts_ms, merged[1].avg), (day0 + 60_000, 7.0));

        // Retention: a packed day goes once all of it is past the minute level's 30 days.
        let config = HistoryConfig::default();
        st.enforce_retention(&config, day0 + 31 * DAY + HOUR)
            .await
            .unwrap();
        let days: Vec<i64> =
            sqlx::query_scalar("SELECT DISTINCT day FROM rollup_1m_blocks ORDER BY day")
                .fetch_all(st.pool())
                .await
                .unwrap();
        assert_eq!(days, vec![day0 + DAY, day0 + 2 * DAY]);
    }

    #[tokio::test]
    async fn late_samples_are_rolled_up_into_every_level_they_missed() {
        let (_dir, st) = store().await;
        let day0 = 1_000 * DAY;
        let rows = |table: &'static str| {
            sqlx::query_as::<_, (i64, f64, f64, f64, i64)>(
                "SELECT bucket, avg, min, max, count FROM {} WHERE bucket < ? ORDER BY bucket"
                    .replace("{}", table)
                    .leak(),
            )
            .bind(day0 + DAY)
        };
        // Minute 0 of day 0 (12 samples of 10), and a sample the next day; every level of
        // day 0 is rolled up and its minutes are packed.
        let mut first: Vec<Sample> = (0..12).map(|i| s("x", day0 + i * 5_000, 10.0)).collect();
        first.push(s("x", day0 + DAY + HOUR, 0.0));
        st.write(&first).await.unwrap();
        let now = day0 + DAY + 2 * HOUR;
        st.rollup(now).await.unwrap();
        assert_eq!(st.pack_minutes(now, 100).await.unwrap(), 1);
        assert_eq!(
            rows("rollup_1d").fetch_all(st.pool()).await.unwrap(),
            vec![(day0, 10.0, 10.0, 10.0, 12)]
        );

        // An agent's buffer replayed after a cut: six more samples of minute 0 (40) between
        // the stored ones, and all of minute 1 (70). A fresh sample is not late.
        let mut replay: Vec<Sample> = (0..6)
            .map(|i| s("x", day0 + 2_500 + i * 10_000, 40.0))
            .collect();
        replay.extend((0..12).map(|i| s("x", day0 + MIN + i * 5_000, 70.0)));
        replay.push(s("x", now + 5_000, 1.0));
        // And one into today's first hour, rolled up but not packed.
        replay.push(s("x", day0 + DAY + 30 * MIN, 4.0));
        st.write(&replay).await.unwrap();
        let noted: Vec<(i64, i64)> =
            sqlx::query_as("SELECT series_id, minute FROM rollup_late ORDER BY minute")
                .fetch_all(st.pool())
                .await
                .unwrap();
        assert_eq!(
            noted,
            vec![(1, day0), (1, day0 + MIN), (1, day0 + DAY + 30 * MIN)]
        );

        st.rollup(now + MIN).await.unwrap();
        // Minute 0: (12 × 10 + 6 × 40) / 18 = 20; the hour and the day: (18 × 20 + 12 × 70) / 30.
        let minutes = st
            .query_between("x", Resolution::Minute, day0, day0 + DAY - 1)
            .await
            .unwrap();
        let read: Vec<(i64, f64, f64, f64)> = minutes
            .iter()
            .map(|p| (p.ts_ms, p.avg, p.min, p.max))
            .collect();
        assert_eq!(
            read,
            vec![(day0, 20.0, 10.0, 40.0), (day0 + MIN, 70.0, 70.0, 70.0)],
            "one point a minute, the recomputed row winning over the packed block"
        );
        assert_eq!(
            rows("rollup_1h").fetch_all(st.pool()).await.unwrap(),
            vec![(day0, 40.0, 10.0, 70.0, 30)]
        );
        assert_eq!(
            rows("rollup_1d").fetch_all(st.pool()).await.unwrap(),
            vec![(day0, 40.0, 10.0, 70.0, 30)]
        );
        let today: Vec<(i64, f64, f64, f64, i64)> =
            sqlx::query_as("SELECT bucket, avg, min, max, count FROM rollup_1h WHERE bucket = ?")
                .bind(day0 + DAY)
                .fetch_all(st.pool())
                .await
                .unwrap();
        assert_eq!(today, vec![(day0 + DAY, 4.0, 4.0, 4.0, 1)]);
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM rollup_late")
            .fetch_one(st.pool())
            .await
            .unwrap();
        assert_eq!(left, 0);

        // The packing merges the late minutes into the day's block; reads stay the same.
        assert_eq!(st.pack_minutes(now + MIN, 100).await.unwrap(), 1);
        let in_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM rollup_1m WHERE bucket < ?")
            .bind(day0 + DAY)
            .fetch_one(st.pool())
            .await
            .unwrap();
        assert_eq!(in_rows, 0);
        assert_eq!(
            st.query_between("x", Resolution::Minute, day0, day0 + DAY - 1)
                .await
                .unwrap(),
            minutes
        );
    }

    #[tokio::test]
    async fn a_day_is_not_packed_before_its_hours_are_rolled_up() {
        let (_dir, st) = store().await;
        let day0 = 1_000 * DAY;
        st.write(&[s("x", day0, 1.0), s("x", day0 + DAY + HOUR, 2.0)])
            .await
            .unwrap();
        // Minutes exist only up to the middle of day 0: its hours are not done.
        st.rollup(day0 + 12 * HOUR).await.unwrap();
        assert_eq!(st.pack_minutes(day0 + 10 * DAY, 100).await.unwrap(), 0);
        st.rollup(day0 + DAY + 2 * HOUR).await.unwrap();
        assert_eq!(st.pack_minutes(day0 + 10 * DAY, 100).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn retention_bounds_every_level() {
        let (_dir, st) = store().await;
        let now = 1_000 * DAY;
        let old = now - 3 * DAY;
        st.write(&[s("x", old, 1.0), s("x", now - HOUR, 2.0)])
            .await
            .unwrap();
        st.rollup(now - 2 * DAY).await.unwrap();
        let deleted = st
            .enforce_retention(&HistoryConfig::default(), now)
            .await
            .unwrap();
        // The 3-day-old raw sample goes; its minute/hour/day rollups stay (30 d / 2 y / forever).
        assert_eq!(deleted, 1);
        let counts = st.row_counts().await.unwrap();
        assert_eq!(
            counts,
            vec![
                ("samples_raw", 1),
                ("rollup_1m", 1),
                ("rollup_1h", 1),
                ("rollup_1d", 1)
            ]
        );
        // Far in the future, everything but the daily rollups expires.
        st.enforce_retention(&HistoryConfig::default(), now + 800 * DAY)
            .await
            .unwrap();
        let counts = st.row_counts().await.unwrap();
        assert_eq!(
            counts,
            vec![
                ("samples_raw", 0),
                ("rollup_1m", 0),
                ("rollup_1h", 0),
                ("rollup_1d", 1)
            ]
        );
        // With a daily retention set, those go too.
        let config = HistoryConfig {
            day_retention_days: 365,
            ..HistoryConfig::default()
        };
        st.enforce_retention(&config, now + 800 * DAY)
            .await
            .unwrap();
        assert_eq!(st.row_counts().await.unwrap()[3], ("rollup_1d", 0));
    }

    /// Ten simulated hours of 10 series every 5 s, written to two stores: one that keeps one hour
    /// of raw samples and one that never deletes. Deleted pages must be reused or returned.
    #[tokio::test]
    async fn retention_keeps_the_file_small() {
        let (_a, kept) = store().await;
        let (_b, all) = store().await;
        let config = HistoryConfig {
            raw_retention_hours: 1,
            ..HistoryConfig::default()
        };
        for hour in 0..10 {
            for batch in 0..12 {
                let base = 100 * DAY + hour * HOUR + batch * 5 * MIN;
                let samples: Vec<Sample> = (0..60)
                    .flat_map(|i| {
                        (0..10).map(move |k| s(&format!("m{k}"), base + i * 5_000, i as f64))
                    })
                    .collect();
                kept.write(&samples).await.unwrap();
                all.write(&samples).await.unwrap();
            }
            let now = 100 * DAY + (hour + 1) * HOUR;
            kept.rollup(now).await.unwrap();
            kept.enforce_retention(&config, now).await.unwrap();
        }
        let (kept, all) = (
            kept.size_bytes().await.unwrap(),
            all.size_bytes().await.unwrap(),
        );
        assert!(
            kept * 3 < all,
            "with retention {kept} bytes, without {all} bytes"
        );
    }

    #[tokio::test]
    async fn query_picks_resolution_and_rejects_bad_input() {
        let (_dir, st) = store().await;
        let now = 100 * DAY;
        st.write(&[s("cpu", now - 10_000, 3.0), s("cpu", now - 5_000, 5.0)])
            .await
            .unwrap();
        let h = st.query("cpu", "1h", now).await.unwrap();
        assert_eq!(h.resolution, Resolution::Raw);
        assert_eq!(h.points.len(), 2);
        assert_eq!(h.points[1].avg, 5.0);
        st.rollup(now + MIN).await.unwrap();
        let h = st.query("cpu", "24h", now + MIN).await.unwrap();
        assert_eq!(h.resolution, Resolution::Minute);
        assert_eq!(h.points.len(), 1);
        assert_eq!(
            (h.points[0].avg, h.points[0].min, h.points[0].max),
            (4.0, 3.0, 5.0)
        );
        assert!(matches!(
            st.query("nope", "1h", now).await,
            Err(HistoryError::UnknownMetric(_))
        ));
        assert!(matches!(
            st.query("cpu", "1 fortnight", now).await,
            Err(HistoryError::Range(_))
        ));
    }

    #[tokio::test]
    async fn reopening_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("steward.db");
        {
            let st = HistoryStore::open(&path).await.unwrap();
            st.write(&[s("x", 1_000, 1.0)]).await.unwrap();
            st.close().await;
        }
        let st = HistoryStore::open(&path).await.unwrap();
        assert_eq!(st.row_counts().await.unwrap()[0], ("samples_raw", 1));
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&st.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn an_old_database_opens_keeps_its_rows_and_gains_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        // The database as the release before host-aware history left it.
        {
            let options = SqliteConnectOptions::from_str("sqlite://")
                .unwrap()
                .filename(&path)
                .create_if_missing(true);
            let mut conn = sqlx::ConnectOptions::connect(&options).await.unwrap();
            let mut old = sqlx::migrate!("../migrations");
            let before: Vec<_> = old
                .migrations
                .iter()
                .filter(|m| m.version < 20261124000001)
                .cloned()
                .collect();
            assert_eq!(before.len(), 2);
            old.migrations = before.into();
            old.run(&mut conn).await.unwrap();
            sqlx::query("INSERT INTO series(id, name) VALUES (7, 'load1'), (9, 'disk_used_pct:/')")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query("INSERT INTO samples_raw(series_id, ts, value) VALUES (7, 1000, 0.5), (9, 1000, 42.0)")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query("INSERT INTO rollup_1m(series_id, bucket, avg, min, max, count) VALUES (7, 0, 0.5, 0.5, 0.5, 1)")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::Connection::close(conn).await.unwrap();
        }
        let store = HistoryStore::open(&path).await.unwrap();
        let raw = store
            .query_between("load1", Resolution::Raw, 0, i64::MAX)
            .await
            .unwrap();
        assert_eq!(raw.len(), 1, "raw samples kept");
        assert_eq!(raw[0].avg, 0.5);
        let minute = store
            .query_between("load1", Resolution::Minute, 0, i64::MAX)
            .await
            .unwrap();
        assert_eq!(minute.len(), 1, "rollups kept");
        assert_eq!(
            store.history_started_ms(),
            0,
            "an old database started with its oldest point (the 1-minute bucket at 0)"
        );
        drop(store);
        let again = HistoryStore::open(&path).await.unwrap();
        assert_eq!(again.history_started_ms(), 0, "recorded once, kept");
        let store = again;
        let hosts: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, host, name FROM series ORDER BY id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(
            hosts,
            [
                (7, "local".to_string(), "load1".to_string()),
                (9, "local".to_string(), "disk_used_pct:/".to_string())
            ],
            "ids kept, every old series is the local host's"
        );
        // Another host may now have a series of the same name, apart from the local one.
        store
            .write_hosts(&[(HostId::from("gpu-01"), &[s("load1", 2000, 9.0)][..])])
            .await
            .unwrap();
        let gpu = store
            .query_host_between("gpu-01", "load1", Resolution::Raw, 0, i64::MAX)
            .await
            .unwrap();
        assert_eq!(gpu.len(), 1);
        assert_eq!(gpu[0].avg, 9.0);
        let local = store
            .query_between("load1", Resolution::Raw, 0, i64::MAX)
            .await
            .unwrap();
        assert_eq!(local.len(), 1, "the local series is untouched");
        // Foreign keys are on again for the store's own connections.
        let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(on, 1);
        store.close().await;
    }
}
