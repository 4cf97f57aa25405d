//! The VM score card (seed 000 §3.1): six dimensions, 100 points, computed from the latest state.
//!
//! A dimension whose source is not available is *unknown* with a reason; the score is then scaled
//! over the known dimensions: `round(100 × known points / known max)`.
//!
//! The score never improves because Steward lost sight of something ([`ScoreMemory`]): a
//! dimension that was known and turns unknown keeps its last points, marked with their age, for
//! [`LOST_GRACE_MS`]; after that it counts as 0 of its maximum until its source is back. Only a
//! dimension that was never known (no source configured, none recorded yet) is left out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::overview::verdict::Verdict;
use crate::vitals::metric_def::MetricId;
use crate::vitals::Level;

/// GB in the seed's bands means 10^9 bytes.
pub const GB: f64 = 1e9;
const DAY_SECS: f64 = 86_400.0;

/// The latest cleanup run, as far as Steward knows it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CleanupInfo {
    pub age_secs: f64,
    pub freed_bytes: u64,
}

/// What the score is computed from. `Err` carries the reason a source is unknown.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreInputs {
    pub steal_pct: Result<f64, String>,
    pub mem_available_bytes: Result<f64, String>,
    pub disk_used_pct: Result<f64, String>,
    pub unhealthy_containers: Result<u32, String>,
    pub last_cleanup: Result<CleanupInfo, String>,
    /// The filesystem the disk dimension scores (the root filesystem unless configured).
    pub disk_mount: String,
    /// Free VRAM of the GPUs, when a GPU serves the models: LLM readiness then scores it
    /// instead of available RAM.
    pub vram_free_bytes: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DimensionId {
    CpuEfficiency,
    MemoryPressure,
    DiskHealth,
    ServiceHealth,
    MaintenanceHygiene,
    LlmReadiness,
}

impl DimensionId {
    pub fn as_str(self) -> &'static str {
        match self {
            DimensionId::CpuEfficiency => "cpu_efficiency",
            DimensionId::MemoryPressure => "memory_pressure",
            DimensionId::DiskHealth => "disk_health",
            DimensionId::ServiceHealth => "service_health",
            DimensionId::MaintenanceHygiene => "maintenance_hygiene",
            DimensionId::LlmReadiness => "llm_readiness",
        }
    }
}

/// One band of a dimension, as shown in the drill-down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub condition: String,
    pub points: u32,
}

/// One scored dimension.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dimension {
    pub id: DimensionId,
    pub name: String,
    pub max: u32,
    /// `None` when the dimension is unknown.
    pub points: Option<u32>,
    /// The current value as text, e.g. "3.2 %".
    pub value_text: Option<String>,
    /// Why the dimension is unknown.
    pub reason: Option<String>,
    pub bands: Vec<Band>,
    /// Index into `bands` of the band that applies.
    pub band: Option<usize>,
    /// History series that drives this dimension, for the drill-down sparkline.
    pub series: Option<String>,
    /// Set when the points are not live: the time they were last seen, while the source is lost.
    #[serde(default)]
    pub as_of_ms: Option<i64>,
    /// What feeds this dimension, in words (shown in the drill-down).
    #[serde(default)]
    pub source: String,
}

/// The score card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// 0–100 over the known dimensions; `None` when no dimension is known.
    pub value: Option<u32>,
    pub points: u32,
    pub max_points: u32,
    /// Dimensions with live points (held ones are not counted here).
    pub known: usize,
    pub total: usize,
    pub dimensions: Vec<Dimension>,
    /// The worst current state beside the number (set by whoever knows the whole host).
    #[serde(default)]
    pub verdict: Verdict,
}

impl Score {
    /// "based on K of 6 dimensions", and how many are held from before their source was lost.
    pub fn basis(&self) -> String {
        let held = self
            .dimensions
            .iter()
            .filter(|d| d.as_of_ms.is_some())
            .count();
        let mut text = format!("based on {} of {} dimensions", self.known, self.total);
        if held > 0 {
            text.push_str(&format!(
                ", {held} held from before {} source was lost",
                if held == 1 { "its" } else { "their" }
            ));
        }
        text
    }

    /// The card's level: the worse of the score's band and the verdict.
    pub fn level(&self) -> Level {
        let band = match self.value {
            Some(v) if v >= 75 => Level::Ok,
            Some(v) if v >= 50 => Level::Warn,
            Some(_) => Level::Crit,
            None => Level::Unknown,
        };
        match (band, self.verdict.level) {
            // An unknown verdict (nothing collected) does not grey a score that is known.
            (b, Level::Unknown) => b,
            (Level::Unknown, v) => v,
            (b, v) => b.worst(v),
        }
    }
}

