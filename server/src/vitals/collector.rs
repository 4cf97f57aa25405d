//! The host vitals collector: CPU, load, memory, swap, disks, I/O, network, processes and PSI,
//! read through `--path.procfs`, `--path.sysfs` and `--path.rootfs`.
//!
//! Rates and percentages come from the difference of two samples, so the first round samples
//! twice (a short warm-up apart). A reading that fails makes that one metric unknown with the
//! reason and marks the round degraded; it never stops the other readings and never reads as 0.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::vitals::metric_def::MetricId;
use app::vitals::thresholds::Thresholds;
use app::vitals::{Metric, ProcessInfo, Vitals};
use tokio_util::sync::CancellationToken;

use super::procfs::{self, DiskIo, LoadAvg, MemInfo, Mount, NetIo, ParseError, PidStat, Pressure};
use crate::config::{Config, HostPaths};
use crate::platform::bus::{local_host, Bus, Event};
use crate::platform::periodic;

/// The collector's name in status reports and `/metrics`.
pub const NAME: &str = "vitals";

/// Why one reading failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Why a whole round failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("no reading succeeded: {0}")]
    NothingRead(String),
}

fn read(path: &Path) -> Result<String, ReadError> {
    std::fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Filesystem usage of one mount.
#[derive(Clone, Copy, Debug, PartialEq)]
struct FsUsage {
    used_pct: f64,
}

/// One process as read, before CPU rates are derived.
#[derive(Clone, Debug)]
struct ProcSample {
    stat: PidStat,
}

#[derive(Debug)]
struct Processes {
    list: Vec<ProcSample>,
    uptime_secs: f64,
}

/// Each real filesystem with its usage (`None` for one with no blocks), or why it failed.
type DiskReadings = Vec<(Mount, Result<Option<FsUsage>, ReadError>)>;

/// Everything read from the host in one go; rates come from two of these.
struct RawSample {
    at: Instant,
    wall_ms: i64,
    host: Result<String, ReadError>,
    stat: Result<procfs::Stat, ReadError>,
    load: Result<LoadAvg, ReadError>,
    mem: Result<MemInfo, ReadError>,
    disks: Result<DiskReadings, ReadError>,
    disk_io: Result<DiskIo, ReadError>,
    net_io: Result<NetIo, ReadError>,
    procs: Result<Processes, ReadError>,
    /// `None` when the kernel has no pressure-stall information.
    pressure: Vec<(&'static str, Result<Option<Pressure>, ReadError>)>,
}

/// The result of one round.
#[derive(Debug)]
pub struct Collected {
    pub vitals: Vitals,
    /// Readings that failed this round; empty when all went well.
    pub problems: Vec<String>,
}

/// Reads host vitals. Holds the previous sample to derive rates.
pub struct VitalsCollector {
    paths: HostPaths,
    thresholds: Thresholds,
    top_n: usize,
    warmup: Duration,
    clock_ticks: f64,
    page_size: u64,
    prev: Option<RawSample>,
}

impl VitalsCollector {
    pub fn new(config: &Config) -> Self {
        Self {
            paths: config.paths.clone(),
            thresholds: config.thresholds.clone(),
            top_n: config.collector.top_processes,
            warmup: Duration::from_secs(1).min(config.collector.interval()),
            clock_ticks: rustix::param::clock_ticks_per_second() as f64,
            page_size: rustix::param::page_size() as u64,
            prev: None,
        }
    }

    fn proc_path(&self, rel: &str) -> PathBuf {
        self.paths.procfs.join(rel)
    }

    /// One round: read the host, derive rates against the previous sample (taking a warm-up
    /// sample first if there is none). Blocking file I/O: call it from a blocking thread.
    pub fn collect_once(&mut self) -> Result<Collected, CollectError> {
        if self.prev.is_none() {
            self.prev = Some(self.sample());
            std::thread::sleep(self.warmup);
        }
        let cur = self.sample();
        let prev = self.prev.take().expect("set above");
        let result = self.derive(&prev, &cur);
        self.prev = Some(cur);
        result
    }

    fn sample(&self) -> RawSample {
        let stat = read(&self.proc_path("stat")).and_then(|t| Ok(procfs::parse_stat(&t)?));
        RawSample {
            at: Instant::now(),
            wall_ms: app::shared::clock::now_ms(),
            host: read(&self.proc_path("sys/kernel/hostname")).map(|h| h.trim().to_string()),
            stat,
            load: read(&self.proc_path("loadavg")).and_then(|t| Ok(procfs::parse_loadavg(&t)?)),
            mem: read(&self.proc_path("meminfo")).and_then(|t| Ok(procfs::parse_meminfo(&t)?)),
            disks: self.read_disks(),
            disk_io: self.read_disk_io(),
            net_io: read(&self.proc_path("net/dev")).and_then(|t| Ok(procfs::parse_net_dev(&t)?)),
            procs: self.read_processes(),
            pressure: ["cpu", "memory", "io"]
                .into_iter()
                .map(|r| (r, self.read_pressure(r)))
                .collect(),
        }
    }

    fn read_disks(&self) -> Result<DiskReadings, ReadError> {
        // In a container the host's root is mounted elsewhere (`--path.rootfs`), and the
        // container's own mount table is not the host's: read init's (PID 1, with `pid: host`),
        // as node_exporter does.
        let init = self.proc_path("1/mounts");
        let table = if self.paths.rootfs != std::path::Path::new("/") && init.exists() {
            init
        } else {
            self.proc_path("mounts")
        };
        let mounts = procfs::parse_mounts(&read(&table)?);
        Ok(mounts
            .into_iter()
            .map(|m| {
                let path = self
                    .paths
                    .rootfs
                    .join(m.mount_point.trim_start_matches('/'));
                let usage = statvfs_usage(&path);
                (m, usage)
            })
            .collect())
    }

    fn read_disk_io(&self) -> Result<DiskIo, ReadError> {
        let text = read(&self.proc_path("diskstats"))?;
        // /sys/block lists whole disks only; without it, fall back to the name heuristic.
        let whole: Option<Vec<String>> = std::fs::read_dir(self.paths.sysfs.join("block"))
            .ok()
            .map(|dir| {
                dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            });
        let parsed = match whole {
            Some(whole) => procfs::parse_diskstats(&text, |d| {
                whole.iter().any(|w| w == d) && !procfs::skip_block_device(d)
            }),
            None => procfs::parse_diskstats(&text, |d| !procfs::skip_block_device(d)),
        };
        Ok(parsed?)
    }

    fn read_processes(&self) -> Result<Processes, ReadError> {
        let uptime_secs = procfs::parse_uptime(&read(&self.proc_path("uptime"))?)?;
        let dir = std::fs::read_dir(&self.paths.procfs).map_err(|source| ReadError::Io {
            path: self.paths.procfs.clone(),
            source,
        })?;
        let mut list = Vec::new();
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            // A process may exit between listing and reading: that is not an error.
            let Ok(text) = std::fs::read_to_string(self.paths.procfs.join(pid).join("stat")) else {
                continue;
            };
            if let Ok(stat) = procfs::parse_pid_stat(&text) {
                list.push(ProcSample { stat });
            }
        }
        Ok(Processes { list, uptime_secs })
    }

    fn read_pressure(&self, resource: &str) -> Result<Option<Pressure>, ReadError> {
        let path = self.proc_path(&format!("pressure/{resource}"));
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(procfs::parse_pressure(&text)?)),
            // Absent (old kernel) or switched off (psi=0 gives EOPNOTSUPP): not a failure.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(95) => {
                Ok(None)
            }
            Err(source) => Err(ReadError::Io { path, source }),
        }
    }

    /// One round's vitals from two raw samples: each family of metrics in its own function,
    /// all pushed through one [`MetricSink`] that judges them against their thresholds.
    fn derive(&self, prev: &RawSample, cur: &RawSample) -> Result<Collected, CollectError> {
        let mut out = MetricSink::new(&self.thresholds);
        let secs = cur.at.duration_since(prev.at).as_secs_f64();
        let cores = cpu_and_load(&mut out, prev, cur);
        memory_and_swap(&mut out, cur);
        filesystems(&mut out, cur);
        io_rates(&mut out, prev, cur, secs);
        let (top_rss, top_cpu) = self.processes(&mut out, prev, cur, secs);
        pressure(&mut out, cur);
        let mut problems = out.problems.clone();
        let host = match &cur.host {
            Ok(h) => h.clone(),
            Err(e) => {
                problems.push(e.to_string());
                "unknown-host".into()
            }
        };
        if out.metrics.iter().all(|m| m.value.is_none()) {
            return Err(CollectError::NothingRead(problems.join("; ")));
        }
        Ok(Collected {
            vitals: Vitals {
                host,
                cores,
                collected_at_ms: cur.wall_ms,
                metrics: out.metrics,
                top_rss,
                top_cpu,
            },
            problems,
        })
    }

    /// D-state and watched process counts, and the top consumers.
    fn processes(
        &self,
        out: &mut MetricSink<'_>,
        prev: &RawSample,
        cur: &RawSample,
        secs: f64,
    ) -> (Vec<ProcessInfo>, Vec<ProcessInfo>) {
        let (mut top_rss, mut top_cpu) = (Vec::new(), Vec::new());
        match &cur.procs {
            Ok(procs) => {
                let d_state = procs.list.iter().filter(|p| p.stat.state == 'D').count();
                out.push(MetricId::ProcsDState, None, Ok(d_state as f64));
                for watch in &self.thresholds.process_watch {
                    let n = procs
                        .list
                        .iter()
                        .filter(|p| p.stat.comm == watch.name)
                        .count();
                    out.push(MetricId::ProcessCount, Some(&watch.name), Ok(n as f64));
                }
                (top_rss, top_cpu) = self.top_processes(prev, procs, secs);
            }
            Err(e) => {
                out.push(MetricId::ProcsDState, None, Err(e.to_string()));
                for watch in &self.thresholds.process_watch {
                    out.push(
                        MetricId::ProcessCount,
                        Some(&watch.name),
                        Err(e.to_string()),
                    );
                }
            }
        }

        (top_rss, top_cpu)
    }

    fn top_processes(
        &self,
        prev: &RawSample,
        procs: &Processes,
        secs: f64,
    ) -> (Vec<ProcessInfo>, Vec<ProcessInfo>) {
        let before: HashMap<(u32, u64), u64> = prev
            .procs
            .as_ref()
            .map(|p| {
                p.list
                    .iter()
                    .map(|s| ((s.stat.pid, s.stat.start_ticks), s.stat.cpu_ticks))
                    .collect()
            })
            .unwrap_or_default();
        let info = |s: &ProcSample| {
            let cpu_pct = before
                .get(&(s.stat.pid, s.stat.start_ticks))
                .filter(|_| secs > 0.0)
                .map(|t0| {
                    s.stat.cpu_ticks.saturating_sub(*t0) as f64 / self.clock_ticks / secs * 100.0
                });
            ProcessInfo {
                pid: s.stat.pid,
                name: s.stat.comm.clone(),
                rss_bytes: s.stat.rss_pages * self.page_size,
                cpu_pct,
                runtime_secs: (procs.uptime_secs - s.stat.start_ticks as f64 / self.clock_ticks)
                    .max(0.0) as u64,
            }
        };
        let mut all: Vec<ProcessInfo> = procs.list.iter().map(info).collect();
        all.sort_by(|a, b| b.rss_bytes.cmp(&a.rss_bytes).then(a.pid.cmp(&b.pid)));
        let top_rss = all.iter().take(self.top_n).cloned().collect();
        let mut by_cpu: Vec<ProcessInfo> =
            all.into_iter().filter(|p| p.cpu_pct.is_some()).collect();
        by_cpu.sort_by(|a, b| {
            b.cpu_pct
                .partial_cmp(&a.cpu_pct)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.pid.cmp(&b.pid))
        });
        by_cpu.truncate(self.top_n);
        (top_rss, by_cpu)
    }
}

