//! The history writer: batches samples from the collector, flushes them, rolls them up and
//! enforces retention, reporting its own status. On shutdown it flushes what it holds, so a
//! restart loses at most the samples of one batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::containers::{Container, Health};
use app::model::Vitals;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{HistoryError, HistoryStore, Sample};
use crate::collectors::periodic::StatusBook;
use crate::config::HistoryConfig;
use crate::state::Hub;
use app::clock::now_ms;

/// The writer's name in status reports and `/metrics`.
pub const NAME: &str = "history";

/// The samples to store from one vitals snapshot: every metric that has a value.
pub fn samples_from_vitals(v: &Vitals) -> Vec<Sample> {
    v.metrics
        .iter()
        .filter_map(|m| {
            Some(Sample {
                series: m.series_key(),
                ts_ms: v.collected_at_ms,
                value: m.value.filter(|x| x.is_finite())?,
            })
        })
        .collect()
}

/// Series the Docker collector feeds to history (besides the vitals' [`app::model::METRIC_NAMES`]).
pub const UNHEALTHY_SERIES: &str = "containers_unhealthy";
/// Per-container block write rate, keyed `container_write_bps:<name>`.
pub const CONTAINER_WRITE_PREFIX: &str = "container_write_bps:";

/// The samples to store from one Docker round: the unhealthy count and each running
/// container's block write rate (absent until its second sample).
pub fn samples_from_containers(items: &[Container], ts_ms: i64) -> Vec<Sample> {
    let unhealthy = items
        .iter()
        .filter(|c| c.health == Health::Unhealthy)
        .count();
    std::iter::once(Sample {
        series: UNHEALTHY_SERIES.into(),
        ts_ms,
        value: unhealthy as f64,
    })
    .chain(items.iter().filter_map(|c| {
        Some(Sample {
            series: format!("{CONTAINER_WRITE_PREFIX}{}", c.name),
            ts_ms,
            value: c.block_write_rate.filter(|r| r.is_finite())?,
        })
    }))
    .collect()
}

/// Settings of the writer task.
pub struct WriterSettings {
    pub config: HistoryConfig,
    /// How late a raw sample may arrive after it was taken; rollups wait this long.
    pub arrival_lag: Duration,
}

/// Samples held while writes fail (a full disk): about a day of a typical host's vitals. Past
/// it the oldest are dropped and counted, so memory stays bounded however long the outage.
pub const MAX_BUFFERED: usize = 500_000;

/// Adds a batch to the samples waiting to be written, dropping the oldest past `max`; returns
/// how many were dropped.
fn hold(buffer: &mut Vec<Sample>, batch: Vec<Sample>, max: usize) -> u64 {
    buffer.extend(batch);
    let excess = buffer.len().saturating_sub(max);
    buffer.drain(..excess);
    excess as u64
}

/// What the writer knows beyond the last write's result.
#[derive(Default)]
struct WriterHealth {
    /// The last integrity check's finding, kept until a check passes.
    damage: Option<String>,
    /// Samples dropped since the last report that worked.
    dropped: u64,
}

/// Runs until `cancel` fires or the sender side closes, then flushes and returns.
pub async fn run(
    store: Arc<HistoryStore>,
    mut rx: mpsc::Receiver<Vec<Sample>>,
    settings: WriterSettings,
    hub: Arc<Hub>,
    cancel: CancellationToken,
) {
    let mut book = StatusBook::new(NAME);
    let mut health = WriterHealth::default();
    // Dropped samples (the hub's queue full, or this buffer full) are counted in the hub; each
    // report says how many since the last one that worked.
    let mut dropped_seen = 0;
    let mut buffer: Vec<Sample> = Vec::new();
    // Damage is looked for at start and then on a slow interval (it reads the whole file).
    let check_every = settings.config.check_interval_secs;
    let mut next_check = Some(Instant::now());
    let mut flush = tokio::time::interval(Duration::from_secs(settings.config.flush_interval_secs));
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    flush.tick().await;
    let mut retention =
        tokio::time::interval(Duration::from_secs(settings.config.retention_interval_secs));
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            msg = rx.recv() => match msg {
                Some(batch) => hub.count_history_dropped(hold(&mut buffer, batch, MAX_BUFFERED)),
                None => break,
            },
            _ = flush.tick() => {
                if next_check.is_some_and(|t| Instant::now() >= t) {
                    health.damage = store.quick_check().await.err().map(|e| e.to_string());
                    // 0: only the check at start.
                    next_check = (check_every > 0)
                        .then(|| Instant::now() + Duration::from_secs(check_every));
                }
                book.begin();
                let dropped = hub.history_dropped();
                health.dropped += dropped - dropped_seen;
                dropped_seen = dropped;
                let result = flush_and_rollup(&store, &mut buffer, &settings).await;
                report(&mut book, result.map(|_| ()), &mut health, &hub);
            }
            _ = retention.tick() => {
                book.begin();
                let result = store.enforce_retention(&settings.config, now_ms()).await;
                if let Ok(n) = &result {
                    tracing::debug!("retention deleted {n} rows");
                }
                report(&mut book, result.map(|_| ()), &mut health, &hub);
            }
        }
    }
    // Shutdown: take what is still queued, then write it.
    while let Ok(batch) = rx.try_recv() {
        buffer.extend(batch);
    }
    let result = flush_and_rollup(&store, &mut buffer, &settings).await;
    if let Err(e) = &result {
        tracing::error!("final history flush failed: {e}");
    }
}

