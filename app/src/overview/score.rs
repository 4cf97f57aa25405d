//! The VM score card (seed 000 §3.1): six dimensions, 100 points, computed from the latest state.
//!
//! A dimension whose source is not available is *unknown* with a reason; the score is then scaled
//! over the known dimensions: `round(100 × known points / known max)`.

use serde::{Deserialize, Serialize};

use crate::vitals::metric_def::MetricId;

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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

/// The score card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// 0–100 over the known dimensions; `None` when no dimension is known.
    pub value: Option<u32>,
    pub points: u32,
    pub max_points: u32,
    pub known: usize,
    pub total: usize,
    pub dimensions: Vec<Dimension>,
}

impl Score {
    /// "based on K of 6 dimensions".
    pub fn basis(&self) -> String {
        format!("based on {} of {} dimensions", self.known, self.total)
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
        },
        inputs.last_cleanup.clone().map(|c| {
            let days = c.age_secs / DAY_SECS;
            (
                pick(&[days < 7.0 && c.freed_bytes > 0, days < 30.0]),
                format!("{days:.1} days ago, freed {} MB", c.freed_bytes / 1_000_000),
            )
        }),
    );
    let llm = dimension(
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
        },
        inputs.mem_available_bytes.clone().map(|a| {
            (
                pick(&[a > 8.0 * GB, a > 4.0 * GB, a > 2.0 * GB]),
                format!("{:.1} GB free for models", a / GB),
            )
        }),
    );

    let dimensions = vec![cpu, memory, disk, service, maintenance, llm];
    let known: Vec<&Dimension> = dimensions.iter().filter(|d| d.points.is_some()).collect();
    let points: u32 = known.iter().filter_map(|d| d.points).sum();
    let max_points: u32 = known.iter().map(|d| d.max).sum();
    let value = (max_points > 0)
        .then(|| (100.0 * f64::from(points) / f64::from(max_points)).round() as u32);
    Score {
        value,
        points,
        max_points,
        known: known.len(),
        total: dimensions.len(),
        dimensions,
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
        };
        assert_eq!(compute(&inputs).value, Some(25));
    }
}