/// One value out of a reading that may have failed.
fn pick<T>(reading: &Result<&T, String>, f: impl Fn(&T) -> f64) -> Result<f64, String> {
    reading.as_ref().map(|r| f(r)).map_err(Clone::clone)
}

/// `used / total × 100`, or an error when `total` is 0.
fn ratio_pct(used: u64, total: u64, zero: &str) -> Result<f64, String> {
    if total == 0 {
        Err(zero.to_string())
    } else {
        Ok(used as f64 / total as f64 * 100.0)
    }
}

/// Used percent as `df` computes it: used / (used + available to users). `None` for a
/// filesystem with no blocks (some virtual mounts).
fn statvfs_usage(path: &Path) -> Result<Option<FsUsage>, ReadError> {
    let st = rustix::fs::statvfs(path).map_err(|e| ReadError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    if st.f_blocks == 0 {
        return Ok(None);
    }
    let used = st.f_blocks.saturating_sub(st.f_bfree);
    let denom = used + st.f_bavail;
    Ok(Some(FsUsage {
        used_pct: if denom == 0 {
            0.0
        } else {
            used as f64 / denom as f64 * 100.0
        },
    }))
}

/// CPU shares and load; returns the core count (0 when unknown).
fn cpu_and_load(out: &mut MetricSink<'_>, prev: &RawSample, cur: &RawSample) -> u32 {
    let cores = cur.stat.as_ref().map(|s| s.cores).unwrap_or(0);
    let cpu = match (&prev.stat, &cur.stat) {
        (Ok(a), Ok(b)) => procfs::cpu_percent(&a.cpu, &b.cpu)
            .ok_or_else(|| "no CPU time passed between samples".to_string()),
        (_, Err(e)) | (Err(e), _) => Err(e.to_string()),
    };
    out.push(
        MetricId::CpuBusyPct,
        None,
        cpu.as_ref().map(|c| c.busy).map_err(Clone::clone),
    );
    out.push(
        MetricId::CpuStealPct,
        None,
        cpu.as_ref().map(|c| c.steal).map_err(Clone::clone),
    );
    out.push(
        MetricId::CpuIowaitPct,
        None,
        cpu.as_ref().map(|c| c.iowait).map_err(Clone::clone),
    );

    // Load.
    let load = cur.load.as_ref().map_err(ToString::to_string);
    out.push(MetricId::Load1, None, pick(&load, |l| l.one));
    out.push(MetricId::Load5, None, pick(&load, |l| l.five));
    out.push(MetricId::Load15, None, pick(&load, |l| l.fifteen));
    let per_core = match (load, cores) {
        (Ok(l), c) if c > 0 => Ok(l.one / f64::from(c)),
        (Ok(_), _) => Err("core count unknown (/proc/stat unreadable)".to_string()),
        (Err(e), _) => Err(e.clone()),
    };
    out.push(MetricId::Load1PerCore, None, per_core);

    cores
}

/// Memory and swap, with notes on estimates and absent swap.
fn memory_and_swap(out: &mut MetricSink<'_>, cur: &RawSample) {
    let mem = cur.mem.as_ref().map_err(ToString::to_string);
    out.push(
        MetricId::MemTotalBytes,
        None,
        pick(&mem, |m| m.total as f64),
    );
    out.push(
        MetricId::MemAvailableBytes,
        None,
        pick(&mem, |m| m.available as f64),
    );
    out.push(
        MetricId::MemUsedPct,
        None,
        mem.clone().and_then(|m| {
            ratio_pct(
                m.total.saturating_sub(m.available),
                m.total,
                "MemTotal is 0",
            )
        }),
    );
    if let Ok(m) = &mem {
        if m.available_estimated {
            out.note_last_two(
                "estimated: this kernel has no MemAvailable (MemFree + Buffers + Cached + SReclaimable − Shmem)",
            );
        }
    }
    out.push(
        MetricId::SwapTotalBytes,
        None,
        pick(&mem, |m| m.swap_total as f64),
    );
    out.push(
        MetricId::SwapUsedBytes,
        None,
        pick(&mem, |m| m.swap_total.saturating_sub(m.swap_free) as f64),
    );
    out.push(
        MetricId::SwapUsedPct,
        None,
        pick(&mem, |m| {
            if m.swap_total == 0 {
                0.0
            } else {
                m.swap_total.saturating_sub(m.swap_free) as f64 / m.swap_total as f64 * 100.0
            }
        }),
    );
    if matches!(mem, Ok(m) if m.swap_total == 0) {
        out.note_last_two("no swap configured");
    }
    out.push(
        MetricId::SwapCachedBytes,
        None,
        pick(&mem, |m| m.swap_cached as f64),
    );
}

/// Used percent per real filesystem.
fn filesystems(out: &mut MetricSink<'_>, cur: &RawSample) {
    match &cur.disks {
        Ok(disks) => {
            for (mount, usage) in disks {
                let value = match usage {
                    Ok(Some(u)) => Ok(u.used_pct),
                    Ok(None) => continue,
                    Err(e) => Err(e.to_string()),
                };
                out.push(MetricId::DiskUsedPct, Some(&mount.mount_point), value);
            }
        }
        Err(e) => out.push(MetricId::DiskUsedPct, Some("/"), Err(e.to_string())),
    }
}

/// Disk and network byte rates between the two samples.
fn io_rates(out: &mut MetricSink<'_>, prev: &RawSample, cur: &RawSample, secs: f64) {
    let rate = |a: u64, b: u64| -> Result<f64, String> {
        if secs <= 0.0 {
            return Err("no time passed between samples".into());
        }
        b.checked_sub(a)
            .map(|d| d as f64 / secs)
            .ok_or_else(|| "counter went backwards (device reset); next round will tell".into())
    };
    let disk_rates = match (&prev.disk_io, &cur.disk_io) {
        (Ok(a), Ok(b)) => Ok((
            rate(a.read_bytes, b.read_bytes),
            rate(a.write_bytes, b.write_bytes),
        )),
        (_, Err(e)) | (Err(e), _) => Err(e.to_string()),
    };
    out.push(
        MetricId::DiskReadBps,
        None,
        disk_rates.clone().and_then(|r| r.0),
    );
    out.push(MetricId::DiskWriteBps, None, disk_rates.and_then(|r| r.1));
    let net_rates = match (&prev.net_io, &cur.net_io) {
        (Ok(a), Ok(b)) => Ok((rate(a.rx_bytes, b.rx_bytes), rate(a.tx_bytes, b.tx_bytes))),
        (_, Err(e)) | (Err(e), _) => Err(e.to_string()),
    };
    out.push(
        MetricId::NetRxBps,
        None,
        net_rates.clone().and_then(|r| r.0),
    );
    out.push(MetricId::NetTxBps, None, net_rates.and_then(|r| r.1));
}

/// Pressure stall information, where the kernel has it.
fn pressure(out: &mut MetricSink<'_>, cur: &RawSample) {
    for (resource, pressure) in &cur.pressure {
        let name = match *resource {
            "cpu" => MetricId::PsiCpuSomeAvg10,
            "memory" => MetricId::PsiMemorySomeAvg10,
            _ => MetricId::PsiIoSomeAvg10,
        };
        match pressure {
            Ok(Some(p)) => out.push(name, None, Ok(p.some_avg10)),
            Ok(None) => {}
            Err(e) => out.push(name, None, Err(e.to_string())),
        }
    }
}

/// Collects metrics with their levels and the reasons of those that failed.
struct MetricSink<'a> {
    thresholds: &'a Thresholds,
    metrics: Vec<Metric>,
    problems: Vec<String>,
}

