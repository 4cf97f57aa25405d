//! What is growing on the disk: each item's growth per day from its samples, and the sentence
//! that names the fastest-growing item with its share of the growth. Pure.

use crate::maintenance::Culprit;
use crate::shared::format::bytes_binary;
use crate::trends::projection::fit;

/// The least-squares growth in bytes per day of `(ts_ms, bytes)` samples; `None` with fewer
/// than two samples or when they span less than `min_span_ms`.
pub fn per_day(points: &[(i64, f64)], min_span_ms: i64) -> Option<f64> {
    let f = fit(points)?;
    (f.span_ms() >= min_span_ms).then_some(f.slope_per_day)
}

/// "container logs of api grow 1.8 GiB/day — 74 % of the growth (cleanup step
/// container_logs frees it)", for the item growing fastest; `None` when nothing grows.
pub fn summary(culprits: &[Culprit]) -> Option<String> {
    let growing: Vec<&Culprit> = culprits
        .iter()
        .filter(|c| c.growth_per_day.is_some_and(|g| g > 0.0))
        .collect();
    let total: f64 = growing.iter().filter_map(|c| c.growth_per_day).sum();
    let top = growing.iter().max_by(|a, b| {
        a.growth_per_day
            .partial_cmp(&b.growth_per_day)
            .unwrap_or(std::cmp::Ordering::Equal)
    })?;
    let rate = top.growth_per_day?;
    let share = (rate / total * 100.0).round();
    let step = top
        .step
        .as_ref()
        .map(|s| format!(" (cleanup step {s} frees it)"))
        .unwrap_or_default();
    Some(format!(
        "{} grows {}/day — {share:.0} % of the growth{step}",
        top.label,
        bytes_binary(rate)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn culprit(key: &str, label: &str, growth: Option<f64>, step: Option<&str>) -> Culprit {
        Culprit {
            key: key.into(),
            label: label.into(),
            bytes: 1,
            growth_per_day: growth,
            step: step.map(Into::into),
        }
    }

    #[test]
    fn names_the_fastest_growing_item_and_its_share() {
        let gib = 1024.0 * 1024.0 * 1024.0;
        let items = [
            culprit(
                "docker_images",
                "Docker images",
                Some(0.5 * gib),
                Some("docker_images"),
            ),
            culprit(
                "container_logs:api",
                "container logs of api",
                Some(1.5 * gib),
                Some("container_logs"),
            ),
            culprit("journal", "the journal", Some(-0.2 * gib), None),
            culprit("dir:/srv", "/srv/x", None, None),
        ];
        assert_eq!(
            summary(&items).as_deref(),
            Some("container logs of api grows 1.5 GiB/day — 75 % of the growth (cleanup step container_logs frees it)")
        );
        assert_eq!(summary(&items[2..]), None, "nothing grows");
    }

    #[test]
    fn growth_needs_two_samples_over_the_span() {
        const DAY: i64 = 86_400_000;
        assert_eq!(per_day(&[(0, 1.0)], 0), None);
        let g = per_day(&[(0, 100.0), (DAY / 2, 150.0), (DAY, 200.0)], 3_600_000).unwrap();
        assert!((g - 100.0).abs() < 1e-6, "{g}");
        assert_eq!(per_day(&[(0, 1.0), (1000, 2.0)], 3_600_000), None);
    }
}
