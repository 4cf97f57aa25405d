//! Warning and critical thresholds for host vitals, and how a reading is judged against them.
//!
//! Every threshold is strict: a value *above* `warn` is a warning, *above* `crit` is critical.
//! Defaults come from the operators' seed documents; load per core is Steward's own choice.

use serde::{Deserialize, Serialize};

use crate::vitals::metric_def::ThresholdKey;
use crate::vitals::Level;

/// A pair of upper limits. Either may be absent (e.g. `SwapCached` only warns).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub warn: Option<f64>,
    pub crit: Option<f64>,
}

impl Threshold {
    pub const fn new(warn: f64, crit: f64) -> Self {
        Self {
            warn: Some(warn),
            crit: Some(crit),
        }
    }

    pub const fn warn_only(warn: f64) -> Self {
        Self {
            warn: Some(warn),
            crit: None,
        }
    }

    /// Judges a value: strictly above `crit` is critical, strictly above `warn` is a warning.
    pub fn level(&self, value: f64) -> Level {
        if !value.is_finite() {
            return Level::Unknown;
        }
        match (self.warn, self.crit) {
            (_, Some(c)) if value > c => Level::Crit,
            (Some(w), _) if value > w => Level::Warn,
            _ => Level::Ok,
        }
    }

    /// Checks that `warn` does not exceed `crit` and both are finite.
    pub fn validate(&self, name: &str) -> Result<(), ThresholdError> {
        for v in [self.warn, self.crit].into_iter().flatten() {
            if !v.is_finite() {
                return Err(ThresholdError::NotFinite(name.to_string()));
            }
        }
        if let (Some(w), Some(c)) = (self.warn, self.crit) {
            if w > c {
                return Err(ThresholdError::WarnAboveCrit {
                    name: name.to_string(),
                    warn: w,
                    crit: c,
                });
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ThresholdError {
    #[error("threshold {name}: warn ({warn}) is above crit ({crit})")]
    WarnAboveCrit { name: String, warn: f64, crit: f64 },
    #[error("threshold {0}: values must be finite numbers")]
    NotFinite(String),
    #[error("process watch entry needs a non-empty process name")]
    EmptyWatchName,
}

/// A process name to count, with count limits (seed: more than 2 `rclone` warn, more than 5 crit).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessWatch {
    /// Matched against the kernel's process name (`comm`, at most 15 characters).
    pub name: String,
    pub warn_above: u32,
    pub crit_above: u32,
}

impl ProcessWatch {
    pub fn threshold(&self) -> Threshold {
        Threshold::new(f64::from(self.warn_above), f64::from(self.crit_above))
    }
}

/// All thresholds for host vitals (the `[thresholds]` table of the config file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// CPU time stolen by the hypervisor, percent. Seed: warn > 5, crit > 15.
    pub cpu_steal_pct: Threshold,
    /// CPU time waiting for I/O, percent. Default warn > 10, crit > 30.
    pub cpu_iowait_pct: Threshold,
    /// CPU busy (not idle, not iowait), percent. Default warn > 90, crit > 98.
    pub cpu_busy_pct: Threshold,
    /// 1-minute load divided by the number of cores. Default warn > 1.5, crit > 3.
    pub load_per_core: Threshold,
    /// Memory in use (total − available) as percent of total. Seed: warn > 85, crit > 95.
    pub mem_used_pct: Threshold,
    /// Swap in use, percent of swap. Seed: any use warns (> 0), crit > 50.
    pub swap_used_pct: Threshold,
    /// `SwapCached` in bytes: recent swap pressure. Seed: warn > 200 MB.
    pub swap_cached_bytes: Threshold,
    /// Filesystem used percent, per real filesystem. Seed: warn > 85, crit > 95.
    pub disk_used_pct: Threshold,
    /// Processes in uninterruptible sleep (D state). Seed: warn > 0, crit > 5.
    pub procs_d_state: Threshold,
    /// Pressure-stall `some avg10`, percent of time stalled. Default warn > 10, crit > 30.
    pub psi_some_avg10: Threshold,
    /// Process names to count.
    pub process_watch: Vec<ProcessWatch>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            cpu_steal_pct: Threshold::new(5.0, 15.0),
            cpu_iowait_pct: Threshold::new(10.0, 30.0),
            cpu_busy_pct: Threshold::new(90.0, 98.0),
            load_per_core: Threshold::new(1.5, 3.0),
            mem_used_pct: Threshold::new(85.0, 95.0),
            swap_used_pct: Threshold::new(0.0, 50.0),
            swap_cached_bytes: Threshold::warn_only(200e6),
            disk_used_pct: Threshold::new(85.0, 95.0),
            procs_d_state: Threshold::new(0.0, 5.0),
            psi_some_avg10: Threshold::new(10.0, 30.0),
            process_watch: vec![ProcessWatch {
                name: "rclone".into(),
                warn_above: 2,
                crit_above: 5,
            }],
        }
    }
}

