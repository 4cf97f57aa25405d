//! One definition per metric: its id, name (the history key's stem and the API's `name`), title,
//! unit, what its label means, which threshold judges it and its `/metrics` family. Every table
//! that used to repeat these (titles, thresholds, `/metrics` names, history keys, trends) reads
//! them from here, so a new metric is one entry in [`METRICS`].

use serde::{Deserialize, Serialize};

use crate::vitals::Unit;

/// Every metric Steward collects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricId {
    CpuBusyPct,
    CpuStealPct,
    CpuIowaitPct,
    Load1,
    Load5,
    Load15,
    Load1PerCore,
    MemTotalBytes,
    MemAvailableBytes,
    MemUsedPct,
    SwapTotalBytes,
    SwapUsedBytes,
    SwapUsedPct,
    SwapCachedBytes,
    DiskUsedPct,
    DiskReadBps,
    DiskWriteBps,
    NetRxBps,
    NetTxBps,
    ProcsDState,
    ProcessCount,
    PsiCpuSomeAvg10,
    PsiMemorySomeAvg10,
    PsiIoSomeAvg10,
    ContainersUnhealthy,
    ContainerWriteBps,
    DiskCulpritBytes,
    ModelCheckMs,
    ModelRequestsRunning,
    ModelRequestsWaiting,
    ModelTokensPerSecond,
    GpuUtilPct,
    GpuVramUsedBytes,
    GpuTemperatureC,
    GpuPowerW,
}

/// What a metric's label distinguishes, and the label name `/metrics` exports it under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelKind {
    /// One value per host.
    None,
    /// One value per mounted filesystem.
    Mountpoint,
    /// One value per watched process name.
    Process,
    /// One value per container.
    Container,
    /// One value per thing that takes disk space (`docker_images`, `container_logs:api`).
    Item,
    /// One value per configured model backend.
    Backend,
    /// One value per GPU (its index).
    Gpu,
}

impl LabelKind {
    /// The Prometheus label name of this kind.
    pub fn export_label(self) -> &'static str {
        match self {
            LabelKind::None => "instance",
            LabelKind::Mountpoint => "mountpoint",
            LabelKind::Process => "process",
            LabelKind::Container => "container",
            LabelKind::Item => "item",
            LabelKind::Backend => "backend",
            LabelKind::Gpu => "gpu",
        }
    }
}

/// Which configured threshold judges a metric (a field of [`crate::vitals::thresholds::Thresholds`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdKey {
    CpuSteal,
    CpuIowait,
    CpuBusy,
    LoadPerCore,
    MemUsed,
    SwapUsed,
    SwapCached,
    DiskUsed,
    ProcsDState,
    PsiSomeAvg10,
    /// The watch entry whose process name is the metric's label.
    ProcessWatch,
}

/// Where a metric comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Vitals,
    Docker,
    Maintenance,
    Models,
}

/// Everything Steward knows about one metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricDef {
    pub id: MetricId,
    /// The stable machine name: the API's `name`, the history key (`name` or `name:label`).
    pub name: &'static str,
    pub title: &'static str,
    pub unit: Unit,
    pub label: LabelKind,
    pub threshold: Option<ThresholdKey>,
    /// The `/metrics` family, in base units (`_percent`, `_bytes_per_second`).
    pub export: &'static str,
    pub source: Source,
}

// One argument per column keeps the table below one readable row per metric.
#[allow(clippy::too_many_arguments)]
const fn def(
    id: MetricId,
    name: &'static str,
    title: &'static str,
    unit: Unit,
    label: LabelKind,
    threshold: Option<ThresholdKey>,
    export: &'static str,
    source: Source,
) -> MetricDef {
    MetricDef {
        id,
        name,
        title,
        unit,
        label,
        threshold,
        export,
        source,
    }
}

use LabelKind as L;
use MetricId as M;
use Source::{Docker, Maintenance, Models, Vitals};
use ThresholdKey as T;

