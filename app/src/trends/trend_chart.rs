//! One named trend on the trends page: its range toggle (1h, 24h, 7d, 30d, custom), the chart
//! with zoom and hover, where the data came from, the projection in words, flagged days, and a
//! live tail (a window that ends now is fetched again as new points arrive).

use leptos::prelude::*;

use crate::shared::range::Resolution;
use crate::shared::zone::{use_zone, Zone};
use crate::trends::api::get_trend;
use crate::trends::chart::colour;
use crate::trends::chart_view::{projection_text, ChartView};
use crate::trends::{empty_reason, FlagKind, Trend, TrendSource};

/// The ranges offered as buttons.
pub const RANGES: &[&str] = &["1h", "24h", "7d", "30d"];

/// What the chart shows: the last `range` (follows now), or a fixed span (zoomed or custom).
#[derive(Clone, Debug, PartialEq)]
pub enum Span {
    Last(String),
    Between(i64, i64),
}

/// Seconds between fetches of a window that ends now: about one new point each time.
pub fn tail_period_secs(resolution: Resolution) -> u64 {
    match resolution {
        Resolution::Raw => 5,
        Resolution::Minute => 30,
        Resolution::Hour | Resolution::Day => 120,
    }
}

/// "SQLite history · 1-hour rollups" or "Prometheus · step 606 s".
pub fn source_text(t: &Trend) -> String {
    let how = match (t.source, t.resolution) {
        (TrendSource::Prometheus, _) => format!("step {} s", t.step_secs.unwrap_or(0)),
        (_, Resolution::Raw) => "raw samples".into(),
        (_, Resolution::Minute) => "1-minute rollups".into(),
        (_, Resolution::Hour) => "1-hour rollups".into(),
        (_, Resolution::Day) => "1-day rollups".into(),
    };
    format!("{} · {how}", t.source.as_str())
}

/// Says so when a range was fitted to a history younger than the range.
fn fitted_note(t: &Trend, zone: Zone) -> Option<String> {
    let since = t.history_since_ms?;
    t.fitted.then(|| {
        format!(
            " · Steward has kept history since {}: the window starts there",
            zone.datetime(since)
        )
    })
}

