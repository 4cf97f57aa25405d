//! The weekly digest (seed 000 §4.3): every few minutes, off the request path, the week's
//! figures are read from history (SQLite rollups, the cleanup runs, the audit log, model loads,
//! alert history) and the live snapshots, worded by `app::digest::build`, and drawn as a chart
//! ([`chart`]). On the schedule (cron, UTC; default Monday 08:00) it is sent to every notifier
//! but Alertmanager; an admin can also send it now. `/digest` shows the last one drawn.

pub mod chart;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::alerts::AlertState;
use app::digest::{build, Digest, DigestDelivery, DigestInputs, Figure};
use app::overview::score::{compute, CleanupInfo, ScoreInputs};
use app::shared::clock::now_ms;
use app::shared::range::Resolution;
use app::vitals::metric_def::MetricId;
use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use crate::alerts::notify::Notifiers;
use crate::alerts::AlertsService;
use crate::config::Config;
use crate::hub::Hub;
use crate::maintenance::schedule::Schedule;
use crate::maintenance::Maintenance;
use crate::store::audit::{Action, AuditLog, Entry, Outcome};
use crate::store::history::{HistoryError, HistoryStore};

/// How often the figures are read again for `/digest`.
const REFRESH: Duration = Duration::from_secs(300);
/// The second drawing after start-up, once the collectors' first rounds are in history (the
/// first, at once, may have nothing to read yet).
const SECOND_DRAWING: Duration = Duration::from_secs(10);
const WEEK_MS: i64 = 7 * 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const SCORE_COLOR: (u8, u8, u8) = (0x1f, 0x6f, 0xeb);
const DISK_COLOR: (u8, u8, u8) = (0xd9, 0x73, 0x06);

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("the digest is being sent already")]
    Busy,
}

/// The last digest drawn, with its chart.
#[derive(Clone)]
pub struct Drawn {
    pub digest: Digest,
    pub png: Option<Arc<Vec<u8>>>,
}

/// Everything the digest reads.
pub struct Sources {
    pub store: Arc<HistoryStore>,
    pub hub: Arc<Hub>,
    pub maintenance: Arc<Maintenance>,
    pub alerts: Arc<AlertsService>,
    pub audit: AuditLog,
}

pub struct DigestService {
    config: Arc<Config>,
    schedule: Option<Schedule>,
    sources: Sources,
    notifiers: Notifiers,
    host: String,
    font: Result<ab_glyph::FontArc, String>,
    latest: Mutex<Option<Drawn>>,
    sent: Mutex<(Option<i64>, Vec<DigestDelivery>)>,
    sending: tokio::sync::Mutex<()>,
}

/// Hourly points of one series: (hour start, average, highest).
type Hourly = BTreeMap<i64, (f64, f64)>;

impl DigestService {
    pub fn new(config: Arc<Config>, sources: Sources) -> Self {
        let font = chart::load_font(&config.alerts.digest.font_file);
        if let Err(e) = &font {
            tracing::warn!("digest chart: {e}; it is drawn without words");
        }
        let host =
            crate::platform::host_name(&config.paths.procfs).unwrap_or_else(|| "this host".into());
        Self {
            schedule: config.alerts.digest.schedule.parse().ok(),
            notifiers: sources.alerts.notifiers(),
            config,
            sources,
            host,
            font,
            latest: Mutex::default(),
            sent: Mutex::default(),
            sending: tokio::sync::Mutex::new(()),
        }
    }

    /// The last digest drawn (never waits for one).
    pub fn latest(&self) -> Option<Drawn> {
        let mut d = self
            .latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        d.digest.last_sent_ms = sent.0;
        d.digest.deliveries = sent.1.clone();
        Some(d)
    }

    fn next_send_ms(&self, after: i64) -> Option<i64> {
        self.schedule.as_ref()?.next_after_ms(after, &chrono::Utc)
    }