/// The metric table, in the order the vitals collector reports them.
#[rustfmt::skip]
pub const METRICS: &[MetricDef] = &[
    def(M::CpuBusyPct, "cpu_busy_pct", "CPU busy", Unit::Percent, L::None, Some(T::CpuBusy), "steward_cpu_busy_percent", Vitals),
    def(M::CpuStealPct, "cpu_steal_pct", "CPU steal", Unit::Percent, L::None, Some(T::CpuSteal), "steward_cpu_steal_percent", Vitals),
    def(M::CpuIowaitPct, "cpu_iowait_pct", "CPU iowait", Unit::Percent, L::None, Some(T::CpuIowait), "steward_cpu_iowait_percent", Vitals),
    def(M::Load1, "load1", "Load 1m", Unit::Load, L::None, None, "steward_load1", Vitals),
    def(M::Load5, "load5", "Load 5m", Unit::Load, L::None, None, "steward_load5", Vitals),
    def(M::Load15, "load15", "Load 15m", Unit::Load, L::None, None, "steward_load15", Vitals),
    def(M::Load1PerCore, "load1_per_core", "Load per core", Unit::Load, L::None, Some(T::LoadPerCore), "steward_load1_per_core", Vitals),
    def(M::MemTotalBytes, "mem_total_bytes", "Memory total", Unit::Bytes, L::None, None, "steward_mem_total_bytes", Vitals),
    def(M::MemAvailableBytes, "mem_available_bytes", "Memory available", Unit::Bytes, L::None, None, "steward_mem_available_bytes", Vitals),
    def(M::MemUsedPct, "mem_used_pct", "Memory used", Unit::Percent, L::None, Some(T::MemUsed), "steward_mem_used_percent", Vitals),
    def(M::SwapTotalBytes, "swap_total_bytes", "Swap total", Unit::Bytes, L::None, None, "steward_swap_total_bytes", Vitals),
    def(M::SwapUsedBytes, "swap_used_bytes", "Swap used", Unit::Bytes, L::None, None, "steward_swap_used_bytes", Vitals),
    def(M::SwapUsedPct, "swap_used_pct", "Swap used %", Unit::Percent, L::None, Some(T::SwapUsed), "steward_swap_used_percent", Vitals),
    def(M::SwapCachedBytes, "swap_cached_bytes", "Swap cached", Unit::Bytes, L::None, Some(T::SwapCached), "steward_swap_cached_bytes", Vitals),
    def(M::DiskUsedPct, "disk_used_pct", "Disk used", Unit::Percent, L::Mountpoint, Some(T::DiskUsed), "steward_disk_used_percent", Vitals),
    def(M::DiskReadBps, "disk_read_bps", "Disk read", Unit::BytesPerSecond, L::None, None, "steward_disk_read_bytes_per_second", Vitals),
    def(M::DiskWriteBps, "disk_write_bps", "Disk write", Unit::BytesPerSecond, L::None, None, "steward_disk_write_bytes_per_second", Vitals),
    def(M::NetRxBps, "net_rx_bps", "Network in", Unit::BytesPerSecond, L::None, None, "steward_net_rx_bytes_per_second", Vitals),
    def(M::NetTxBps, "net_tx_bps", "Network out", Unit::BytesPerSecond, L::None, None, "steward_net_tx_bytes_per_second", Vitals),
    // promtool's linter rejects the abbreviation `procs` and a `_count` suffix on a gauge.
    def(M::ProcsDState, "procs_d_state", "Stuck (D state)", Unit::Count, L::None, Some(T::ProcsDState), "steward_processes_uninterruptible", Vitals),
    def(M::ProcessCount, "process_count", "Processes", Unit::Count, L::Process, Some(T::ProcessWatch), "steward_watched_processes", Vitals),
    def(M::PsiCpuSomeAvg10, "psi_cpu_some_avg10", "CPU pressure", Unit::Percent, L::None, Some(T::PsiSomeAvg10), "steward_psi_cpu_some_avg10", Vitals),
    def(M::PsiMemorySomeAvg10, "psi_memory_some_avg10", "Memory pressure", Unit::Percent, L::None, Some(T::PsiSomeAvg10), "steward_psi_memory_some_avg10", Vitals),
    def(M::PsiIoSomeAvg10, "psi_io_some_avg10", "I/O pressure", Unit::Percent, L::None, Some(T::PsiSomeAvg10), "steward_psi_io_some_avg10", Vitals),
    def(M::ContainersUnhealthy, "containers_unhealthy", "Unhealthy containers", Unit::Count, L::None, None, "steward_containers_unhealthy", Docker),
    def(M::ContainerWriteBps, "container_write_bps", "Container block writes", Unit::BytesPerSecond, L::Container, None, "steward_container_block_write_bytes_per_second", Docker),
    def(M::DiskCulpritBytes, "disk_culprit_bytes", "Disk use by item", Unit::Bytes, L::Item, None, "steward_disk_item_bytes", Maintenance),
    def(M::ModelCheckMs, "model_check_ms", "Backend check latency", Unit::Milliseconds, L::Backend, None, "steward_model_backend_check_seconds", Models),
    def(M::ModelRequestsRunning, "model_requests_running", "Requests running", Unit::Count, L::Backend, None, "steward_model_backend_requests_running", Models),
    def(M::ModelRequestsWaiting, "model_requests_waiting", "Requests waiting", Unit::Count, L::Backend, None, "steward_model_backend_requests_waiting", Models),
    def(M::ModelTokensPerSecond, "model_tokens_per_s", "Generated tokens per second", Unit::TokensPerSecond, L::Backend, None, "steward_model_backend_tokens_per_second", Models),
    def(M::GpuUtilPct, "gpu_util_pct", "GPU utilisation", Unit::Percent, L::Gpu, None, "steward_gpu_utilization_ratio", Models),
    def(M::GpuVramUsedBytes, "gpu_vram_used_bytes", "GPU memory used", Unit::Bytes, L::Gpu, None, "steward_gpu_memory_used_bytes", Models),
    def(M::GpuTemperatureC, "gpu_temperature_c", "GPU temperature", Unit::Celsius, L::Gpu, None, "steward_gpu_temperature_celsius", Models),
    def(M::GpuPowerW, "gpu_power_w", "GPU power", Unit::Watts, L::Gpu, None, "steward_gpu_power_watts", Models),
];

