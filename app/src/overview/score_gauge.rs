//! The score as a semicircular gauge, coloured by the worst current state, with what caused it.

use leptos::prelude::*;

use crate::overview::score::Score;

/// Length of the gauge arc (a half circle of radius 80).
const ARC_LEN: f64 = std::f64::consts::PI * 80.0;

#[component]
pub fn ScoreGauge(#[prop(into)] score: Signal<Score>) -> impl IntoView {
    let value = move || score.with(|s| s.value);
    let dash = move || {
        let filled = f64::from(value().unwrap_or(0)) / 100.0 * ARC_LEN;
        format!("{filled:.1} {ARC_LEN:.1}")
    };
    let label = move || match value() {
        Some(v) => format!(
            "VM score {v} of 100, {}",
            score.with(|s| s.level().as_str())
        ),
        None => "VM score unknown".to_string(),
    };
    view! {
        <figure class=move || format!("gauge {}", score.with(|s| s.level().as_str())) data-testid="gauge">
            <svg viewBox="0 0 200 115" role="img" aria-label=label>
                <path class="gauge-track" d="M20 100 A80 80 0 0 1 180 100"/>
                <path class="gauge-fill" d="M20 100 A80 80 0 0 1 180 100" stroke-dasharray=dash/>
                <text class="gauge-value" x="100" y="92" text-anchor="middle" data-testid="score-value">
                    {move || value().map(|v| v.to_string()).unwrap_or_else(|| "–".into())}
                </text>
            </svg>
            <figcaption>
                <strong>"VM score"</strong>
                <span class="muted">{move || score.with(|s| s.basis())}</span>
                <ul class="causes" data-testid="causes" aria-live="polite">
                    {move || score.with(|s| s.verdict.causes.iter().map(|c| view! {
                        <li class=c.level.as_str()>{c.text.clone()}</li>
                    }).collect_view())}
                </ul>
            </figcaption>
        </figure>
    }
}