    /// Reads the week's figures, words them and draws the chart; keeps the result.
    pub async fn refresh(&self, now: i64) -> Drawn {
        let (inputs, score, disk) = self.gather(now).await;
        let (lines, top_action) = build(&inputs);
        let mut digest = Digest {
            host: inputs.host.clone(),
            week_start_ms: inputs.week_start_ms,
            week_end_ms: inputs.week_end_ms,
            generated_ms: now,
            lines,
            top_action,
            schedule: self.config.alerts.digest.schedule.clone(),
            next_send_ms: self
                .config
                .alerts
                .digest
                .enabled
                .then(|| self.next_send_ms(now))
                .flatten(),
            ..Default::default()
        };
        let title = format!(
            "{} — week ending {}",
            self.host,
            &app::shared::format::utc_datetime(now)[..10]
        );
        let font = self.font.as_ref().ok().cloned();
        let disk_name = format!("Disk used % ({})", self.config.score.disk_mount);
        let (start, end) = (inputs.week_start_ms, inputs.week_end_ms);
        let drawn = tokio::task::spawn_blocking(move || {
            chart::draw(
                &title,
                &[
                    chart::Line {
                        name: "Health score",
                        color: SCORE_COLOR,
                        points: &score,
                    },
                    chart::Line {
                        name: &disk_name,
                        color: DISK_COLOR,
                        points: &disk,
                    },
                ],
                start,
                end,
                font.as_ref(),
            )
        })
        .await;
        let png = match drawn {
            Ok(Ok(png)) => Some(Arc::new(png)),
            Ok(Err(e)) => {
                digest.chart_error = Some(e.to_string());
                None
            }
            Err(e) => {
                digest.chart_error = Some(format!("the drawing task failed: {e}"));
                None
            }
        };
        digest.chart = png.is_some();
        if let (Some(_), Err(e)) = (&png, &self.font) {
            digest.chart_error = Some(format!("drawn without its words: {e}"));
        }
        let d = Drawn { digest, png };
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(d.clone());
        self.latest().unwrap_or(d)
    }

    /// Draws a fresh digest and sends it to every notifier but Alertmanager; audited.
    pub async fn send_now(&self, actor: &str) -> Result<Vec<DigestDelivery>, DigestError> {
        let _guard = self.sending.try_lock().map_err(|_| DigestError::Busy)?;
        let now = now_ms();
        let d = self.refresh(now).await;
        let text = app::digest::text(&d.digest);
        let subject = format!("Weekly digest: {}", d.digest.host);
        let deliveries = self
            .notifiers
            .send_digest(
                &subject,
                &text,
                &d.digest,
                d.png.as_deref().map(|v| v.as_slice()),
            )
            .await;
        *self.sent.lock().unwrap_or_else(|p| p.into_inner()) = (Some(now), deliveries.clone());
        let failed: Vec<String> = deliveries
            .iter()
            .filter_map(|x| {
                x.result
                    .as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", x.notifier))
            })
            .collect();
        let detail = format!(
            "{} notifier(s){}",
            deliveries.len(),
            if failed.is_empty() {
                String::new()
            } else {
                format!("; failed: {}", failed.join("; "))
            }
        );
        self.sources
            .audit
            .record(Entry {
                actor,
                action: Action::DigestSend,
                target: "digest",
                outcome: if failed.is_empty() {
                    Outcome::Ok
                } else {
                    Outcome::Failed
                },
                detail: Some(&detail),
            })
            .await;
        Ok(deliveries)
    }