impl MetricDef {
    /// A value in this metric's unit in its `/metrics` family's base unit: a percentage
    /// exported as a ratio, milliseconds as seconds, anything else as it is.
    pub fn export_value(&self, v: f64) -> f64 {
        v / self.export_scale()
    }

    /// What a family's value is multiplied by to read it in this metric's unit again.
    pub fn export_scale(&self) -> f64 {
        match self.unit {
            Unit::Percent if self.export.ends_with("_ratio") => 100.0,
            Unit::Milliseconds if self.export.ends_with("_seconds") => 1000.0,
            _ => 1.0,
        }
    }

    /// The PromQL reading this metric's family back in the metric's own unit: `selector` is
    /// the label matchers (without braces) and `wrap` an aggregation around the read (e.g.
    /// `max by (gpu)`; empty for none).
    pub fn promql(&self, selector: &str, wrap: &str) -> String {
        let read = match wrap {
            "" => format!("{}{{{selector}}}", self.export),
            w => format!("{w}({}{{{selector}}})", self.export),
        };
        match self.export_scale() {
            1.0 => read,
            scale => format!("{scale} * {read}"),
        }
    }
}

impl MetricId {
    /// This metric's definition.
    pub fn def(self) -> &'static MetricDef {
        // The table is ordered like the enum; the test below keeps it so.
        &METRICS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// The history key of this metric with `label`: `name` or `name:label`.
    pub fn series_key(self, label: Option<&str>) -> String {
        crate::vitals::series_key(self.name(), label)
    }
}

/// The definition of the metric named `name`.
pub fn by_name(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|d| d.name == name)
}

/// The definition behind a history key (`name` or `name:label`).
pub fn by_series_key(key: &str) -> Option<&'static MetricDef> {
    by_name(key.split_once(':').map_or(key, |(name, _)| name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_enum_order_with_unique_names_and_families() {
        for (i, d) in METRICS.iter().enumerate() {
            assert_eq!(d.id as usize, i, "{} is out of order", d.name);
            assert_eq!(d.id.def().name, d.name);
            assert_eq!(by_name(d.name), Some(d));
            assert!(d.export.starts_with("steward_"), "{}", d.export);
            // Family names in base units, as Prometheus' naming guide asks.
            assert!(
                !d.export.ends_with("_pct") && !d.export.ends_with("_bps"),
                "{}",
                d.export
            );
        }
        let mut names: Vec<_> = METRICS.iter().map(|d| d.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
        let mut families: Vec<_> = METRICS.iter().map(|d| d.export).collect();
        families.sort();
        families.dedup();
        assert_eq!(families.len(), METRICS.len());
    }

    #[test]
    fn families_in_other_units_say_how_to_convert() {
        for d in METRICS {
            let scaled = d.export_scale() != 1.0;
            let other_unit = d.export.ends_with("_ratio") || d.export.ends_with("_seconds");
            assert_eq!(scaled, other_unit, "{}", d.name);
        }
        assert_eq!(MetricId::GpuUtilPct.def().export_value(65.0), 0.65);
        assert_eq!(MetricId::ModelCheckMs.def().export_value(250.0), 0.25);
        assert_eq!(MetricId::MemUsedPct.def().export_value(65.0), 65.0);
    }

    #[test]
    fn series_keys_find_their_definition() {
        assert_eq!(
            by_series_key("disk_used_pct:/var").map(|d| d.id),
            Some(MetricId::DiskUsedPct)
        );
        assert_eq!(
            by_series_key("container_write_bps:db:1").map(|d| d.label),
            Some(LabelKind::Container)
        );
        assert_eq!(by_series_key("nope"), None);
        assert_eq!(
            MetricId::DiskUsedPct.series_key(Some("/")),
            "disk_used_pct:/"
        );
    }
}