/// How long a lost dimension keeps its last points before it counts as 0.
pub const LOST_GRACE_MS: i64 = 10 * 60 * 1000;

/// The last live state of each dimension, so a lost source cannot raise the score.
#[derive(Clone, Debug, Default)]
pub struct ScoreMemory {
    last: BTreeMap<DimensionId, (Dimension, i64)>,
}

impl ScoreMemory {
    /// Remembers the live dimensions of `score` and holds the lost ones (see the module doc).
    pub fn hold(&mut self, score: Score, now_ms: i64) -> Score {
        let verdict = score.verdict.clone();
        let dimensions = score
            .dimensions
            .into_iter()
            .map(|d| {
                if d.points.is_some() {
                    self.last.insert(d.id, (d.clone(), now_ms));
                    return d;
                }
                let Some((last, seen)) = self.last.get(&d.id) else {
                    return d;
                };
                let why = d.reason.clone().unwrap_or_else(|| "source lost".into());
                if now_ms - seen <= LOST_GRACE_MS {
                    Dimension {
                        as_of_ms: Some(*seen),
                        reason: Some(format!("{why}; showing the last points seen")),
                        ..last.clone()
                    }
                } else {
                    Dimension {
                        points: Some(0),
                        band: None,
                        value_text: None,
                        as_of_ms: Some(*seen),
                        reason: Some(format!(
                            "{why}; unseen for more than {} min, counted as 0 until it is back",
                            LOST_GRACE_MS / 60_000
                        )),
                        ..d
                    }
                }
            })
            .collect();
        Score {
            verdict,
            ..total(dimensions)
        }
    }
}

fn bands(list: &[(&str, u32)]) -> Vec<Band> {
    list.iter()
        .map(|(c, p)| Band {
            condition: (*c).to_string(),
            points: *p,
        })
        .collect()
}

/// Picks the first band whose test passes; the last band is the fallback.
fn pick(tests: &[bool]) -> usize {
    tests.iter().position(|t| *t).unwrap_or(tests.len())
}

struct Spec {
    id: DimensionId,
    name: &'static str,
    max: u32,
    bands: Vec<Band>,
    series: Option<String>,
    source: &'static str,
}

fn dimension(spec: Spec, outcome: Result<(usize, String), String>) -> Dimension {
    let (points, value_text, reason, band) = match outcome {
        Ok((band, text)) => (Some(spec.bands[band].points), Some(text), None, Some(band)),
        Err(reason) => (None, None, Some(reason), None),
    };
    Dimension {
        id: spec.id,
        name: spec.name.to_string(),
        max: spec.max,
        points,
        value_text,
        reason,
        bands: spec.bands,
        band,
        series: spec.series,
        as_of_ms: None,
        source: spec.source.to_string(),
    }
}