    /// Draws the digest every few minutes and sends it on its schedule, until shutdown.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut next_send = self.next_send_ms(now_ms());
        let mut first = true;
        loop {
            let now = now_ms();
            if self.config.alerts.digest.enabled && next_send.is_some_and(|t| now >= t) {
                if let Err(e) = self.send_now("schedule").await {
                    tracing::warn!("weekly digest: {e}");
                }
                next_send = self.next_send_ms(now);
            } else {
                self.refresh(now).await;
            }
            let until_send = next_send
                .filter(|_| self.config.alerts.digest.enabled)
                .map(|t| Duration::from_millis((t - now_ms()).max(0) as u64));
            let refresh = if std::mem::take(&mut first) {
                SECOND_DRAWING
            } else {
                REFRESH
            };
            let wait = until_send.map_or(refresh, |d| d.min(refresh));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// The week's figures, the hourly score and the hourly disk use.
    async fn gather(&self, now: i64) -> (DigestInputs, Vec<(i64, f64)>, Vec<(i64, f64)>) {
        let start = now - WEEK_MS;
        let pool = self.sources.store.pool();
        let mount = self.config.score.disk_mount.clone();
        let t = &self.config.thresholds;
        let steal = self.hourly(MetricId::CpuStealPct.name(), start, now).await;
        let mem = self
            .hourly(MetricId::MemAvailableBytes.name(), start, now)
            .await;
        let disk = self
            .hourly(&MetricId::DiskUsedPct.series_key(Some(&mount)), start, now)
            .await;
        let swap = self
            .hourly(MetricId::SwapUsedBytes.name(), start, now)
            .await;
        let swap_total = self
            .hourly(MetricId::SwapTotalBytes.name(), start, now)
            .await;
        let unhealthy = self
            .hourly(MetricId::ContainersUnhealthy.name(), start, now)
            .await;
        let cleanups = cleanup_runs(pool, start - 30 * 86_400_000).await;
        let alerts = self.sources.alerts.snapshot();
        let mut firing: Vec<_> = alerts
            .active
            .iter()
            .filter(|a| a.state == AlertState::Firing && !a.silenced)
            .map(|a| (a.severity, a.summary.clone()))
            .collect();
        firing.sort_by_key(|a| std::cmp::Reverse(a.0));
        let fired_now: Vec<_> = alerts
            .active
            .iter()
            // Another replica's digest counts what that one judges.
            .filter(|a| a.state == AlertState::Firing && a.since_ms >= start)
            .filter(|a| a.judged_on.is_none())
            .map(|a| a.severity)
            .collect();
        let containers = self.sources.hub.containers();
        let unhealthy_now: Figure<Vec<String>> =
            match (&containers.items, &containers.status.message) {
                (Some(items), _) => Ok(Some(
                    items
                        .iter()
                        .filter(|c| c.health == app::containers::Health::Unhealthy)
                        .map(|c| c.name.clone())
                        .collect(),
                )),
                (None, Some(m)) => Err(m.clone()),
                (None, None) => Ok(None),
            };
        let inputs = DigestInputs {
            host: self.host.clone(),
            week_start_ms: start,
            week_end_ms: now,
            steal_avg_pct: steal.clone().map(|h| h.as_ref().and_then(average)),
            steal: Some(t.cpu_steal_pct),
            disk_used_pct: disk
                .clone()
                .map(|h| h.as_ref().and_then(|h| h.values().last().map(|v| v.0))),
            disk: t.by_key(
                app::vitals::metric_def::ThresholdKey::DiskUsed,
                Some(&mount),
            ),
            disk_mount: mount.clone(),
            freed_bytes: cleanups.clone().map(|runs| {
                Some(
                    runs.iter()
                        .filter(|r| r.0 >= start)
                        .map(|r| r.1)
                        .sum::<u64>(),
                )
            }),
            mem_available_avg: mem.clone().map(|h| h.as_ref().and_then(average)),
            swap_peak_bytes: swap.map(|h| {
                h.as_ref()
                    .and_then(|h| h.values().map(|v| v.1).reduce(f64::max))
            }),
            swap_total_bytes: swap_total
                .ok()
                .flatten()
                .and_then(|h| h.values().last().map(|v| v.0)),
            unhealthy_now,
            restarts: self
                .sources
                .audit
                .restarts_since(start)
                .await
                .map(Some)
                .map_err(|e| e.to_string()),
            models_used: models_used(pool, start).await,
            cleanups: cleanup_counts(pool, start).await,
            next_cleanup_ms: self.sources.maintenance.next_cleanup_ms(now),
            alerts_fired: self
                .sources
                .alerts
                .fired_since(start)
                .await
                .map_err(|e| e.to_string())
                .map(|(c, w)| {
                    let crit = fired_now
                        .iter()
                        .filter(|s| **s == app::alerts::Severity::Critical)
                        .count() as u64;
                    Some((c + crit, w + fired_now.len() as u64 - crit))
                }),
            firing_now: firing,
        };
        let score = hourly_score(
            &steal.unwrap_or_default().unwrap_or_default(),
            &mem.unwrap_or_default().unwrap_or_default(),
            disk.clone().unwrap_or_default().as_ref(),
            &unhealthy.unwrap_or_default().unwrap_or_default(),
            &cleanups.unwrap_or_default(),
            &mount,
        );
        let disk_points = disk
            .unwrap_or_default()
            .unwrap_or_default()
            .into_iter()
            .map(|(t, v)| (t, v.0))
            .collect();
        (inputs, score, disk_points)
    }

    /// One series over `from..=to` by the hour: hour rollups, then minute rollups and raw
    /// samples for the hours not rolled up yet. `Ok(None)`: never stored (no data).
    async fn hourly(&self, series: &str, from: i64, to: i64) -> Result<Option<Hourly>, String> {
        let store = &self.sources.store;
        let mut out = Hourly::new();
        let mut covered_until = from;
        for resolution in [Resolution::Hour, Resolution::Minute, Resolution::Raw] {
            let points = match store
                .query_between(series, resolution, covered_until, to)
                .await
            {
                Ok(p) => p,
                Err(HistoryError::UnknownMetric(_)) => return Ok(None),
                Err(e) => return Err(e.to_string()),
            };
            let width = match resolution {
                Resolution::Hour => HOUR_MS,
                Resolution::Minute => 60_000,
                Resolution::Raw | Resolution::Day => 1,
            };
            let mut hours: BTreeMap<i64, (f64, f64, u32)> = BTreeMap::new();
            for p in &points {
                let h = p.ts_ms.div_euclid(HOUR_MS) * HOUR_MS;
                let e = hours.entry(h).or_insert((0.0, f64::MIN, 0));
                e.0 += p.avg;
                e.1 = e.1.max(p.max);
                e.2 += 1;
                covered_until = covered_until.max(p.ts_ms + width);
            }
            for (h, (sum, max, n)) in hours {
                out.entry(h).or_insert((sum / f64::from(n), max));
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

fn average(h: &Hourly) -> Option<f64> {
    (!h.is_empty()).then(|| h.values().map(|v| v.0).sum::<f64>() / h.len() as f64)
}

/// The health score hour by hour, from the hours' averages and the cleanups before each
/// (the same `compute` as the live score).
fn hourly_score(
    steal: &Hourly,
    mem: &Hourly,
    disk: Option<&Hourly>,
    unhealthy: &Hourly,
    cleanups: &[(i64, u64)],
    mount: &str,
) -> Vec<(i64, f64)> {
    let empty = Hourly::new();
    let disk = disk.unwrap_or(&empty);
    let hours: std::collections::BTreeSet<i64> = steal
        .keys()
        .chain(mem.keys())
        .chain(disk.keys())
        .copied()
        .collect();
    let get = |h: &Hourly, t: i64| h.get(&t).map(|v| v.0).ok_or_else(|| "no data".to_string());
    hours
        .into_iter()
        .filter_map(|t| {
            let end = t + HOUR_MS;
            let last = cleanups
                .iter()
                .filter(|c| c.0 <= end)
                .max_by_key(|c| c.0)
                .map(|c| CleanupInfo {
                    age_secs: (end - c.0) as f64 / 1000.0,
                    freed_bytes: c.1,
                })
                .ok_or_else(|| "no cleanup before".to_string());
            let s = compute(&ScoreInputs {
                steal_pct: get(steal, t),
                mem_available_bytes: get(mem, t),
                disk_used_pct: get(disk, t),
                unhealthy_containers: unhealthy
                    .get(&t)
                    .map(|v| v.1.round() as u32)
                    .ok_or_else(|| "no data".to_string()),
                last_cleanup: last,
                disk_mount: mount.to_string(),
                vram_free_bytes: None,
            });
            s.value.map(|v| (t, f64::from(v)))
        })
        .collect()
}

/// Cleanups that did something since `from`: (end, freed bytes).
async fn cleanup_runs(pool: &SqlitePool, from: i64) -> Result<Vec<(i64, u64)>, String> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT COALESCE(ended_ms, started_ms), freed_bytes FROM cleanup_runs
         WHERE started_ms >= ? AND dry_run = 0 AND result IN ('ok', 'partial') ORDER BY started_ms",
    )
    .bind(from)
    .fetch_all(pool)
    .await
    .map_err(|e| e.to_string())?;
    Ok(rows
        .into_iter()
        .map(|(t, b)| (t, b.max(0) as u64))
        .collect())
}

async fn cleanup_counts(pool: &SqlitePool, from: i64) -> Figure<(u64, u64)> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT trigger, COUNT(*) FROM cleanup_runs WHERE started_ms >= ? AND dry_run = 0 GROUP BY trigger",
    )
    .bind(from)
    .fetch_all(pool)
    .await
    .map_err(|e| e.to_string())?;
    let count = |t: &str| {
        rows.iter()
            .filter(|r| r.0 == t)
            .map(|r| r.1.max(0) as u64)
            .sum()
    };
    Ok(Some((
        count("scheduled"),
        count("manual") + count("imported"),
    )))
}

async fn models_used(pool: &SqlitePool, from: i64) -> Figure<Vec<(String, u64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT model, COUNT(*) FROM model_loads WHERE ts_ms >= ? GROUP BY model ORDER BY 2 DESC, 1 LIMIT 10",
    )
    .bind(from)
    .fetch_all(pool)
    .await
    .map_err(|e| e.to_string())?;
    Ok(Some(
        rows.into_iter()
            .map(|(m, n)| (m, n.max(0) as u64))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hourly_score_uses_the_live_score() {
        let h = |v: f64| -> Hourly { [(0, (v, v)), (HOUR_MS, (v, v))].into_iter().collect() };
        let points = hourly_score(&h(0.5), &h(16e9), Some(&h(30.0)), &h(0.0), &[], "/");
        assert_eq!(points.len(), 2);
        // Every known dimension healthy: the score is at the top.
        assert!(points[0].1 >= 90.0, "{points:?}");
        let bad = hourly_score(&h(25.0), &h(0.2e9), Some(&h(97.0)), &h(5.0), &[], "/");
        assert!(bad[0].1 < points[0].1, "{bad:?}");
        assert!(hourly_score(
            &Hourly::new(),
            &Hourly::new(),
            None,
            &Hourly::new(),
            &[],
            "/"
        )
        .is_empty());
    }
}
