//! Least-squares trend projections (seed 000 §4.2): "disk reaches 55 % in N days".
//!
//! No projection is made when the series is too short, flat or falling, or fits a line poorly
//! (R² below a floor): the chart then says "no trend" instead of a silly date.

use serde::{Deserialize, Serialize};

const DAY_MS: f64 = 86_400_000.0;

/// A fitted line `value = intercept + slope × (t − t_mean)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// Change per day.
    pub slope_per_day: f64,
    /// Value of the line at `t_mean_ms`.
    pub mean_value: f64,
    pub t_mean_ms: f64,
    /// Coefficient of determination, 0–1 (1 when every point is on the line).
    pub r2: f64,
    pub points: usize,
}

impl Fit {
    /// The line's value at time `t_ms`.
    pub fn value_at(&self, t_ms: f64) -> f64 {
        self.mean_value + self.slope_per_day * (t_ms - self.t_mean_ms) / DAY_MS
    }

    /// When the line reaches `level`, if it rises toward it.
    pub fn time_to_reach(&self, level: f64) -> Option<f64> {
        (self.slope_per_day > 0.0)
            .then(|| self.t_mean_ms + (level - self.mean_value) / self.slope_per_day * DAY_MS)
    }
}

/// Fits a least-squares line through `(t_ms, value)` points. `None` with fewer than two points,
/// when all points share one time, or when a value is not finite.
pub fn fit(points: &[(i64, f64)]) -> Option<Fit> {
    let n = points.len();
    if n < 2 || points.iter().any(|(_, v)| !v.is_finite()) {
        return None;
    }
    let nf = n as f64;
    // Centre times to keep the sums small (epoch milliseconds squared lose precision).
    let t_mean = points.iter().map(|(t, _)| *t as f64).sum::<f64>() / nf;
    let v_mean = points.iter().map(|(_, v)| v).sum::<f64>() / nf;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (t, v) in points {
        let dx = (*t as f64 - t_mean) / DAY_MS;
        let dy = v - v_mean;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    // A perfectly flat series is explained perfectly by a flat line.
    let r2 = if syy == 0.0 {
        1.0
    } else {
        (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0)
    };
    Some(Fit {
        slope_per_day: slope,
        mean_value: v_mean,
        t_mean_ms: t_mean,
        r2,
        points: n,
    })
}

/// When a projection is trusted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectionRules {
    /// Fewer points than this: "too few points".
    pub min_points: usize,
    /// A fit with R² below this: "no clear trend".
    pub min_r2: f64,
    /// A rise slower than this per day counts as flat.
    pub min_slope_per_day: f64,
}

impl Default for ProjectionRules {
    fn default() -> Self {
        Self {
            min_points: 10,
            min_r2: 0.5,
            min_slope_per_day: 1e-6,
        }
    }
}

/// When the trend reaches one threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Crossing {
    pub level: f64,
    /// When the line reaches the level (ms since the epoch); `now` if it is already above.
    pub at_ms: i64,
    pub in_days: f64,
}

/// A projection, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Projection {
    Rising { fit: Fit, crossings: Vec<Crossing> },
    NoTrend { reason: String, fit: Option<Fit> },
}