impl<'a> MetricSink<'a> {
    fn new(thresholds: &'a Thresholds) -> Self {
        Self {
            thresholds,
            metrics: Vec::with_capacity(32),
            problems: Vec::new(),
        }
    }

    fn push(&mut self, id: MetricId, label: Option<&str>, value: Result<f64, String>) {
        let def = id.def();
        let (name, unit) = (def.name, def.unit);
        let threshold = def.threshold.and_then(|k| self.thresholds.by_key(k, label));
        // A derived value (a ratio of two readings) can still come out non-finite: unknown.
        let value = value.and_then(|v| {
            if v.is_finite() {
                Ok(v)
            } else {
                Err(format!("the reading is not a finite number ({v})"))
            }
        });
        let (value, level, note) = match value {
            Ok(v) => (
                Some(v),
                threshold
                    .map(|t| t.level(v))
                    .unwrap_or(app::vitals::Level::Ok),
                None,
            ),
            Err(reason) => {
                let key = app::vitals::series_key(name, label);
                if !self.problems.iter().any(|p| p.ends_with(&reason)) {
                    self.problems.push(format!("{key}: {reason}"));
                }
                (None, app::vitals::Level::Unknown, Some(reason))
            }
        };
        self.metrics.push(Metric {
            name: name.to_string(),
            label: label.map(str::to_string),
            value,
            unit,
            level,
            warn: threshold.and_then(|t| t.warn),
            crit: threshold.and_then(|t| t.crit),
            note,
        });
    }

