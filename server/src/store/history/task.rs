//! The history writer: a bus subscriber that turns collected rounds into samples, batches them
//! per host, flushes them, rolls them up and enforces retention, reporting its own status. On
//! shutdown it flushes what it holds, so a restart loses at most the samples of one batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::containers::{Container, Health};
use app::vitals::metric_def::MetricId;
use app::vitals::{CollectorStatus, Vitals};
use tokio_util::sync::CancellationToken;

use super::{HistoryError, HistoryStore, Sample};
use crate::config::HistoryConfig;
use crate::platform::bus::{local_host, Bus, Event, HostId, Subscription};
use crate::platform::periodic::StatusBook;
use app::shared::clock::now_ms;

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

/// Per-container block write rate, keyed `container_write_bps:<name>`
/// ([`MetricId::ContainerWriteBps`] with the container's name as label).
pub const CONTAINER_WRITE_PREFIX: &str = "container_write_bps:";

/// The samples to store from one Docker round: the unhealthy count and each running
/// container's block write rate (absent until its second sample).
pub fn samples_from_containers(items: &[Container], ts_ms: i64) -> Vec<Sample> {
    let unhealthy = items
        .iter()
        .filter(|c| c.health == Health::Unhealthy)
        .count();
    std::iter::once(Sample {
        series: MetricId::ContainersUnhealthy.name().into(),
        ts_ms,
        value: unhealthy as f64,
    })
    .chain(items.iter().filter_map(|c| {
        Some(Sample {
            series: MetricId::ContainerWriteBps.series_key(Some(&c.name)),
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

/// Samples waiting to be written: per-host batches in arrival order (consecutive batches of one
/// host are merged, so one host means one batch).
#[derive(Default)]
struct Buffer {
    batches: Vec<(HostId, Vec<Sample>)>,
    len: usize,
}

impl Buffer {
    /// Adds a host's batch, dropping the oldest samples past `max`; returns how many were
    /// dropped.
    fn hold(&mut self, host: HostId, batch: Vec<Sample>, max: usize) -> u64 {
        self.len += batch.len();
        match self.batches.last_mut() {
            Some((last, samples)) if *last == host => samples.extend(batch),
            _ => self.batches.push((host, batch)),
        }
        let mut excess = self.len.saturating_sub(max);
        let dropped = excess as u64;
        while excess > 0 {
            let first = &mut self.batches[0].1;
            let n = excess.min(first.len());
            first.drain(..n);
            excess -= n;
            self.len -= n;
            if first.is_empty() {
                self.batches.remove(0);
            }
        }
        dropped
    }

    fn clear(&mut self) {
        self.batches.clear();
        self.len = 0;
    }
}

/// The samples an event carries for history, with their host.
fn samples_of(event: &Event) -> Option<(HostId, Vec<Sample>)> {
    match event {
        Event::Vitals {
            host,
            vitals: Some(v),
            ..
        } => Some((host.clone(), samples_from_vitals(v))),
        Event::Containers {
            host,
            items: Some(items),
            at_ms,
            ..
        } => Some((host.clone(), samples_from_containers(items, *at_ms))),
        Event::DiskUsage { host, at_ms, items } => Some((
            host.clone(),
            items
                .iter()
                .map(|c| Sample {
                    series: MetricId::DiskCulpritBytes.series_key(Some(&c.key)),
                    ts_ms: *at_ms,
                    value: c.bytes as f64,
                })
                .collect(),
        )),
        Event::Models { host, state } => Some((host.clone(), samples_from_models(state))),
        _ => None,
    }
}

/// What a model server's check read that history keeps, for this machine's servers and a
/// fleet host's alike.
pub struct ModelServerReadings {
    pub check_ms: Option<u64>,
    pub requests_running: Option<f64>,
    pub requests_waiting: Option<f64>,
    pub tokens_per_s: Option<f64>,
}

impl From<&app::models::ModelBackend> for ModelServerReadings {
    fn from(b: &app::models::ModelBackend) -> Self {
        ModelServerReadings {
            check_ms: b.check_ms,
            requests_running: b.requests_running,
            requests_waiting: b.requests_waiting,
            tokens_per_s: b.tokens_per_s,
        }
    }
}

impl From<&app::fleet::HostBackend> for ModelServerReadings {
    fn from(b: &app::fleet::HostBackend) -> Self {
        ModelServerReadings {
            check_ms: b.check_ms,
            requests_running: b.requests_running,
            requests_waiting: b.requests_waiting,
            tokens_per_s: b.tokens_per_s,
        }
    }
}

impl ModelServerReadings {
    /// The server's series (check latency, queue, tokens/s) labelled with its name: only what
    /// the check knew, so a server that is down writes its latency, not zeros.
    pub fn samples(&self, name: &str, ts_ms: i64) -> impl Iterator<Item = Sample> + '_ {
        let name = name.to_string();
        [
            (MetricId::ModelCheckMs, self.check_ms.map(|ms| ms as f64)),
            (MetricId::ModelRequestsRunning, self.requests_running),
            (MetricId::ModelRequestsWaiting, self.requests_waiting),
            (MetricId::ModelTokensPerSecond, self.tokens_per_s),
        ]
        .into_iter()
        .filter_map(move |(id, value)| {
            Some(Sample {
                series: id.series_key(Some(&name)),
                ts_ms,
                value: value.filter(|v| v.is_finite())?,
            })
        })
    }
}

/// Per backend: check latency, queue and tokens/s; per GPU: util, VRAM, temperature, power.
/// Only what the round knew (a down backend writes its latency, not zeros).
fn samples_from_models(m: &app::models::Models) -> Vec<Sample> {
    let Some(ts_ms) = m.as_of_ms else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut push = |id: MetricId, label: &str, value: Option<f64>| {
        if let Some(value) = value.filter(|v| v.is_finite()) {
            out.push(Sample {
                series: id.series_key(Some(label)),
                ts_ms,
                value,
            });
        }
    };
    for g in m.gpus.gpus() {
        let label = g.index.to_string();
        push(MetricId::GpuUtilPct, &label, g.util_pct);
        push(
            MetricId::GpuVramUsedBytes,
            &label,
            g.vram_used_bytes.map(|v| v as f64),
        );
        push(MetricId::GpuTemperatureC, &label, g.temperature_c);
        push(MetricId::GpuPowerW, &label, g.power_w);
    }
    for b in &m.backends {
        out.extend(ModelServerReadings::from(b).samples(&b.name, ts_ms));
    }
    out
}

/// What the writer knows beyond the last write's result.
#[derive(Default)]
struct WriterHealth {
    /// The last integrity check's finding, kept until a check passes.
    damage: Option<String>,
    /// Samples dropped since the last report that worked.
    dropped: u64,
}

/// Runs until `cancel` fires or the bus closes, then flushes and returns. Status reports go
/// back onto the bus.
pub async fn run(
    store: Arc<HistoryStore>,
    mut sub: Subscription,
    settings: WriterSettings,
    bus: Arc<Bus>,
    cancel: CancellationToken,
) {
    let mut book = StatusBook::new(NAME);
    let mut health = WriterHealth::default();
    // Dropped samples (the bus queue full, or this buffer full) are counted in the
    // subscription's stats; each report says how many since the last one that worked.
    let mut dropped_seen = 0;
    let mut buffer = Buffer::default();
    // Damage is looked for at start and then on a slow interval (it reads the whole file).
    let check_every = settings.config.check_interval_secs;
    let mut next_check = Some(Instant::now());
    let mut flush = tokio::time::interval(Duration::from_secs(settings.config.flush_interval_secs));
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    flush.tick().await;
    let mut retention =
        tokio::time::interval(Duration::from_secs(settings.config.retention_interval_secs));
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let publish = |status| {
        bus.publish(Event::Status {
            host: local_host(),
            status,
        })
    };
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            msg = sub.rx.recv() => match msg {
                Some(event) => {
                    if let Some((host, batch)) = samples_of(&event) {
                        sub.stats.count_own_drops(buffer.hold(host, batch, MAX_BUFFERED));
                    }
                }
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
                let dropped = sub.stats.dropped_samples();
                health.dropped += dropped - dropped_seen;
                dropped_seen = dropped;
                let result = flush_and_rollup(&store, &mut buffer, &settings).await;
                publish(report(&mut book, result.map(|_| ()), &mut health));
            }
            _ = retention.tick() => {
                book.begin();
                let result = store.enforce_retention(&settings.config, now_ms()).await;
                if let Ok(n) = &result {
                    tracing::debug!("retention deleted {n} rows");
                }
                publish(report(&mut book, result.map(|_| ()), &mut health));
            }
        }
    }
    // Shutdown: take what is still queued, then write it.
    while let Ok(event) = sub.rx.try_recv() {
        if let Some((host, batch)) = samples_of(&event) {
            buffer.hold(host, batch, usize::MAX);
        }
    }
    let result = flush_and_rollup(&store, &mut buffer, &settings).await;
    if let Err(e) = &result {
        tracing::error!("final history flush failed: {e}");
    }
}

/// Series whose finished days of minutes one flush round packs (see `HistoryStore::pack_minutes`).
const PACK_BUDGET: usize = 1_024;

async fn flush_and_rollup(
    store: &HistoryStore,
    buffer: &mut Buffer,
    settings: &WriterSettings,
) -> Result<(), HistoryError> {
    let started = Instant::now();
    let batches: Vec<(HostId, &[Sample])> = buffer
        .batches
        .iter()
        .map(|(h, s)| (h.clone(), s.as_slice()))
        .collect();
    store.write_hosts(&batches).await?;
    // Written: the batch is safe, so drop it (a failed write keeps it for the next try).
    buffer.clear();
    let complete_until = now_ms() - settings.arrival_lag.as_millis() as i64;
    store.rollup(complete_until).await?;
    // A little of the packing of finished days each round, never a long pause of the writer.
    let packed = store.pack_minutes(now_ms(), PACK_BUDGET).await?;
    if packed > 0 {
        tracing::debug!("history: packed {packed} days of minutes");
    }
    tracing::trace!("history flush took {:?}", started.elapsed());
    Ok(())
}

fn report(
    book: &mut StatusBook,
    result: Result<(), HistoryError>,
    health: &mut WriterHealth,
) -> CollectorStatus {
    match (result, &health.damage) {
        (Err(e), _) => book.failed(e.to_string()),
        // Writes still work on a damaged file, but the operator must hear about it.
        (Ok(()), Some(damage)) => book.failed(damage.clone()),
        (Ok(()), None) => {
            // Said once, on the first write that works again.
            let dropped: Vec<String> = (health.dropped > 0)
                .then(|| {
                    format!(
                        "{} samples were dropped (the writer's bus queue was full, or writes failed \
                         with {MAX_BUFFERED} held)",
                        health.dropped
                    )
                })
                .into_iter()
                .collect();
            health.dropped = 0;
            book.succeeded(&dropped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::containers::Container;
    use app::vitals::{Level, Metric, Unit};

    #[test]
    fn the_container_write_prefix_is_its_metrics_key() {
        assert_eq!(
            CONTAINER_WRITE_PREFIX,
            MetricId::ContainerWriteBps.series_key(Some(""))
        );
    }

    #[test]
    fn a_long_outage_keeps_the_newest_samples_and_counts_the_rest() {
        let sample = |ts_ms| Sample {
            series: "load1".into(),
            ts_ms,
            value: 1.0,
        };
        let mut buffer = Buffer::default();
        let local = local_host();
        assert_eq!(
            buffer.hold(local.clone(), (0..3).map(sample).collect(), 4),
            0
        );
        assert_eq!(
            buffer.hold(local.clone(), (3..6).map(sample).collect(), 4),
            2
        );
        let kept: Vec<i64> = buffer.batches[0].1.iter().map(|s| s.ts_ms).collect();
        assert_eq!(kept, [2, 3, 4, 5]);
        // Another host's batch stays apart; the oldest samples go first, whoever's they are.
        assert_eq!(
            buffer.hold("gpu-01".into(), (6..8).map(sample).collect(), 4),
            2
        );
        assert_eq!(buffer.batches.len(), 2);
        assert_eq!(
            buffer.batches[0]
                .1
                .iter()
                .map(|s| s.ts_ms)
                .collect::<Vec<_>>(),
            [4, 5]
        );
        assert_eq!(buffer.len, 4);
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
        // A dropped event is counted as the samples it would have stored.
        let event = Event::Vitals {
            host: local_host(),
            vitals: Some(Arc::new(v.clone())),
            status: CollectorStatus::starting("vitals"),
        };
        assert_eq!(event.weight(), s.len() as u64);
        let mut slow = Container::running("c1", "db");
        slow.block_write_rate = Some(10.0);
        let items = vec![slow, Container::running("c2", "web")];
        let event = Event::Containers {
            host: local_host(),
            items: Some(Arc::new(items)),
            at_ms: 42,
            status: CollectorStatus::starting("docker"),
        };
        assert_eq!(event.weight(), samples_of(&event).unwrap().1.len() as u64);
        assert_eq!(event.weight(), 2);
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
