//! The history writer: batches samples from the collector, flushes them, rolls them up and
//! enforces retention, reporting its own status. On shutdown it flushes what it holds, so a
//! restart loses at most the samples of one batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::containers::{Container, Health};
use app::model::{CollectorState, CollectorStatus, Vitals};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{HistoryError, HistoryStore, Sample};
use crate::config::HistoryConfig;
use crate::state::{now_ms, Hub};

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

/// Runs until `cancel` fires or the sender side closes, then flushes and returns.
pub async fn run(
    store: Arc<HistoryStore>,
    mut rx: mpsc::Receiver<Vec<Sample>>,
    settings: WriterSettings,
    hub: Arc<Hub>,
    cancel: CancellationToken,
) {
    let mut status = CollectorStatus::starting(NAME);
    let mut buffer: Vec<Sample> = Vec::new();
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
                Some(batch) => buffer.extend(batch),
                None => break,
            },
            _ = flush.tick() => {
                let result = flush_and_rollup(&store, &mut buffer, &settings).await;
                report(&mut status, result.map(|_| ()), &hub);
            }
            _ = retention.tick() => {
                let result = store.enforce_retention(&settings.config, now_ms()).await;
                if let Ok(n) = &result {
                    tracing::debug!("retention deleted {n} rows");
                }
                report(&mut status, result.map(|_| ()), &hub);
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
    store.close().await;
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

fn report(status: &mut CollectorStatus, result: Result<(), HistoryError>, hub: &Hub) {
    let now = now_ms();
    status.rounds_total += 1;
    status.last_attempt_ms = Some(now);
    match result {
        Ok(()) => {
            status.state = CollectorState::Ok;
            status.message = None;
            status.last_success_ms = Some(now);
        }
        Err(e) => {
            tracing::warn!(collector = NAME, "{e}");
            status.state = CollectorState::Error;
            status.message = Some(e.to_string());
            status.errors_total += 1;
        }
    }
    hub.publish_status(status.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{Level, Metric, Unit};

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