async fn flush_and_rollup(
    store: &HistoryStore,
    buffer: &mut Vec<Sample>,
    settings: &WriterSettings,
) -> Result<(), HistoryError> {
    let started = Instant::now();
    store.write(buffer).await?;
    // Written: the batch is safe, so drop it (a failed write keeps it for the next try).
    buffer.clear();
    let complete_until = now_ms() - settings.arrival_lag.as_millis() as i64;
    store.rollup(complete_until).await?;
    tracing::trace!("history flush took {:?}", started.elapsed());
    Ok(())
}

fn report(
    book: &mut StatusBook,
    result: Result<(), HistoryError>,
    health: &mut WriterHealth,
    hub: &Hub,
) {
    let status = match (result, &health.damage) {
        (Err(e), _) => book.failed(e.to_string()),
        // Writes still work on a damaged file, but the operator must hear about it.
        (Ok(()), Some(damage)) => book.failed(damage.clone()),
        (Ok(()), None) => {
            // Said once, on the first write that works again.
            let dropped: Vec<String> = (health.dropped > 0)
                .then(|| {
                    format!(
                        "{} samples were dropped (the history queue was full, or writes failed \
                         with {MAX_BUFFERED} held)",
                        health.dropped
                    )
                })
                .into_iter()
                .collect();
            health.dropped = 0;
            book.succeeded(&dropped)
        }
    };
    hub.publish_status(status);
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{Level, Metric, Unit};

    #[test]
    fn a_long_outage_keeps_the_newest_samples_and_counts_the_rest() {
        let sample = |ts_ms| Sample {
            series: "load1".into(),
            ts_ms,
            value: 1.0,
        };
        let mut buffer = Vec::new();
        assert_eq!(hold(&mut buffer, (0..3).map(sample).collect(), 4), 0);
        assert_eq!(hold(&mut buffer, (3..6).map(sample).collect(), 4), 2);
        let kept: Vec<i64> = buffer.iter().map(|s| s.ts_ms).collect();
        assert_eq!(kept, [2, 3, 4, 5]);
    }

    #[test]
    fn only_known_finite_values_are_stored() {
        let metric = |name: &str, label: Option<&str>, value: Option<f64>| Metric {
            name: name.into(),
            label: label.map(Into::into),
            value,
            unit: Unit::Percent,
            level: Level::Ok,
            warn: None,
            crit: None,
            note: None,
        };
        let v = Vitals {
            host: "h".into(),
            cores: 1,
            collected_at_ms: 42,
            metrics: vec![
                metric("cpu_steal_pct", None, Some(1.5)),
                metric("disk_used_pct", Some("/"), Some(50.0)),
                metric("cpu_busy_pct", None, None),
                metric("load1", None, Some(f64::NAN)),
            ],
            top_rss: vec![],
            top_cpu: vec![],
        };
        let s = samples_from_vitals(&v);
        assert_eq!(
            s,
            vec![
                Sample {
                    series: "cpu_steal_pct".into(),
                    ts_ms: 42,
                    value: 1.5
                },
                Sample {
                    series: "disk_used_pct:/".into(),
                    ts_ms: 42,
                    value: 50.0
                },
            ]
        );
    }
}