/// Projects when a rising series reaches each of `levels` (e.g. warn 55, crit 85).
pub fn project(
    points: &[(i64, f64)],
    levels: &[f64],
    now_ms: i64,
    rules: &ProjectionRules,
) -> Projection {
    if points.len() < rules.min_points {
        return Projection::NoTrend {
            reason: format!(
                "too few points ({} of at least {})",
                points.len(),
                rules.min_points
            ),
            fit: None,
        };
    }
    let Some(f) = fit(points) else {
        return Projection::NoTrend {
            reason: "the points do not span any time".into(),
            fit: None,
        };
    };
    if f.slope_per_day <= rules.min_slope_per_day {
        let reason = if f.slope_per_day < -rules.min_slope_per_day {
            "falling"
        } else {
            "flat"
        };
        return Projection::NoTrend {
            reason: reason.into(),
            fit: Some(f),
        };
    }
    if f.r2 < rules.min_r2 {
        return Projection::NoTrend {
            reason: format!("no clear trend (R² {:.2} below {:.2})", f.r2, rules.min_r2),
            fit: Some(f),
        };
    }
    let now = now_ms as f64;
    let crossings = levels
        .iter()
        .filter_map(|&level| {
            let at = f.time_to_reach(level)?.max(now);
            Some(Crossing {
                level,
                at_ms: at as i64,
                in_days: (at - now) / DAY_MS,
            })
        })
        .collect();
    Projection::Rising { fit: f, crossings }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn line(n: usize, start: f64, per_day: f64) -> Vec<(i64, f64)> {
        (0..n)
            .map(|i| (i as i64 * DAY / 4, start + per_day * i as f64 / 4.0))
            .collect()
    }

    fn rising(p: Projection) -> (Fit, Vec<Crossing>) {
        match p {
            Projection::Rising { fit, crossings } => (fit, crossings),
            other => panic!("expected a rising trend, got {other:?}"),
        }
    }

    #[test]
    fn known_slope_gives_exact_dates() {
        // 40 % rising 1 %/day over 7 days: 55 % is 8 days after the last point, 85 % 38 days.
        let pts = line(29, 40.0, 1.0);
        let now = pts.last().unwrap().0;
        let (f, c) = rising(project(
            &pts,
            &[55.0, 85.0],
            now,
            &ProjectionRules::default(),
        ));
        assert!((f.slope_per_day - 1.0).abs() < 1e-9);
        assert!((f.r2 - 1.0).abs() < 1e-12);
        assert!((c[0].in_days - 8.0).abs() < 1e-6, "{c:?}");
        assert!((c[1].in_days - 38.0).abs() < 1e-6, "{c:?}");
    }

    #[test]
    fn already_above_is_now() {
        let pts = line(20, 90.0, 0.5);
        let now = pts.last().unwrap().0;
        let (_, c) = rising(project(&pts, &[85.0], now, &ProjectionRules::default()));
        assert_eq!(c[0].at_ms, now);
        assert_eq!(c[0].in_days, 0.0);
    }

    #[test]
    fn flat_and_falling_have_no_projection() {
        let rules = ProjectionRules::default();
        let flat = project(&line(20, 50.0, 0.0), &[55.0], 0, &rules);
        assert!(
            matches!(flat, Projection::NoTrend { ref reason, .. } if reason == "flat"),
            "{flat:?}"
        );
        let falling = project(&line(20, 50.0, -2.0), &[55.0], 0, &rules);
        assert!(matches!(falling, Projection::NoTrend { ref reason, .. } if reason == "falling"));
    }

    #[test]
    fn noisy_series_is_no_clear_trend() {
        // A rise of 0.2/day buried in ±10 noise (+ − − + repeating, which adds no slope of its
        // own): the slope is still 0.2, but R² is about 0.003.
        const NOISE: [f64; 4] = [10.0, -10.0, -10.0, 10.0];
        let pts: Vec<(i64, f64)> = (0..40)
            .map(|i| {
                (
                    i * DAY / 4,
                    50.0 + 0.2 * i as f64 / 4.0 + NOISE[i as usize % 4],
                )
            })
            .collect();
        let p = project(&pts, &[55.0], 0, &ProjectionRules::default());
        match p {
            Projection::NoTrend {
                reason,
                fit: Some(f),
            } => {
                assert!(reason.starts_with("no clear trend"), "{reason}");
                assert!((f.slope_per_day - 0.2).abs() < 1e-9, "{f:?}");
                assert!(f.r2 < 0.01, "{f:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn noisy_but_clear_rise_is_projected() {
        let pts: Vec<(i64, f64)> = (0..40)
            .map(|i| {
                (
                    i * DAY / 4,
                    40.0 + 1.0 * i as f64 / 4.0 + if i % 2 == 0 { 0.3 } else { -0.3 },
                )
            })
            .collect();
        let (f, _) = rising(project(&pts, &[55.0], 0, &ProjectionRules::default()));
        assert!((f.slope_per_day - 1.0).abs() < 0.05, "{f:?}");
        assert!(f.r2 > 0.95);
    }

    #[test]
    fn too_short_or_degenerate_inputs() {
        let rules = ProjectionRules::default();
        let short = project(&line(3, 40.0, 5.0), &[55.0], 0, &rules);
        assert!(
            matches!(short, Projection::NoTrend { ref reason, .. } if reason.starts_with("too few points"))
        );
        let same_time: Vec<(i64, f64)> = (0..20).map(|i| (1_000, i as f64)).collect();
        assert!(matches!(
            project(&same_time, &[55.0], 0, &rules),
            Projection::NoTrend { fit: None, .. }
        ));
        assert_eq!(fit(&[(0, 1.0)]), None);
        assert_eq!(fit(&[(0, 1.0), (1, f64::NAN)]), None);
    }

    #[test]
    fn epoch_times_keep_precision() {
        // Real epoch milliseconds (2026) with a slope of 0.5/day.
        let t0 = 1_795_000_000_000_i64;
        let pts: Vec<(i64, f64)> = (0..100)
            .map(|i| {
                (
                    t0 + i * 300_000,
                    10.0 + 0.5 * (i * 300_000) as f64 / DAY as f64,
                )
            })
            .collect();
        let f = fit(&pts).unwrap();
        assert!((f.slope_per_day - 0.5).abs() < 1e-9, "{f:?}");
    }
}
