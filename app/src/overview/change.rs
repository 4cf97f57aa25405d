//! What changed between two overviews: the live stream sends the whole overview once, then only
//! these changes each round (a vitals round changes a few numbers, not the container summary, the
//! score's reasons or most collectors' statuses). Pure: diffed on the server, applied in the
//! browser.

use serde::{Deserialize, Serialize};

use crate::containers::ContainerSummary;
use crate::overview::score::Score;
use crate::vitals::{CollectorStatus, Metric, Overview, ProcessInfo, Vitals};

/// The parts of an overview that changed; absent parts are unchanged. Plain optional fields
/// rather than enums: this is decoded in the overview's WASM, whose size is budgeted, and a
/// struct decodes with less code than tagged enums.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OverviewChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    /// New vitals whose set of metrics differs from the last (or the first ones): all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vitals: Option<Vitals>,
    /// The same metrics as before: the new time and the readings that changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vitals_patch: Option<VitalsPatch>,
    /// No vitals any more.
    #[serde(default, skip_serializing_if = "is_false")]
    pub vitals_gone: bool,
    /// Collector statuses that changed or appeared, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collectors: Vec<CollectorStatus>,
    /// Names of collectors that are no longer reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collectors_gone: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<ContainerSummary>,
    /// Docker is no longer monitored or reachable: no summary.
    #[serde(default, skip_serializing_if = "is_false")]
    pub containers_gone: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_secs: Option<u64>,
    /// The GPUs, whole, when any reading changed (a few per host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<Vec<crate::models::GpuSummary>>,
}

/// Vitals with the same metrics as before: the new time, the metrics whose reading changed,
/// and the process lists when they changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VitalsPatch {
    pub collected_at_ms: i64,
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_rss: Option<Vec<ProcessInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_cpu: Option<Vec<ProcessInfo>>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl OverviewChange {
    /// What changed from `prev` to `next`; `None` when nothing did.
    pub fn between(prev: &Overview, next: &Overview) -> Option<Self> {
        let mut change = OverviewChange {
            score: (prev.score != next.score).then(|| next.score.clone()),
            interval_secs: (prev.interval_secs != next.interval_secs).then_some(next.interval_secs),
            gpus: (prev.gpus != next.gpus).then(|| next.gpus.clone()),
            ..Default::default()
        };
        match vitals_change(prev.vitals.as_ref(), next.vitals.as_ref()) {
            Some(VitalsChange::Full(v)) => change.vitals = Some(v),
            Some(VitalsChange::Patch(p)) => change.vitals_patch = Some(p),
            Some(VitalsChange::Gone) => change.vitals_gone = true,
            None => {}
        }
        for c in &next.collectors {
            if prev.collectors.iter().find(|p| p.name == c.name) != Some(c) {
                change.collectors.push(c.clone());
            }
        }
        change.collectors_gone = prev
            .collectors
            .iter()
            .filter(|p| !next.collectors.iter().any(|c| c.name == p.name))
            .map(|p| p.name.clone())
            .collect();
        if prev.containers != next.containers {
            match &next.containers {
                Some(s) => change.containers = Some(s.clone()),
                None => change.containers_gone = true,
            }
        }
        (change != OverviewChange::default()).then_some(change)
    }

    /// Applies the change to the overview it was computed from.
    pub fn apply(self, o: &mut Overview) {
        if let Some(score) = self.score {
            o.score = score;
        }
        if let Some(v) = self.vitals {
            o.vitals = Some(v);
        }
        if self.vitals_gone {
            o.vitals = None;
        }
        if let (Some(p), Some(v)) = (self.vitals_patch, o.vitals.as_mut()) {
            v.collected_at_ms = p.collected_at_ms;
            for m in p.metrics {
                if let Some(old) = v
                    .metrics
                    .iter_mut()
                    .find(|x| x.name == m.name && x.label == m.label)
                {
                    *old = m;
                }
            }
            if let Some(t) = p.top_rss {
                v.top_rss = t;
            }
            if let Some(t) = p.top_cpu {
                v.top_cpu = t;
            }
        }
        for c in self.collectors {
            match o.collectors.iter_mut().find(|x| x.name == c.name) {
                Some(old) => *old = c,
                None => o.collectors.push(c),
            }
        }
        o.collectors
            .retain(|c| !self.collectors_gone.contains(&c.name));
        if let Some(s) = self.containers {
            o.containers = Some(s);
        }
        if self.containers_gone {
            o.containers = None;
        }
        if let Some(i) = self.interval_secs {
            o.interval_secs = i;
        }
        if let Some(g) = self.gpus {
            o.gpus = g;
        }
    }
}

/// How the vitals changed (the server's view; sent as the fields above).
enum VitalsChange {
    Full(Vitals),
    Patch(VitalsPatch),
    Gone,
}

