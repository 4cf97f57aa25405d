//! Least-squares trend projections (seed 000 §4.2): "disk reaches 55 % in N days".
//!
//! No projection is made when the series is too short, flat or falling, or fits a line poorly
//! (R² below a floor): the chart then says "no trend" instead of a silly date.
//!
//! A projection also waits for evidence (the rule the chart states):
//! - it needs at least [`ProjectionRules::min_span_ms`] of history (1 hour) to exist at all;
//! - it reaches no further ahead than [`ProjectionRules::horizon_factor`] times the history it
//!   rests on (4×), and never more than a day ahead before it has a day of history.
//!
//! Crossings beyond that horizon are left out, and the horizon is part of the answer.

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
    /// The first and last point's time: the history the fit rests on.
    #[serde(default)]
    pub first_ms: i64,
    #[serde(default)]
    pub last_ms: i64,
}

impl Fit {
    /// The line's value at time `t_ms`.
    pub fn value_at(&self, t_ms: f64) -> f64 {
        self.mean_value + self.slope_per_day * (t_ms - self.t_mean_ms) / DAY_MS
    }

    /// How much history the fit rests on, in ms.
    pub fn span_ms(&self) -> i64 {
        self.last_ms - self.first_ms
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
        first_ms: points.iter().map(|(t, _)| *t).min().unwrap_or_default(),
        last_ms: points.iter().map(|(t, _)| *t).max().unwrap_or_default(),
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
    /// Less history than this (first to last point): no projection.
    pub min_span_ms: i64,
    /// A projection reaches at most this many times its history ahead.
    pub horizon_factor: f64,
}

impl Default for ProjectionRules {
    fn default() -> Self {
        Self {
            min_points: 10,
            min_r2: 0.5,
            min_slope_per_day: 1e-6,
            min_span_ms: 3_600_000,
            horizon_factor: 4.0,
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
    Rising {
        fit: Fit,
        /// The levels the line reaches within `horizon_ms`.
        crossings: Vec<Crossing>,
        /// How far past now the projection is trusted (see the module's rule).
        #[serde(default)]
        horizon_ms: i64,
    },
    NoTrend {
        reason: String,
        fit: Option<Fit>,
    },
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
    if f.span_ms() < rules.min_span_ms {
        return Projection::NoTrend {
            reason: format!(
                "only {} of history; a projection needs at least {}",
                span_words(f.span_ms()),
                span_words(rules.min_span_ms)
            ),
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
    let horizon_ms = horizon(f.span_ms(), rules);
    let crossings = levels
        .iter()
        .filter_map(|&level| {
            let at = f.time_to_reach(level)?.max(now);
            (at - now <= horizon_ms as f64).then(|| Crossing {
                level,
                at_ms: at as i64,
                in_days: (at - now) / DAY_MS,
            })
        })
        .collect();
    Projection::Rising {
        fit: f,
        crossings,
        horizon_ms,
    }
}

/// How far ahead history of `span_ms` may be projected: `horizon_factor` times the span, and no
/// more than a day before a day of history exists.
pub fn horizon(span_ms: i64, rules: &ProjectionRules) -> i64 {
    let h = (span_ms as f64 * rules.horizon_factor) as i64;
    if span_ms < DAY_MS as i64 {
        h.min(DAY_MS as i64)
    } else {
        h
    }
}

/// A span in words: "45 min", "6.0 h", "2.3 days".
pub fn span_words(ms: i64) -> String {
    let mins = ms as f64 / 60_000.0;
    if mins < 90.0 {
        format!("{mins:.0} min")
    } else if mins < 48.0 * 60.0 {
        format!("{:.1} h", mins / 60.0)
    } else {
        format!("{:.1} days", mins / 1440.0)
    }
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
            Projection::Rising { fit, crossings, .. } => (fit, crossings),
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
        // 85 % is 38 days away: beyond 4 × the 7 days of history, so it is not stated.
        assert_eq!(c.len(), 1, "{c:?}");
        let long = line(29 * 6, 40.0, 1.0); // 43 days of history: 172 days of horizon.
        let now = long.last().unwrap().0;
        let (_, c) = rising(project(&long, &[85.0], now, &ProjectionRules::default()));
        assert!((c[0].in_days - (85.0 - 83.25)).abs() < 1e-6, "{c:?}");
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

    #[test]
    fn minutes_of_history_are_not_projected() {
        // The case: two minutes of a fast rise said "reaches 95 % in 0.6 days".
        let pts: Vec<(i64, f64)> = (0..24)
            .map(|i| (i * 5_000, 60.0 + i as f64 * 0.01))
            .collect();
        let p = project(&pts, &[95.0], 120_000, &ProjectionRules::default());
        match p {
            Projection::NoTrend { reason, .. } => {
                assert_eq!(
                    reason,
                    "only 2 min of history; a projection needs at least 60 min"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn crossings_stay_within_the_horizon_the_history_allows() {
        let rules = ProjectionRules::default();
        // Six hours of history rising 10 %/day from 40 %: 55 % is 1.4 days away, beyond the
        // one-day cap for less than a day of history; 42.7 % is within it.
        let six_hours: Vec<(i64, f64)> = (0..=72)
            .map(|i| (i * 300_000, 40.0 + 10.0 * (i * 300_000) as f64 / DAY as f64))
            .collect();
        let now = six_hours.last().unwrap().0;
        match project(&six_hours, &[42.7, 55.0], now, &rules) {
            Projection::Rising {
                crossings,
                horizon_ms,
                ..
            } => {
                assert_eq!(horizon_ms, DAY, "4 × 6 h, capped at a day");
                assert_eq!(crossings.len(), 1, "{crossings:?}");
                assert_eq!(crossings[0].level, 42.7);
            }
            other => panic!("{other:?}"),
        }
        // Thirty days of history: 120 days ahead at most.
        assert_eq!(horizon(30 * DAY, &rules), 120 * DAY);
        assert_eq!(horizon(2 * 3_600_000, &rules), 8 * 3_600_000);
        assert_eq!(span_words(45 * 60_000), "45 min");
        assert_eq!(span_words(6 * 3_600_000), "6.0 h");
        assert_eq!(span_words(3 * DAY), "3.0 days");
    }
}