/// Computes the score card. Pure: the same inputs always give the same card.
pub fn compute(inputs: &ScoreInputs) -> Score {
    let cpu = dimension(
        Spec {
            id: DimensionId::CpuEfficiency,
            name: "CPU efficiency",
            max: 20,
            bands: bands(&[
                ("steal < 2 %", 20),
                ("steal < 5 %", 15),
                ("steal < 10 %", 10),
                ("steal ≥ 10 %", 5),
            ]),
            series: Some(MetricId::CpuStealPct.name().into()),
            source: "CPU steal time from /proc/stat, the share of time the hypervisor gave this VM's CPU to others",
        },
        inputs.steal_pct.clone().map(|s| {
            (
                pick(&[s < 2.0, s < 5.0, s < 10.0]),
                format!("{s:.1} % steal"),
            )
        }),
    );
    let memory = dimension(
        Spec {
            id: DimensionId::MemoryPressure,
            name: "Memory pressure",
            max: 20,
            bands: bands(&[
                ("available > 6 GB", 20),
                ("available > 3 GB", 15),
                ("available > 1 GB", 5),
                ("available ≤ 1 GB", 0),
            ]),
            series: Some(MetricId::MemAvailableBytes.name().into()),
            source: "MemAvailable from /proc/meminfo",
        },
        inputs.mem_available_bytes.clone().map(|a| {
            (
                pick(&[a > 6.0 * GB, a > 3.0 * GB, a > GB]),
                format!("{:.1} GB available", a / GB),
            )
        }),
    );
    let disk = dimension(
        Spec {
            id: DimensionId::DiskHealth,
            name: "Disk health",
            max: 15,
            bands: bands(&[
                ("used < 40 %", 15),
                ("used < 55 %", 10),
                ("used < 70 %", 5),
                ("used ≥ 70 %", 0),
            ]),
            series: Some(MetricId::DiskUsedPct.series_key(Some(&inputs.disk_mount))),
            source: "used space of the scored filesystem (disk.mount in the config)",
        },
        inputs.disk_used_pct.clone().map(|u| {
            (
                pick(&[u < 40.0, u < 55.0, u < 70.0]),
                format!("{u:.1} % used"),
            )
        }),
    );
    let service = dimension(
        Spec {
            id: DimensionId::ServiceHealth,
            name: "Service health",
            max: 20,
            bands: bands(&[
                ("0 unhealthy containers", 20),
                ("1–2 unhealthy", 15),
                ("3–5 unhealthy", 8),
                ("6+ unhealthy", 2),
            ]),
            series: Some("containers_unhealthy".into()),
            source: "running containers whose Docker health check fails, from the Docker collector",
        },
        inputs
            .unhealthy_containers
            .clone()
            .map(|n| (pick(&[n == 0, n <= 2, n <= 5]), format!("{n} unhealthy"))),
    );
    let maintenance = dimension(
        Spec {
            id: DimensionId::MaintenanceHygiene,
            name: "Maintenance hygiene",
            max: 15,
            bands: bands(&[
                ("cleanup < 7 days ago and freed > 0", 15),
                ("cleanup < 30 days ago", 8),
                ("no cleanup in 30 days", 0),
            ]),
            series: None,
            source: "Steward's record of cleanup runs: the last run's age and how much it freed; no run recorded yet means unknown",
        },
        inputs.last_cleanup.clone().map(|c| {
            let days = c.age_secs / DAY_SECS;
            (
                pick(&[days < 7.0 && c.freed_bytes > 0, days < 30.0]),
                format!("{days:.1} days ago, freed {} MB", c.freed_bytes / 1_000_000),
            )
        }),
    );
    let llm = match inputs.vram_free_bytes {
        Some(free) => dimension(
            Spec {
                id: DimensionId::LlmReadiness,
                name: "LLM readiness",
                max: 10,
                bands: bands(&[
                    ("free VRAM > 8 GB", 10),
                    ("free VRAM > 4 GB", 7),
                    ("free VRAM > 2 GB", 4),
                    ("free VRAM ≤ 2 GB", 1),
                ]),
                series: None,
                source: "memory free for loading models: free VRAM of the GPUs (a GPU serves the models), the seed's bands",
            },
            Ok((
                pick(&[free > 8.0 * GB, free > 4.0 * GB, free > 2.0 * GB]),
                format!("{:.1} GB free VRAM for models", free / GB),
            )),
        ),
        None => dimension(
            Spec {
                id: DimensionId::LlmReadiness,
                name: "LLM readiness",
                max: 10,
                bands: bands(&[
                    ("free RAM > 8 GB", 10),
                    ("free RAM > 4 GB", 7),
                    ("free RAM > 2 GB", 4),
                    ("free RAM ≤ 2 GB", 1),
                ]),
                series: Some(MetricId::MemAvailableBytes.name().into()),
                source: "memory free for loading models: MemAvailable from /proc/meminfo (no GPU serves the models), the seed's RAM bands",
            },
            inputs.mem_available_bytes.clone().map(|a| {
                (
                    pick(&[a > 8.0 * GB, a > 4.0 * GB, a > 2.0 * GB]),
                    format!("{:.1} GB free RAM for models", a / GB),
                )
            }),
        ),
    };

    total(vec![cpu, memory, disk, service, maintenance, llm])
}