fn vitals_change(prev: Option<&Vitals>, next: Option<&Vitals>) -> Option<VitalsChange> {
    match (prev, next) {
        (_, None) if prev.is_none() => None,
        (_, None) => Some(VitalsChange::Gone),
        (Some(p), Some(n)) if p == n => None,
        (Some(p), Some(n))
            if p.host == n.host
                && p.cores == n.cores
                && p.metrics.len() == n.metrics.len()
                && p.metrics
                    .iter()
                    .zip(&n.metrics)
                    .all(|(a, b)| a.name == b.name && a.label == b.label) =>
        {
            Some(VitalsChange::Patch(VitalsPatch {
                collected_at_ms: n.collected_at_ms,
                metrics: p
                    .metrics
                    .iter()
                    .zip(&n.metrics)
                    .filter(|(a, b)| a != b)
                    .map(|(_, b)| b.clone())
                    .collect(),
                top_rss: (p.top_rss != n.top_rss).then(|| n.top_rss.clone()),
                top_cpu: (p.top_cpu != n.top_cpu).then(|| n.top_cpu.clone()),
            }))
        }
        (_, Some(n)) => Some(VitalsChange::Full(n.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overview::score::{self, ScoreInputs};
    use crate::vitals::{CollectorState, Level, Unit};

    fn metric(name: &str, value: f64) -> Metric {
        Metric {
            name: name.into(),
            label: None,
            value: Some(value),
            unit: Unit::Percent,
            level: Level::Ok,
            warn: None,
            crit: None,
            note: None,
        }
    }

    fn overview() -> Overview {
        let inputs = ScoreInputs {
            steal_pct: Ok(0.0),
            mem_available_bytes: Ok(8e9),
            disk_used_pct: Ok(40.0),
            unhealthy_containers: Ok(0),
            last_cleanup: Err("none".into()),
            disk_mount: "/".into(),
            vram_free_bytes: None,
        };
        let mut vitals_status = CollectorStatus::starting("vitals");
        vitals_status.state = CollectorState::Ok;
        Overview {
            vitals: Some(Vitals {
                host: "h".into(),
                cores: 2,
                collected_at_ms: 1_000,
                metrics: vec![metric("cpu_busy_pct", 10.0), metric("mem_used_pct", 50.0)],
                top_rss: vec![],
                top_cpu: vec![],
            }),
            score: score::compute(&inputs),
            collectors: vec![vitals_status, CollectorStatus::starting("docker")],
            interval_secs: 5,
            containers: Some(ContainerSummary {
                total: 100,
                running: 100,
                ..Default::default()
            }),
            gpus: vec![crate::models::GpuSummary {
                index: 0,
                name: "NVIDIA H100 80GB HBM3".into(),
                util_pct: Some(10.0),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn gpu_readings_travel_whole_and_only_when_they_change() {
        let prev = overview();
        let mut next = prev.clone();
        next.gpus[0].util_pct = Some(97.0);
        let change = OverviewChange::between(&prev, &next).unwrap();
        assert_eq!(change.gpus.as_ref().unwrap()[0].util_pct, Some(97.0));
        let back: OverviewChange =
            serde_json::from_str(&serde_json::to_string(&change).unwrap()).unwrap();
        let mut applied = prev.clone();
        back.apply(&mut applied);
        assert_eq!(applied, next);
        let unchanged = OverviewChange::between(&next, &next);
        assert!(unchanged.is_none());
    }

    #[test]
    fn a_round_sends_only_what_changed_and_applying_it_gives_the_new_overview() {
        let prev = overview();
        let mut next = prev.clone();
        let v = next.vitals.as_mut().unwrap();
        v.collected_at_ms = 6_000;
        v.metrics[0].value = Some(12.0);
        next.collectors[0].rounds_total = 2;
        let change = OverviewChange::between(&prev, &next).unwrap();
        assert!(change.score.is_none() && change.containers.is_none());
        assert_eq!(change.collectors.len(), 1, "only the status that changed");
        assert!(change.vitals.is_none(), "not the whole vitals");
        let patch = change.vitals_patch.as_ref().unwrap();
        assert_eq!(patch.metrics.len(), 1, "only the metric that changed");
        assert_eq!(patch.metrics[0].name, "cpu_busy_pct");
        let mut applied = prev.clone();
        change.apply(&mut applied);
        assert_eq!(applied, next);
    }

    #[test]
    fn nothing_changed_sends_nothing() {
        assert_eq!(OverviewChange::between(&overview(), &overview()), None);
    }

    #[test]
    fn new_metrics_summary_and_collectors_round_trip_through_json() {
        let prev = overview();
        let mut next = prev.clone();
        next.vitals
            .as_mut()
            .unwrap()
            .metrics
            .push(metric("disk_used_pct", 70.0));
        next.containers = None;
        next.collectors.remove(1);
        next.collectors.push(CollectorStatus::starting("history"));
        next.score.points = next.score.points.saturating_sub(1);
        let change = OverviewChange::between(&prev, &next).unwrap();
        assert!(change.vitals.is_some() && change.vitals_patch.is_none());
        assert!(change.containers_gone && change.containers.is_none());
        assert_eq!(change.collectors_gone, ["docker"]);
        let json = serde_json::to_string(&change).unwrap();
        let back: OverviewChange = serde_json::from_str(&json).unwrap();
        let mut applied = prev.clone();
        back.apply(&mut applied);
        assert_eq!(applied, next);
        let mut gone = next.clone();
        gone.vitals = None;
        let change = OverviewChange::between(&next, &gone).unwrap();
        assert!(change.vitals_gone);
    }
}
