//! Fleet hosts' history on PostgreSQL (`[database] url`): every hub replica writes the samples
//! of the heartbeats it takes into the same tables, so a host's chart is whole on every
//! replica. The rollups and retention run on one replica at a time (the "fleet history"
//! lease), with the same levels and rules as the SQLite file ([`super::rollup`]); a sample that
//! arrives after its minute was rolled up is noted late and its minute, hour and day are
//! computed again, as on SQLite. The local machine's own history stays in each replica's file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::shared::clock::now_ms;
use app::shared::range::Resolution;
use app::vitals::HistoryPoint;
use async_trait::async_trait;
use sqlx::{PgConnection, PgPool};

use super::hosts::HostHistory;
use super::rollup::{self, Level, LEVELS};
use super::store::{HistoryError, Sample};
use crate::config::HistoryConfig;
use crate::platform::bus::{local_host, Bus, Event, HostId};
use crate::platform::periodic::{self, Collected, Collector};
use crate::store::lease::Lease;

/// Late minutes one rollup round recomputes, oldest first (as on SQLite).
const LATE_PER_ROUND: i64 = 50_000;
/// A round's late minutes: every note up to the round's last (minute, series), bound as $1, $2.
const LATE_BATCH: &str =
    "SELECT series_id, minute FROM fleet_rollup_late WHERE (minute, series_id) <= ($1, $2)";

/// The PostgreSQL table of a rollup level's SQLite table name.
fn table(sqlite: &str) -> &'static str {
    match sqlite {
        "samples_raw" => "fleet_samples",
        "rollup_1m" => "fleet_rollup_1m",
        "rollup_1h" => "fleet_rollup_1h",
        _ => "fleet_rollup_1d",
    }
}

/// What a rollup row becomes when its bucket is computed again.
const REPLACE: &str = "ON CONFLICT (series_id, bucket) DO UPDATE SET avg = EXCLUDED.avg, \
     min = EXCLUDED.min, max = EXCLUDED.max, count = EXCLUDED.count";

pub struct PgHistory {
    pool: PgPool,
    /// (host, series name) → id, so writes do not look names up every time.
    ids: Mutex<HashMap<(HostId, String), i64>>,
    started_ms: i64,
}

