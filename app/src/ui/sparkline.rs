//! A small SVG line of a history series.

use leptos::prelude::*;

use crate::vitals::HistoryPoint;

/// The SVG path of `points` scaled into a `width` × `height` box (flat series sit in the middle).
pub fn sparkline_path(points: &[HistoryPoint], width: f64, height: f64) -> String {
    if points.is_empty() {
        return String::new();
    }
    let (t0, t1) = (points[0].ts_ms, points[points.len() - 1].ts_ms);
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.avg), hi.max(p.avg))
        });
    let span_t = (t1 - t0).max(1) as f64;
    let span_v = hi - lo;
    let mut path = String::with_capacity(points.len() * 16);
    for (i, p) in points.iter().enumerate() {
        let x = (p.ts_ms - t0) as f64 / span_t * width;
        let y = if span_v > 0.0 {
            height - (p.avg - lo) / span_v * height
        } else {
            height / 2.0
        };
        path.push_str(&format!("{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" }));
    }
    path
}

#[component]
pub fn Sparkline(points: Vec<HistoryPoint>) -> impl IntoView {
    let path = sparkline_path(&points, 300.0, 60.0);
    view! {
        <svg class="sparkline" viewBox="0 0 300 60" preserveAspectRatio="none" role="img"
            aria-label="last hour">
            <path d=path/>
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ts_ms: i64, avg: f64) -> HistoryPoint {
        HistoryPoint {
            ts_ms,
            avg,
            min: avg,
            max: avg,
        }
    }

    #[test]
    fn scales_into_box() {
        let path = sparkline_path(&[p(0, 0.0), p(50, 10.0), p(100, 5.0)], 100.0, 10.0);
        assert_eq!(path, "M0.0,10.0 L50.0,0.0 L100.0,5.0");
    }

    #[test]
    fn flat_and_empty_series() {
        assert_eq!(sparkline_path(&[], 100.0, 10.0), "");
        assert_eq!(
            sparkline_path(&[p(0, 3.0), p(10, 3.0)], 100.0, 10.0),
            "M0.0,5.0 L100.0,5.0"
        );
        assert_eq!(sparkline_path(&[p(7, 3.0)], 100.0, 10.0), "M0.0,5.0");
    }
}
