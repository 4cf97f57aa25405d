//! "What takes the disk": the items Steward can name, largest first, with their growth per day
//! and the sentence naming the fastest-growing one. Shown on the maintenance page and in the
//! disk drill-down.

use leptos::prelude::*;

use crate::maintenance::growth::summary;
use crate::maintenance::Culprit;
use crate::shared::format::bytes_binary;

/// How many items are listed.
const SHOWN: usize = 10;

#[component]
pub fn CulpritList(#[prop(into)] culprits: Signal<Vec<Culprit>>) -> impl IntoView {
    view! {
        {move || culprits.with(|c| {
            if c.is_empty() {
                return view! { <p class="muted">"Nothing measured yet (sampled every maintenance.culprit_interval_secs)."</p> }.into_any();
            }
            let headline = summary(c);
            view! {
                {headline.map(|h| view! { <p data-testid="culprit-summary"><strong>{h}</strong></p> })}
                <ul class="culprits" data-testid="culprits">
                    {c.iter().take(SHOWN).map(|k| {
                        let growth = k.growth_per_day.map(|g| {
                            let sign = if g >= 0.0 { "+" } else { "−" };
                            format!(" · {sign}{}/day", bytes_binary(g.abs()))
                        }).unwrap_or_default();
                        let step = k.step.clone().map(|s| format!(" · freed by {s}")).unwrap_or_default();
                        view! { <li><span>{k.label.clone()}</span><span class="muted">{format!("{}{growth}{step}", bytes_binary(k.bytes as f64))}</span></li> }
                    }).collect_view()}
                </ul>
            }.into_any()
        })}
    }
}
