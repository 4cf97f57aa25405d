//! The drill-down of one score dimension: current value, bands, and the last hour as a sparkline.

use leptos::prelude::*;

use crate::overview::score::{Dimension, DimensionId, Score};
use crate::trends::api::get_history;
use crate::ui::sparkline::Sparkline;

/// The drill-down, loaded on the first click: its code (the view, the sparkline, the history
/// call and its types) is split off the main WASM, which the overview loads first.
#[component]
pub fn Drilldown(
    #[prop(into)] score: Signal<Score>,
    selected: RwSignal<Option<DimensionId>>,
) -> impl IntoView {
    let open = Memo::new(move |_| selected.with(Option::is_some));
    move || {
        open.get().then(|| {
            view! {
                <Suspense fallback=|| view! { <p class="muted">"Loading the drill-down…"</p> }>
                    {move || Suspend::new(async move { drilldown_view(score, selected).await })}
                </Suspense>
            }
        })
    }
}

#[leptos::lazy]
fn drilldown_view(score: Signal<Score>, selected: RwSignal<Option<DimensionId>>) -> AnyView {
    view! { <DrilldownPanel score=score selected=selected/> }.into_any()
}

#[component]
fn DrilldownPanel(
    #[prop(into)] score: Signal<Score>,
    selected: RwSignal<Option<DimensionId>>,
) -> impl IntoView {
    let dimension = move || {
        let id = selected.get()?;
        score.with(|s| s.dimensions.iter().find(|d| d.id == id).cloned())
    };
    // The series is fetched in the browser only, when a known dimension is opened.
    let series = Memo::new(move |_| dimension().and_then(|d| d.points.and(d.series)));
    let history = LocalResource::new(move || {
        let series = series.get();
        async move {
            match series {
                Some(s) => get_history(s, "1h".into()).await.map(Some),
                None => Ok(None),
            }
        }
    });

    view! {
        {move || dimension().map(|d: Dimension| {
            let current = d.band;
            view! {
                <section class="drilldown" data-testid="drilldown">
                    <header>
                        <h2>{d.name.clone()}</h2>
                        <button class="close" on:click=move |_| selected.set(None) aria-label="close">"×"</button>
                    </header>
                    {crate::trends::trend_for_dimension(d.id).map(|t| view! {
                        <a class="drill-trend" href=format!("/trends#trend-{t}")>"Trend and projection →"</a>
                    })}
                    <p class="drill-value">
                        {d.value_text.clone().unwrap_or_else(|| format!("unknown: {}", d.reason.clone().unwrap_or_default()))}
                        {d.points.map(|p| format!(" → {p} of {} points", d.max))}
                    </p>
                    <p class="muted drill-source">{format!("Fed by: {}.", d.source)}</p>
                    <ol class="bands">
                        {d.bands.iter().enumerate().map(|(i, b)| view! {
                            <li class:current=current == Some(i)>
                                <span>{b.condition.clone()}</span>
                                <span>{format!("{} pts", b.points)}</span>
                            </li>
                        }).collect_view()}
                    </ol>
                    {(d.id == crate::overview::score::DimensionId::DiskHealth).then(|| view! { <DiskCulprits/> })}
                    <Transition fallback=|| view! { <p class="muted">"Loading the last hour…"</p> }>
                        {move || history.get().map(|h| match h {
                            Ok(Some(h)) if h.points.is_empty() => view! {
                                <p class="muted">"No history stored for the last hour yet."</p>
                            }.into_any(),
                            Ok(Some(h)) => view! {
                                <div class="spark-wrap">
                                    <span class="muted">"last hour"</span>
                                    <Sparkline points=h.points/>
                                </div>
                            }.into_any(),
                            Ok(None) => view! { <p class="muted">"No history for an unknown dimension."</p> }.into_any(),
                            Err(e) => view! { <p class="error">{format!("History unavailable: {e}")}</p> }.into_any(),
                        })}
                    </Transition>
                </section>
            }
        })}
    }
}

/// The disk's culprits, fetched when the disk dimension is opened.
#[component]
fn DiskCulprits() -> impl IntoView {
    let culprits = LocalResource::new(crate::maintenance::api::get_disk_culprits);
    view! {
        <h3 class="drill-sub">"What takes the disk"</h3>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || culprits.get().map(|c| match c {
                Ok(c) => view! { <crate::maintenance::culprit_list::CulpritList culprits=Signal::stored(c)/> }.into_any(),
                Err(e) => view! { <p class="error">{format!("Disk use by item unavailable: {e}")}</p> }.into_any(),
            })}
        </Transition>
    }
}