impl PgHistory {
    /// Uses the hub's pool (migrated by `store::postgres::open`) and dates the history.
    pub async fn open(pool: PgPool) -> Result<Self, HistoryError> {
        sqlx::query(
            "INSERT INTO fleet_history_meta (key, value) VALUES ('history_started_ms', $1) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(now_ms())
        .execute(&pool)
        .await?;
        let started_ms: i64 = sqlx::query_scalar(
            "SELECT value FROM fleet_history_meta WHERE key = 'history_started_ms'",
        )
        .fetch_one(&pool)
        .await?;
        Ok(Self {
            pool,
            ids: Mutex::new(HashMap::new()),
            started_ms,
        })
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, HashMap<(HostId, String), i64>> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ids of the batch's series, creating the new ones (committed on their own, so
    /// replicas creating the same series at once both get its one id).
    async fn series_ids(
        &self,
        batches: &[(HostId, &[Sample])],
    ) -> Result<HashMap<(HostId, String), i64>, HistoryError> {
        let mut ids = HashMap::new();
        let mut new: Vec<(String, String)> = Vec::new();
        {
            let cache = self.cached();
            for (host, samples) in batches {
                for s in samples.iter() {
                    let key = (host.clone(), s.series.clone());
                    match cache.get(&key) {
                        Some(id) => {
                            ids.insert(key, *id);
                        }
                        None => new.push((host.to_string(), s.series.clone())),
                    }
                }
            }
        }
        if new.is_empty() {
            return Ok(ids);
        }
        // Sorted: replicas creating the same series at once take their unique-key locks in
        // the same order, so neither waits for the other in a cycle.
        new.sort_unstable();
        new.dedup();
        let (hosts, names): (Vec<String>, Vec<String>) = new.iter().cloned().unzip();
        sqlx::query(
            "INSERT INTO fleet_series (host, name) SELECT * FROM UNNEST($1::text[], $2::text[]) \
             ON CONFLICT (host, name) DO NOTHING",
        )
        .bind(&hosts)
        .bind(&names)
        .execute(&self.pool)
        .await?;
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT s.id, s.host, s.name FROM fleet_series s \
             JOIN UNNEST($1::text[], $2::text[]) AS k(host, name) \
             ON s.host = k.host AND s.name = k.name",
        )
        .bind(&hosts)
        .bind(&names)
        .fetch_all(&self.pool)
        .await?;
        let mut cache = self.cached();
        for (id, host, name) in rows {
            let key = (HostId::from(host.as_str()), name);
            cache.insert(key.clone(), id);
            ids.insert(key, id);
        }
        Ok(ids)
    }

    /// Computes every level for the buckets completed since the last round, then the late
    /// minutes noted by writes; `raw_complete_until` is the time before which no more raw
    /// samples will arrive. Call it on the lease holder only. Returns the rows written.
    pub async fn rollup(&self, raw_complete_until: i64) -> Result<u64, HistoryError> {
        let mut tx = self.pool.begin().await?;
        // Locked first: a write takes the minute row FOR SHARE after its inserts and holds it
        // to its commit, so each of its samples is committed before this round reads (this
        // lock waits for it) or noted late (it reads the watermark this round sets).
        let done: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
            "SELECT level, done_until FROM fleet_rollup_state ORDER BY level FOR UPDATE",
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut written = 0;
        let mut source_until = raw_complete_until;
        for level in LEVELS {
            let done = done.get(level.name).copied().unwrap_or(0);
            let Some((from, to)) = rollup::next_window(done, source_until, level.width_ms) else {
                source_until = done;
                continue;
            };
            let sql = if level.source_is_raw {
                format!(
                    "INSERT INTO {table} (series_id, bucket, avg, min, max, count) \
                     SELECT series_id, (ts / {w}) * {w} AS b, avg(value), min(value), \
                     max(value), count(*) FROM {source} WHERE ts >= $1 AND ts < $2 \
                     GROUP BY series_id, b {REPLACE}",
                    table = table(level.table),
                    source = table(level.source),
                    w = level.width_ms
                )
            } else {
                format!(
                    "INSERT INTO {table} (series_id, bucket, avg, min, max, count) \
                     SELECT series_id, (bucket / {w}) * {w} AS b, \
                     sum(avg * count) / sum(count)::float8, min(min), max(max), \
                     sum(count)::bigint FROM {source} WHERE bucket >= $1 AND bucket < $2 \
                     GROUP BY series_id, b {REPLACE}",
                    table = table(level.table),
                    source = table(level.source),
                    w = level.width_ms
                )
            };
            written += sqlx::query(&sql)
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // An upsert: a row deleted by hand comes back instead of the level silently
            // recomputing from the epoch every round.
            sqlx::query(
                "INSERT INTO fleet_rollup_state (level, done_until) VALUES ($1, $2) \
                 ON CONFLICT (level) DO UPDATE SET done_until = EXCLUDED.done_until",
            )
            .bind(level.name)
            .bind(to)
            .execute(&mut *tx)
            .await?;
            source_until = to;
        }
        written += redo_late(&mut tx).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Deletes what is past each level's retention (`[history]`, as on SQLite).
    pub async fn enforce_retention(
        &self,
        config: &HistoryConfig,
        now_ms: i64,
    ) -> Result<u64, HistoryError> {
        let mut deleted = 0;
        for (name, cutoff) in rollup::retention_cutoffs(config, now_ms) {
            let Some(cutoff) = cutoff else { continue };
            let col = if name == "samples_raw" {
                "ts"
            } else {
                "bucket"
            };
            deleted += sqlx::query(&format!("DELETE FROM {} WHERE {col} < $1", table(name)))
                .bind(cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(deleted)
    }

    /// Row counts per table, for tests and benchmarks.
    pub async fn row_counts(&self) -> Result<Vec<(&'static str, i64)>, HistoryError> {
        let mut out = Vec::new();
        for name in ["samples_raw", "rollup_1m", "rollup_1h", "rollup_1d"] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table(name)))
                .fetch_one(&self.pool)
                .await?;
            out.push((table(name), n));
        }
        Ok(out)
    }
}

/// Recomputes the oldest [`LATE_PER_ROUND`] late minutes from their raw samples, then the hours
/// and days above them that their level has computed, one statement per level, and drops the
/// notes. The watermarks are read inside the round's transaction, after this round moved them.
async fn redo_late(tx: &mut PgConnection) -> Result<u64, HistoryError> {
    let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM fleet_rollup_late)")
        .fetch_one(&mut *tx)
        .await?;
    if !any {
        return Ok(0);
    }
    let last: Option<(i64, i64)> = sqlx::query_as(
        "SELECT minute, series_id FROM fleet_rollup_late ORDER BY minute, series_id \
         LIMIT 1 OFFSET $1",
    )
    .bind(LATE_PER_ROUND - 1)
    .fetch_optional(&mut *tx)
    .await?;
    let last = last.unwrap_or((i64::MAX, i64::MAX));
    let mut written = sqlx::query(&format!(
        "INSERT INTO fleet_rollup_1m (series_id, bucket, avg, min, max, count) \
         SELECT l.series_id, l.minute, avg(s.value), min(s.value), max(s.value), count(*) \
         FROM ({LATE_BATCH}) l JOIN fleet_samples s ON s.series_id = l.series_id \
         AND s.ts >= l.minute AND s.ts < l.minute + {m} GROUP BY l.series_id, l.minute {REPLACE}",
        m = rollup::MINUTE_MS
    ))
    .bind(last.0)
    .bind(last.1)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    for level in &LEVELS[1..] {
        let done: i64 =
            sqlx::query_scalar("SELECT done_until FROM fleet_rollup_state WHERE level = $1")
                .bind(level.name)
                .fetch_one(&mut *tx)
                .await?;
        written += redo_level(tx, level, last, done).await?;
    }
    let redone = sqlx::query("DELETE FROM fleet_rollup_late WHERE (minute, series_id) <= ($1, $2)")
        .bind(last.0)
        .bind(last.1)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tracing::info!("fleet history: {redone} late minutes rolled up again (a replayed buffer)");
    Ok(written)
}

