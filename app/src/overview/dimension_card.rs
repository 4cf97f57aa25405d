//! One score dimension as a clickable card.

use leptos::prelude::*;

use crate::overview::score::{Dimension, DimensionId};
use crate::ui::collector_panel::ago;

/// The class for a dimension: its share of the maximum, or unknown.
pub fn dimension_class(d: &Dimension) -> &'static str {
    match d.points {
        None => "unknown",
        Some(p) if p * 4 >= d.max * 3 => "ok",
        Some(p) if p * 2 >= d.max => "warn",
        Some(_) => "crit",
    }
}

#[component]
pub fn DimensionCard(
    #[prop(into)] dimension: Signal<Dimension>,
    selected: RwSignal<Option<DimensionId>>,
    now: ReadSignal<i64>,
) -> impl IntoView {
    let id = dimension.with_untracked(|d| d.id);
    let is_selected = move || selected.get() == Some(id);
    let toggle = move |_| selected.update(|s| *s = if *s == Some(id) { None } else { Some(id) });
    view! {
        <button
            class=move || dimension.with(|d| format!("card dimension {}", dimension_class(d)))
            class:selected=is_selected
            class:held=move || dimension.with(|d| d.as_of_ms.is_some())
            aria-pressed=move || is_selected().to_string()
            data-dimension=id.as_str()
            on:click=toggle
        >
            <span class="card-title">{move || dimension.with(|d| d.name.clone())}</span>
            <span class="card-value">
                {move || dimension.with(|d| match d.points {
                    Some(p) => format!("{p} / {}", d.max),
                    None => format!("? / {}", d.max),
                })}
            </span>
            <span class="card-note">
                {move || dimension.with(|d| match d.as_of_ms {
                    // Held points: greyed, with their age and why the source is lost.
                    Some(seen) => format!(
                        "last seen {}: {}",
                        ago(now.get(), Some(seen)),
                        d.reason.clone().unwrap_or_default()
                    ),
                    None => d
                        .value_text
                        .clone()
                        .or_else(|| d.reason.clone().map(|r| format!("unknown: {r}")))
                        .unwrap_or_default(),
                })}
            </span>
        </button>
    }
}