    /// Attaches a note to the last two metrics pushed (a value and its derived percentage).
    fn note_last_two(&mut self, note: &str) {
        let n = self.metrics.len();
        for m in &mut self.metrics[n.saturating_sub(2)..] {
            if m.note.is_none() {
                m.note = Some(note.to_string());
            }
        }
    }
}

/// Runs rounds on a blocking thread (they read files): a read stuck on a dead mount keeps its
/// thread and the collector's lock, so later rounds say so instead of piling up threads.
struct OnBlockingThread(Arc<Mutex<VitalsCollector>>);

impl periodic::Collector for OnBlockingThread {
    type Data = Vitals;

    fn name(&self) -> &'static str {
        NAME
    }

    async fn collect(&mut self) -> Result<periodic::Collected<Vitals>, String> {
        let worker = self.0.clone();
        let round = tokio::task::spawn_blocking(move || match worker.try_lock() {
            Ok(mut c) => Some(c.collect_once()),
            Err(_) => None,
        });
        match round.await {
            Ok(Some(Ok(c))) => Ok(periodic::Collected {
                data: c.vitals,
                problems: c.problems,
            }),
            Ok(Some(Err(e))) => Err(e.to_string()),
            Ok(None) => Err("previous round is still running (a read is hanging)".into()),
            Err(e) => Err(format!("round crashed: {e}")),
        }
    }
}