/// Recomputes `level`'s buckets that hold the batch's late minutes and that the level has
/// computed (start before `done`), from its source rows, count-weighted.
async fn redo_level(
    tx: &mut PgConnection,
    level: &Level,
    last: (i64, i64),
    done: i64,
) -> Result<u64, HistoryError> {
    let sql = format!(
        "INSERT INTO {table} (series_id, bucket, avg, min, max, count) \
         SELECT h.series_id, h.bucket, sum(m.avg * m.count) / sum(m.count)::float8, \
         min(m.min), max(m.max), sum(m.count)::bigint \
         FROM (SELECT DISTINCT series_id, (minute / {w}) * {w} AS bucket \
               FROM ({LATE_BATCH}) b WHERE minute < $3) h \
         JOIN {source} m ON m.series_id = h.series_id \
         AND m.bucket >= h.bucket AND m.bucket < h.bucket + {w} \
         GROUP BY h.series_id, h.bucket {REPLACE}",
        table = table(level.table),
        source = table(level.source),
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

#[async_trait]
impl HostHistory for PgHistory {
    fn engine(&self) -> &'static str {
        "postgresql"
    }

    fn history_started_ms(&self) -> i64 {
        self.started_ms
    }

    async fn write_hosts(&self, batches: &[(HostId, &[Sample])]) -> Result<(), HistoryError> {
        if batches.iter().all(|(_, s)| s.is_empty()) {
            return Ok(());
        }
        let ids = self.series_ids(batches).await?;
        let mut rows: Vec<(i64, i64, f64)> = Vec::new();
        for (host, samples) in batches {
            for s in samples.iter() {
                // Every series was just created or found; a missing one is a database fault.
                let id = ids
                    .get(&(host.clone(), s.series.clone()))
                    .ok_or(HistoryError::Db(sqlx::Error::RowNotFound))?;
                rows.push((*id, s.ts_ms, s.value));
            }
        }
        // One row per key (a later heartbeat's sample wins, as on SQLite: an upsert may not
        // touch a row twice), in key order, so concurrent writers lock rows in the same order.
        rows.reverse();
        rows.sort_by_key(|&(id, ts, _)| (id, ts));
        rows.dedup_by_key(|&mut (id, ts, _)| (id, ts));
        let (series, (ts, values)): (Vec<i64>, (Vec<i64>, Vec<f64>)) =
            rows.iter().map(|&(id, t, v)| (id, (t, v))).unzip();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO fleet_samples (series_id, ts, value) \
             SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::float8[]) \
             ON CONFLICT (series_id, ts) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(&series)
        .bind(&ts)
        .bind(&values)
        .execute(&mut *tx)
        .await?;
        // After the inserts: a rollup that moved the watermark meanwhile waits for this lock
        // or committed before it; either way these samples are rolled up or noted late.
        let done: i64 = sqlx::query_scalar(
            "SELECT done_until FROM fleet_rollup_state WHERE level = '1m' FOR SHARE",
        )
        .fetch_one(&mut *tx)
        .await?;
        let late = rollup::late_minutes(series.iter().copied().zip(ts.iter().copied()), done);
        if !late.is_empty() {
            let (ids, minutes): (Vec<i64>, Vec<i64>) = late.into_iter().unzip();
            sqlx::query(
                "INSERT INTO fleet_rollup_late (series_id, minute) \
                 SELECT * FROM UNNEST($1::int8[], $2::int8[]) ON CONFLICT DO NOTHING",
            )
            .bind(&ids)
            .bind(&minutes)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn query_host_between(
        &self,
        host: &str,
        metric: &str,
        resolution: Resolution,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<HistoryPoint>, HistoryError> {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM fleet_series WHERE host = $1 AND name = $2")
                .bind(host)
                .bind(metric)
                .fetch_optional(&self.pool)
                .await?;
        let id = id.ok_or_else(|| HistoryError::UnknownMetric(metric.to_string()))?;
        let sql = rollup::points_sql(resolution, table);
        let rows: Vec<(i64, f64, f64, f64)> = sqlx::query_as(&sql)
            .bind(id)
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(ts_ms, avg, min, max)| HistoryPoint {
                ts_ms,
                avg,
                min,
                max,
            })
            .collect())
    }

    async fn host_series_with_prefix(
        &self,
        host: &str,
        prefix: &str,
    ) -> Result<Vec<String>, HistoryError> {
        // starts_with, not a range or LIKE: the database's collation would order names
        // unlike SQLite's bytes, and `_` and `%` must match literally.
        Ok(sqlx::query_scalar(
            "SELECT name FROM fleet_series WHERE host = $1 AND starts_with(name, $2) \
             ORDER BY name COLLATE \"C\"",
        )
        .bind(host)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn host_minutes(
        &self,
        hosts: &[String],
        names: &[String],
        from_ms: i64,
    ) -> Result<Vec<(String, String, i64, f64)>, HistoryError> {
        if hosts.is_empty() || names.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(
            "SELECT s.host, s.name, r.bucket, r.avg FROM fleet_series s \
             JOIN fleet_rollup_1m r ON r.series_id = s.id AND r.bucket >= $1 \
             WHERE s.host = ANY($2) AND s.name = ANY($3) \
             ORDER BY s.host COLLATE \"C\", r.bucket",
        )
        .bind(from_ms)
        .bind(hosts)
        .bind(names)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// The shared history's rollups and retention as a periodic collector (`fleet_history` in
/// the status list): each round asks for the lease, and only its holder works.
pub struct Rollups {
    history: Arc<PgHistory>,
    lease: Arc<Lease>,
    config: HistoryConfig,
    /// How late a raw sample may arrive after it was taken; rollups wait this long.
    arrival_lag: Duration,
    last_retention: Option<Instant>,
}

impl Rollups {
    pub fn new(
        history: Arc<PgHistory>,
        lease: Arc<Lease>,
        config: HistoryConfig,
        arrival_lag: Duration,
    ) -> Self {
        Self {
            history,
            lease,
            config,
            arrival_lag,
            last_retention: None,
        }
    }
}

impl Collector for Rollups {
    /// Rows written (rollups) and deleted (retention) this round; `None` on a standby replica.
    type Data = Option<(u64, u64)>;

    fn name(&self) -> &'static str {
        "fleet_history"
    }

    async fn collect(&mut self) -> Result<Collected<Self::Data>, String> {
        // Asked every round, so another replica takes over within one interval of a death.
        if !self.lease.hold().await.map_err(|e| e.to_string())? {
            return Ok(Collected {
                data: None,
                problems: Vec::new(),
            });
        }
        let until = now_ms() - self.arrival_lag.as_millis() as i64;
        let written = self
            .history
            .rollup(until)
            .await
            .map_err(|e| format!("rollup failed: {e}"))?;
        let every = Duration::from_secs(self.config.retention_interval_secs);
        let mut deleted = 0;
        let mut problems = Vec::new();
        if self.last_retention.is_none_or(|t| t.elapsed() >= every) {
            match self.history.enforce_retention(&self.config, now_ms()).await {
                Ok(n) => {
                    deleted = n;
                    self.last_retention = Some(Instant::now());
                }
                // The rollups worked; the retention is retried next round.
                Err(e) => problems.push(format!("retention failed: {e}")),
            }
        }
        Ok(Collected {
            data: Some((written, deleted)),
            problems,
        })
    }
}

/// Runs the shared history's rollups and retention until `shutdown`: a round every flush
/// interval (`[history]`); the status joins the collectors' (overview, `/healthz`).
pub async fn run(
    history: Arc<PgHistory>,
    lease: Arc<Lease>,
    config: HistoryConfig,
    arrival_lag: Duration,
    bus: Arc<Bus>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let interval = Duration::from_secs(config.flush_interval_secs);
    // A round holds the minute level's lock, which each fleet write waits for: its timeout
    // bounds that wait (the transaction is rolled back, the work redone next round).
    let timeout = Duration::from_secs(config.flush_interval_secs.clamp(30, 120) * 2);
    let rollups = Rollups::new(history, lease, config, arrival_lag);
    periodic::run(rollups, interval, timeout, shutdown, move |_, status| {
        bus.publish(Event::Status {
            host: local_host(),
            status,
        });
    })
    .await
}