/// Sums dimensions into a card: held points count, never-known dimensions are left out.
fn total(dimensions: Vec<Dimension>) -> Score {
    let scored: Vec<&Dimension> = dimensions.iter().filter(|d| d.points.is_some()).collect();
    let points: u32 = scored.iter().filter_map(|d| d.points).sum();
    let max_points: u32 = scored.iter().map(|d| d.max).sum();
    let value = (max_points > 0)
        .then(|| (100.0 * f64::from(points) / f64::from(max_points)).round() as u32);
    Score {
        value,
        points,
        max_points,
        known: scored.iter().filter(|d| d.as_of_ms.is_none()).count(),
        total: dimensions.len(),
        dimensions,
        verdict: Verdict::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_known() -> ScoreInputs {
        ScoreInputs {
            steal_pct: Ok(0.0),
            mem_available_bytes: Ok(10.0 * GB),
            disk_used_pct: Ok(10.0),
            unhealthy_containers: Ok(0),
            last_cleanup: Ok(CleanupInfo {
                age_secs: 3600.0,
                freed_bytes: 1,
            }),
            disk_mount: "/".into(),
            vram_free_bytes: None,
        }
    }

    fn points(score: &Score, id: DimensionId) -> Option<u32> {
        score.dimensions.iter().find(|d| d.id == id).unwrap().points
    }

    /// Runs the score with one input changed and checks one dimension's points.
    fn check(edit: impl Fn(&mut ScoreInputs), id: DimensionId, expect: u32) {
        let mut inputs = all_known();
        edit(&mut inputs);
        assert_eq!(points(&compute(&inputs), id), Some(expect), "{inputs:?}");
    }

    #[test]
    fn cpu_efficiency_band_edges() {
        use DimensionId::CpuEfficiency as D;
        for (steal, pts) in [
            (0.0, 20),
            (1.999, 20),
            (2.0, 15),
            (4.999, 15),
            (5.0, 10),
            (9.999, 10),
            (10.0, 5),
            (100.0, 5),
        ] {
            check(|i| i.steal_pct = Ok(steal), D, pts);
        }
    }

    #[test]
    fn memory_pressure_band_edges() {
        use DimensionId::MemoryPressure as D;
        for (gb, pts) in [
            (6.000_001, 20),
            (6.0, 15),
            (3.000_001, 15),
            (3.0, 5),
            (1.000_001, 5),
            (1.0, 0),
            (0.0, 0),
        ] {
            check(|i| i.mem_available_bytes = Ok(gb * GB), D, pts);
        }
    }

    #[test]
    fn disk_health_band_edges() {
        use DimensionId::DiskHealth as D;
        for (used, pts) in [
            (39.999, 15),
            (40.0, 10),
            (54.999, 10),
            (55.0, 5),
            (69.999, 5),
            (70.0, 0),
            (100.0, 0),
        ] {
            check(|i| i.disk_used_pct = Ok(used), D, pts);
        }
    }

    #[test]
    fn service_health_band_edges() {
        use DimensionId::ServiceHealth as D;
        for (n, pts) in [(0, 20), (1, 15), (2, 15), (3, 8), (5, 8), (6, 2), (40, 2)] {
            check(|i| i.unhealthy_containers = Ok(n), D, pts);
        }
    }

    #[test]
    fn maintenance_hygiene_band_edges() {
        use DimensionId::MaintenanceHygiene as D;
        let day = DAY_SECS;
        for (age, freed, pts) in [
            (6.999 * day, 1, 15),
            (6.999 * day, 0, 8),
            (7.0 * day, 100, 8),
            (29.999 * day, 100, 8),
            (30.0 * day, 100, 0),
            (400.0 * day, 100, 0),
        ] {
            check(
                |i| {
                    i.last_cleanup = Ok(CleanupInfo {
                        age_secs: age,
                        freed_bytes: freed,
                    })
                },
                D,
                pts,
            );
        }
    }

    #[test]
    fn llm_readiness_band_edges() {
        use DimensionId::LlmReadiness as D;
        for (gb, pts) in [
            (8.000_001, 10),
            (8.0, 7),
            (4.000_001, 7),
            (4.0, 4),
            (2.000_001, 4),
            (2.0, 1),
            (0.0, 1),
        ] {
            check(|i| i.mem_available_bytes = Ok(gb * GB), D, pts);
        }
    }

    #[test]
    fn all_known_best_case_is_100() {
        let s = compute(&all_known());
        assert_eq!(s.value, Some(100));
        assert_eq!((s.points, s.max_points, s.known), (100, 100, 6));
        assert_eq!(s.basis(), "based on 6 of 6 dimensions");
    }

    #[test]
    fn unknown_dimensions_rescale_the_score() {
        let inputs = ScoreInputs {
            steal_pct: Ok(3.0),                // 15 / 20
            mem_available_bytes: Ok(5.0 * GB), // 15 / 20 and LLM 7 / 10
            disk_used_pct: Ok(50.0),           // 10 / 15
            unhealthy_containers: Err("no Docker".into()),
            last_cleanup: Err("no cleanup history".into()),
            disk_mount: "/".into(),
            vram_free_bytes: None,
        };
        let s = compute(&inputs);
        assert_eq!((s.points, s.max_points, s.known), (47, 65, 4));
        // 100 × 47 / 65 = 72.3
        assert_eq!(s.value, Some(72));
        assert_eq!(s.basis(), "based on 4 of 6 dimensions");
        let service = &s.dimensions[3];
        assert_eq!(service.points, None);
        assert_eq!(service.reason.as_deref(), Some("no Docker"));
    }

    #[test]
    fn nothing_known_means_no_score() {
        let inputs = ScoreInputs {
            steal_pct: Err("a".into()),
            mem_available_bytes: Err("b".into()),
            disk_used_pct: Err("c".into()),
            unhealthy_containers: Err("d".into()),
            last_cleanup: Err("e".into()),
            disk_mount: "/".into(),
            vram_free_bytes: None,
        };
        let s = compute(&inputs);
        assert_eq!(s.value, None);
        assert_eq!(s.known, 0);
    }

    #[test]
    fn score_rounds_to_nearest() {
        // 15 + 0 + 0 + 1 = 16 of 65 known points → 24.6 → 25.
        let inputs = ScoreInputs {
            steal_pct: Ok(3.0),
            mem_available_bytes: Ok(0.5 * GB),
            disk_used_pct: Ok(90.0),
            unhealthy_containers: Err("x".into()),
            last_cleanup: Err("y".into()),
            disk_mount: "/".into(),
            vram_free_bytes: None,
        };
        assert_eq!(compute(&inputs).value, Some(25));
    }

    #[test]
    fn losing_a_source_never_raises_the_score() {
        // The finding: 80 with two unhealthy containers rose to 100 when Docker died.
        let mut inputs = all_known();
        inputs.unhealthy_containers = Ok(6); // 2 of 20
        let mut memory = ScoreMemory::default();
        let before = memory.hold(compute(&inputs), 0);
        assert_eq!(before.value, Some(82));

        inputs.unhealthy_containers = Err("Docker: connection refused".into());
        let held = memory.hold(compute(&inputs), 60_000);
        assert_eq!(held.value, before.value, "held points, same score");
        let service = &held.dimensions[3];
        assert_eq!((service.points, service.as_of_ms), (Some(2), Some(0)));
        assert!(service
            .reason
            .as_deref()
            .unwrap()
            .contains("connection refused"));
        assert_eq!(held.known, 5);
        assert_eq!(
            held.basis(),
            "based on 5 of 6 dimensions, 1 held from before its source was lost"
        );

        let late = memory.hold(compute(&inputs), LOST_GRACE_MS + 1);
        let service = &late.dimensions[3];
        assert_eq!((service.points, service.band), (Some(0), None));
        assert!(late.value.unwrap() <= before.value.unwrap());
        assert_eq!(late.max_points, 100, "still counted");

        inputs.unhealthy_containers = Ok(0);
        let back = memory.hold(compute(&inputs), LOST_GRACE_MS + 2);
        assert_eq!(back.value, Some(100));
        assert_eq!(back.dimensions[3].as_of_ms, None);
    }

    #[test]
    fn a_dimension_never_known_is_left_out_not_held() {
        let mut inputs = all_known();
        inputs.last_cleanup = Err("no cleanup runs recorded yet".into());
        let mut memory = ScoreMemory::default();
        let s = memory.hold(compute(&inputs), LOST_GRACE_MS * 10);
        assert_eq!((s.known, s.max_points), (5, 85));
        assert_eq!(s.dimensions[4].points, None);
        assert_eq!(s.basis(), "based on 5 of 6 dimensions");
    }

    #[test]
    fn the_card_level_is_the_worse_of_band_and_verdict() {
        let mut s = compute(&all_known());
        assert_eq!(
            s.level(),
            Level::Ok,
            "unknown verdict leaves a known score alone"
        );
        s.verdict.level = Level::Crit;
        assert_eq!(
            s.level(),
            Level::Crit,
            "100 points, but something is critical"
        );
        s.verdict.level = Level::Ok;
        s.value = Some(60);
        assert_eq!(s.level(), Level::Warn);
    }

    #[test]
    fn every_dimension_says_what_feeds_it() {
        for d in compute(&all_known()).dimensions {
            assert!(d.source.len() > 20, "{:?} has no source text", d.id);
        }
    }
}