/// Runs the collector every interval until cancelled, publishing vitals and status on the bus.
/// A round stuck on a dead mount is reported as an error after `round_timeout`, and later
/// rounds are skipped (and say so) until it returns.
pub async fn run(
    collector: VitalsCollector,
    interval: Duration,
    round_timeout: Duration,
    bus: Arc<Bus>,
    cancel: CancellationToken,
) {
    let collector = OnBlockingThread(Arc::new(Mutex::new(collector)));
    let host = local_host();
    periodic::run(
        collector,
        interval,
        round_timeout,
        cancel,
        move |vitals, status| {
            bus.publish(Event::Vitals {
                host: host.clone(),
                vitals: vitals.map(Arc::new),
                status,
            })
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_config(procfs: &Path) -> Config {
        let mut c = Config::default();
        c.paths.procfs = procfs.to_path_buf();
        c.paths.sysfs = procfs.join("../sysfs");
        c.paths.rootfs = std::env::temp_dir();
        c.collector.interval_secs = 1;
        c
    }

    fn fixture_procfs() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/procfs")
    }

    #[test]
    fn missing_procfs_is_an_error_not_zeros() {
        let mut c = VitalsCollector::new(&fixture_config(Path::new("/nonexistent-steward-proc")));
        c.warmup = Duration::ZERO;
        let err = c.collect_once().unwrap_err().to_string();
        assert!(err.contains("/nonexistent-steward-proc/stat"), "{err}");
    }

    #[test]
    fn fixture_tree_reads_every_metric() {
        let mut c = VitalsCollector::new(&fixture_config(&fixture_procfs()));
        c.warmup = Duration::ZERO;
        let got = c.collect_once().unwrap();
        let v = &got.vitals;
        assert_eq!(v.host, "fixture-host");
        for m in &v.metrics {
            assert!(
                app::vitals::is_known_series(&m.series_key()),
                "{} missing from METRIC_NAMES",
                m.name
            );
        }
        assert_eq!(v.cores, 2);
        // The same stat file twice: no CPU time passed, so CPU percentages are unknown, not 0.
        let steal = v.metric("cpu_steal_pct", None).unwrap();
        assert_eq!(steal.value, None);
        assert_eq!(steal.level, app::vitals::Level::Unknown);
        assert!(got
            .problems
            .iter()
            .any(|p| p.contains("no CPU time passed")));
        assert_eq!(v.value("load1_per_core", None), Ok(1.7));
        assert_eq!(
            v.value("mem_available_bytes", None),
            Ok(9_000_000.0 * 1024.0)
        );
        assert_eq!(v.value("swap_cached_bytes", None), Ok(300_000.0 * 1024.0));
        assert_eq!(v.value("swap_used_pct", None), Ok(25.0));
        assert_eq!(v.value("procs_d_state", None), Ok(1.0));
        let rclone = v.metric("process_count", Some("rclone")).unwrap();
        assert_eq!(rclone.value, Some(3.0));
        assert_eq!(rclone.level, app::vitals::Level::Warn);
        assert_eq!(v.value("psi_memory_some_avg10", None), Ok(12.5));
        assert_eq!(v.top_rss[0].name, "python3");
        assert_eq!(v.top_rss[0].rss_bytes, 2_000_000 * c.page_size);
        // Mount points that do not exist under the rootfs are unknown with the reason.
        let data = v.metric("disk_used_pct", Some("/mnt/data disk")).unwrap();
        assert_eq!(data.value, None);
        assert!(data.note.as_deref().unwrap().contains("cannot read"));
    }
}