#[component]
pub fn TrendChart(
    name: &'static str,
    #[prop(default = "7d")] range: &'static str,
    /// A fleet host's trend (from its heartbeats) instead of this machine's.
    #[prop(optional, into)]
    host: Option<String>,
) -> impl IntoView {
    let zone = use_zone();
    let span = RwSignal::new(Span::Last(range.to_string()));
    let tick = RwSignal::new(0u32);
    let data = LocalResource::new(move || {
        let s = span.get();
        tick.track();
        let host = host.clone();
        async move {
            match s {
                Span::Last(r) => get_trend(name.into(), Some(r), None, None, host).await,
                Span::Between(a, b) => get_trend(name.into(), None, Some(a), Some(b), host).await,
            }
        }
    });
    // The last good answer stays on screen while the next one loads, or if it fails.
    let shown = RwSignal::new(None::<Trend>);
    let error = RwSignal::new(None::<String>);
    let updated_ms = RwSignal::new(None::<i64>);
    Effect::new(move |_| match data.get() {
        Some(Ok(t)) => {
            updated_ms.set(Some(t.end_ms));
            shown.set(Some(t));
            error.set(None);
        }
        Some(Err(e)) => error.set(Some(e.to_string())),
        None => {}
    });

    #[cfg(feature = "hydrate")]
    {
        let last_fetch = StoredValue::new(crate::shared::clock::now_ms());
        if let Ok(h) = set_interval_with_handle(
            move || {
                let now = crate::shared::clock::now_ms();
                let due = shown.with_untracked(|t| {
                    t.as_ref().map_or(5, |t| tail_period_secs(t.resolution)) * 1000
                });
                if matches!(span.get_untracked(), Span::Last(_))
                    && now - last_fetch.get_value() >= due as i64
                {
                    last_fetch.set_value(now);
                    tick.update(|t| *t += 1);
                }
            },
            std::time::Duration::from_secs(5),
        ) {
            on_cleanup(move || h.clear());
        }
    }

    let custom_open = RwSignal::new(false);
    let custom_from = RwSignal::new(String::new());
    let custom_to = RwSignal::new(String::new());
    let custom_error = RwSignal::new(None::<String>);
    let apply_custom = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (from, to) = (
            zone.parse_input(&custom_from.get_untracked()),
            zone.parse_input(&custom_to.get_untracked()),
        );
        match (from, to) {
            (Some(a), Some(b)) if a < b => {
                custom_error.set(None);
                custom_open.set(false);
                span.set(Span::Between(a, b));
            }
            (Some(_), Some(_)) => custom_error.set(Some("“From” must be before “to”.".into())),
            _ => custom_error.set(Some("Enter both dates and times.".into())),
        }
    };
    let zoomed = move || matches!(span.get(), Span::Between(..));
    let last_range = StoredValue::new(range.to_string());
    let on_zoom = Callback::new(move |(a, b): (i64, i64)| span.set(Span::Between(a, b)));
    let is_active = move |r: &str| span.with(|s| matches!(s, Span::Last(x) if x == r));

    view! {
        <section class="trend card" id=format!("trend-{name}") data-testid=format!("trend-{name}")>
            <header class="trend-head">
                <h3>{move || shown.with(|t| t.as_ref().map(|t| t.title.clone())).unwrap_or_else(|| name.to_string())}</h3>
                <div class="range-toggle" role="group" aria-label="range">
                    {RANGES.iter().map(|r| {
                        let r = *r;
                        view! {
                            <button class:active=move || is_active(r) data-range=r
                                on:click=move |_| { last_range.set_value(r.to_string()); span.set(Span::Last(r.to_string())); }>
                                {r}
                            </button>
                        }
                    }).collect_view()}
                    <button class:active=move || custom_open.get() data-range="custom"
                        on:click=move |_| custom_open.update(|o| *o = !*o)>"custom"</button>
                    <Show when=zoomed>
                        <button class="reset" data-testid=format!("reset-{name}")
                            on:click=move |_| span.set(Span::Last(last_range.get_value()))>"reset zoom"</button>
                    </Show>
                </div>
            </header>
            <Show when=move || custom_open.get()>
                <form class="custom-range" on:submit=apply_custom>
                    <span class="muted">{format!("Times in {}.", zone.label())}</span>
                    <label>"From " <input type="datetime-local" required
                        on:input=move |ev| custom_from.set(event_target_value(&ev))/></label>
                    <label>"to " <input type="datetime-local" required
                        on:input=move |ev| custom_to.set(event_target_value(&ev))/></label>
                    <button type="submit">"Show"</button>
                    {move || custom_error.get().map(|e| view! { <span class="error">{e}</span> })}
                </form>
            </Show>
            <p class="trend-meta muted">
                {move || shown.with(|t| t.as_ref().map(|t| format!(
                    "{} → {} · {}",
                    zone.bare(t.start_ms),
                    zone.datetime(t.end_ms),
                    source_text(t)
                )))}
                {move || (matches!(span.get(), Span::Last(_)) && shown.with(Option::is_some)).then(|| view! {
                    <span class="live-dot" title="new points appear as they are collected">" · live"</span>
                })}
                {move || shown.with(|t| t.as_ref().and_then(|t| fitted_note(t, zone))).map(|n| view! {
                    <span data-testid=format!("fitted-{name}")>{n}</span>
                })}
            </p>
            {move || shown.with(|t| t.as_ref().and_then(|t| t.source_down.clone())).map(|d| view! {
                <p class="warn-text" data-testid=format!("source-down-{name}")>{format!("{d}: no new points.")}</p>
            })}
            {move || error.get().map(|e| view! {
                <p class="error" data-testid=format!("trend-error-{name}")>{format!("This trend could not be read: {e}")}</p>
            })}
            {move || match (data.get().is_none() && shown.with(Option::is_none), shown.with(|t| t.as_ref().map(|t| t.series.iter().all(|s| s.points.is_empty())))) {
                (true, _) => view! { <p class="muted">"Loading…"</p> }.into_any(),
                (false, Some(true)) => view! {
                    <p class="muted no-data" data-testid=format!("no-data-{name}")>{move || shown.with(|t| t.as_ref().map(|t| empty_reason(t, zone)))}</p>
                }.into_any(),
                _ => ().into_any(),
            }}
            <div class:hidden=move || shown.with(|t| t.as_ref().is_none_or(|t| t.series.iter().all(|s| s.points.is_empty())))>
                <ChartView trend=shown on_zoom name=name/>
            </div>
            <ul class="legend">
                {move || shown.with(|t| t.as_ref().map(|t| t.series.iter().enumerate().map(|(i, s)| view! {
                    <li><span class="swatch" style=format!("background:{}", colour(i))></span>{s.label.clone()}</li>
                }).collect_view()))}
            </ul>
            <p class="projection" data-testid=format!("projection-{name}")>
                {move || shown.with(|t| t.as_ref().map(|t| projection_text(t, zone)))}
            </p>
            {move || shown.with(|t| t.as_ref().map(|t| view! {
                <ul class="flags">
                    {t.growth.clone().map(|g| view! { <li data-testid="growth">{g}</li> })}
                    {t.flags.iter().map(|f| match f.kind {
                        FlagKind::Anomaly => view! {
                            <li class="warn">{format!("⚑ {}: {}", zone.date(f.start_ms), f.text)}</li>
                        }.into_any(),
                        FlagKind::Event => view! {
                            <li class="event">{format!("│ {}: {}", zone.datetime(f.start_ms), f.text)}</li>
                        }.into_any(),
                    }).collect_view()}
                    {t.note.clone().map(|n| view! { <li class="muted">{n}</li> })}
                </ul>
            }))}
        </section>
    }
}