impl Thresholds {
    /// The threshold that applies to a metric name, if any.
    pub fn for_metric(&self, name: &str, label: Option<&str>) -> Option<Threshold> {
        self.by_key(crate::vitals::metric_def::by_name(name)?.threshold?, label)
    }

    /// The configured threshold behind a key (a process watch is found by the label).
    pub fn by_key(&self, key: ThresholdKey, label: Option<&str>) -> Option<Threshold> {
        Some(match key {
            ThresholdKey::CpuSteal => self.cpu_steal_pct,
            ThresholdKey::CpuIowait => self.cpu_iowait_pct,
            ThresholdKey::CpuBusy => self.cpu_busy_pct,
            ThresholdKey::LoadPerCore => self.load_per_core,
            ThresholdKey::MemUsed => self.mem_used_pct,
            ThresholdKey::SwapUsed => self.swap_used_pct,
            ThresholdKey::SwapCached => self.swap_cached_bytes,
            ThresholdKey::DiskUsed => self.disk_used_pct,
            ThresholdKey::ProcsDState => self.procs_d_state,
            ThresholdKey::PsiSomeAvg10 => self.psi_some_avg10,
            ThresholdKey::ProcessWatch => self
                .process_watch
                .iter()
                .find(|w| Some(w.name.as_str()) == label)?
                .threshold(),
        })
    }

    /// Rejects thresholds that cannot be meant (warn above crit, NaN, empty watch names).
    pub fn validate(&self) -> Result<(), ThresholdError> {
        let pairs = [
            ("cpu_steal_pct", self.cpu_steal_pct),
            ("cpu_iowait_pct", self.cpu_iowait_pct),
            ("cpu_busy_pct", self.cpu_busy_pct),
            ("load_per_core", self.load_per_core),
            ("mem_used_pct", self.mem_used_pct),
            ("swap_used_pct", self.swap_used_pct),
            ("swap_cached_bytes", self.swap_cached_bytes),
            ("disk_used_pct", self.disk_used_pct),
            ("procs_d_state", self.procs_d_state),
            ("psi_some_avg10", self.psi_some_avg10),
        ];
        for (name, t) in pairs {
            t.validate(name)?;
        }
        for w in &self.process_watch {
            if w.name.trim().is_empty() {
                return Err(ThresholdError::EmptyWatchName);
            }
            w.threshold()
                .validate(&format!("process_watch.{}", w.name))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(t: Threshold, value: f64, expect: Level) {
        assert_eq!(t.level(value), expect, "{value} against {t:?}");
    }

    #[test]
    fn thresholds_are_strict() {
        let t = Threshold::new(5.0, 15.0);
        check(t, 4.99, Level::Ok);
        check(t, 5.0, Level::Ok);
        check(t, 5.01, Level::Warn);
        check(t, 15.0, Level::Warn);
        check(t, 15.01, Level::Crit);
        check(t, f64::NAN, Level::Unknown);
    }

    #[test]
    fn any_swap_warns() {
        let t = Thresholds::default().swap_used_pct;
        check(t, 0.0, Level::Ok);
        check(t, 0.001, Level::Warn);
        check(t, 50.5, Level::Crit);
    }

    #[test]
    fn warn_only_never_goes_critical() {
        let t = Thresholds::default().swap_cached_bytes;
        check(t, 200e6, Level::Ok);
        check(t, 201e6, Level::Warn);
        check(t, 1e12, Level::Warn);
    }

    #[test]
    fn process_watch_matches_by_label() {
        let t = Thresholds::default();
        let rclone = t.for_metric("process_count", Some("rclone")).unwrap();
        check(rclone, 2.0, Level::Ok);
        check(rclone, 3.0, Level::Warn);
        check(rclone, 6.0, Level::Crit);
        assert!(t.for_metric("process_count", Some("nginx")).is_none());
    }

    #[test]
    fn validation_rejects_inverted_and_nan() {
        let mut t = Thresholds::default();
        assert!(t.validate().is_ok());
        t.disk_used_pct = Threshold::new(96.0, 95.0);
        assert!(matches!(
            t.validate(),
            Err(ThresholdError::WarnAboveCrit { .. })
        ));
        t.disk_used_pct = Threshold::new(f64::NAN, 95.0);
        assert!(matches!(t.validate(), Err(ThresholdError::NotFinite(_))));
    }
}
