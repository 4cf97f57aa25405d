//! One host vital, coloured by its status.

use leptos::prelude::*;

use crate::shared::format;
use crate::vitals::Metric;

/// The card's title: the metric's title plus its label (mount point, process name).
pub fn card_title(m: &Metric) -> String {
    match &m.label {
        Some(label) => format!("{} {label}", format::title(&m.name)),
        None => format::title(&m.name).to_string(),
    }
}

/// The thresholds as text, e.g. "warn > 85 · crit > 95".
pub fn limits_text(m: &Metric) -> Option<String> {
    let fmt = |v: f64| format::value(v, m.unit);
    match (m.warn, m.crit) {
        (Some(w), Some(c)) => Some(format!("warn > {} · crit > {}", fmt(w), fmt(c))),
        (Some(w), None) => Some(format!("warn > {}", fmt(w))),
        (None, Some(c)) => Some(format!("crit > {}", fmt(c))),
        (None, None) => None,
    }
}

#[component]
pub fn VitalCard(metric: Metric) -> impl IntoView {
    let class = format!("card vital {}", metric.level.as_str());
    let note = metric.note.clone().or_else(|| limits_text(&metric));
    view! {
        <div class=class data-metric=metric.series_key()>
            <span class="card-title">{card_title(&metric)}</span>
            <span class="card-value">{format::metric(&metric)}</span>
            <span class="card-note">{note}</span>
        </div>
    }
}
