//! Downsampling for the screen: Largest-Triangle-Three-Buckets keeps a series' visual shape with
//! at most `threshold` points, so a year-long chart costs what an hour-long one does.

/// Reduces `points` to at most `threshold` points (never fewer than 3 when there are more),
/// keeping the first and last. Points are `(t, value)` sorted by `t`.
pub fn lttb(points: &[(i64, f64)], threshold: usize) -> Vec<(i64, f64)> {
    lttb_indices(points, threshold)
        .into_iter()
        .map(|i| points[i])
        .collect()
}

/// The indices of the points [`lttb`] keeps, in order (so callers can keep richer points).
pub fn lttb_indices(points: &[(i64, f64)], threshold: usize) -> Vec<usize> {
    let n = points.len();
    let threshold = threshold.max(3);
    if n <= threshold {
        return (0..n).collect();
    }
    let mut out = Vec::with_capacity(threshold);
    out.push(0);
    // The middle points are split into threshold − 2 buckets.
    let every = (n - 2) as f64 / (threshold - 2) as f64;
    let mut a = 0usize;
    for i in 0..threshold - 2 {
        let start = (i as f64 * every) as usize + 1;
        let end = (((i + 1) as f64 * every) as usize + 1).min(n - 1);
        // Average of the next bucket (or the last point for the final bucket).
        let next_start = end;
        let next_end = (((i + 2) as f64 * every) as usize + 1).min(n);
        let next = &points[next_start..next_end.max(next_start + 1).min(n)];
        let (avg_t, avg_v) = next
            .iter()
            .fold((0.0, 0.0), |(t, v), p| (t + p.0 as f64, v + p.1));
        let (avg_t, avg_v) = (avg_t / next.len() as f64, avg_v / next.len() as f64);
        let (at, av) = (points[a].0 as f64, points[a].1);
        let mut best = start;
        let mut best_area = -1.0;
        for (j, p) in points.iter().enumerate().take(end).skip(start) {
            let area = ((at - avg_t) * (p.1 - av) - (at - p.0 as f64) * (avg_v - av)).abs();
            if area > best_area {
                best_area = area;
                best = j;
            }
        }
        out.push(best);
        a = best;
    }
    out.push(n - 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_series_are_untouched() {
        let pts = vec![(0, 1.0), (1, 2.0), (2, 3.0)];
        assert_eq!(lttb(&pts, 10), pts);
    }

    #[test]
    fn keeps_ends_count_and_order() {
        let pts: Vec<(i64, f64)> = (0..10_000).map(|i| (i, (i as f64 / 50.0).sin())).collect();
        let out = lttb(&pts, 1_000);
        assert_eq!(out.len(), 1_000);
        assert_eq!(out[0], pts[0]);
        assert_eq!(out[999], pts[9_999]);
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn keeps_a_lone_spike() {
        let mut pts: Vec<(i64, f64)> = (0..5_000).map(|i| (i, 1.0)).collect();
        pts[2_345].1 = 100.0;
        let out = lttb(&pts, 100);
        assert!(
            out.iter().any(|p| p.1 == 100.0),
            "the spike survives downsampling"
        );
    }
}
