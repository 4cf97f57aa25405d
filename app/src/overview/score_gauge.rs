//! The score as a semicircular gauge.

use leptos::prelude::*;

use crate::overview::score::Score;

/// Length of the gauge arc (a half circle of radius 80).
const ARC_LEN: f64 = std::f64::consts::PI * 80.0;

/// The class for a score value: green from 75, amber from 50, red below.
pub fn score_class(value: Option<u32>) -> &'static str {
    match value {
        Some(v) if v >= 75 => "ok",
        Some(v) if v >= 50 => "warn",
        Some(_) => "crit",
        None => "unknown",
    }
}

#[component]
pub fn ScoreGauge(#[prop(into)] score: Signal<Score>) -> impl IntoView {
    let value = move || score.with(|s| s.value);
    let dash = move || {
        let filled = f64::from(value().unwrap_or(0)) / 100.0 * ARC_LEN;
        format!("{filled:.1} {ARC_LEN:.1}")
    };
    view! {
        <figure class=move || format!("gauge {}", score_class(value()))>
            <svg viewBox="0 0 200 115" role="img" aria-label="VM score">
                <path class="gauge-track" d="M20 100 A80 80 0 0 1 180 100"/>
                <path class="gauge-fill" d="M20 100 A80 80 0 0 1 180 100" stroke-dasharray=dash/>
                <text class="gauge-value" x="100" y="92" text-anchor="middle" data-testid="score-value">
                    {move || value().map(|v| v.to_string()).unwrap_or_else(|| "–".into())}
                </text>
            </svg>
            <figcaption>
                <strong>"VM score"</strong>
                <span class="muted">{move || score.with(|s| s.basis())}</span>
            </figcaption>
        </figure>
    }
}
