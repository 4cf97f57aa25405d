//! The overview page: score gauge, dimension cards with drill-down, host vitals, top consumers
//! and collector status, rendered on the server and then kept live by the event stream.

use leptos::prelude::*;

use crate::containers::alerts::ContainerAlerts;
use crate::overview::api::get_overview;
use crate::overview::live::{is_stale, use_clock, use_live_overview, LinkState};
use crate::overview::readout::{HostReadout, TopConsumers};
use crate::ui::collector_panel::{ago, CollectorPanel};
use crate::vitals::Overview;
use leptos_meta::Title;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_overview());
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) => view! { <Dashboard initial=o/> }.into_any(),
                    Err(e) => view! { <p class="error">{format!("Steward could not read its state: {e}")}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Dashboard(initial: Overview) -> impl IntoView {
    let overview = RwSignal::new(initial);
    let link = use_live_overview(overview);
    let now = use_clock();
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));

    #[cfg(feature = "hydrate")]
    let score = Signal::derive(move || overview.with(|o| o.score.clone()));
    let collected_at = move || overview.with(|o| o.vitals.as_ref().map(|v| v.collected_at_ms));
    let host = move || {
        overview.with(|o| {
            o.vitals
                .as_ref()
                .map(|v| v.host.clone())
                .unwrap_or_default()
        })
    };

    let zone = crate::shared::zone::use_zone();
    let stale = Signal::derive(move || {
        let interval = overview.with(|o| o.interval_secs);
        is_stale(now.get(), collected_at(), interval)
    });
    #[cfg(feature = "hydrate")]
    let title = move || score.with(|s| s.verdict.title(&host()));
    // The server formats the title after the render, on whichever thread finishes the
    // response, where reading a signal can panic (see alerts/badge.rs): a plain string there.
    #[cfg(not(feature = "hydrate"))]
    let title = overview.with_untracked(|o| {
        let host = o
            .vitals
            .as_ref()
            .map(|v| v.host.as_str())
            .unwrap_or_default();
        o.score.verdict.title(host)
    });
    // The favicon carries the state, so a background tab tells (set in the browser only; the
    // shell's icon is the plain one, and leaving the page restores it).
    #[cfg(feature = "hydrate")]
    {
        let set_icon = |href: &str| {
            if let Some(link) = document().get_element_by_id("favicon") {
                let _ = link.set_attribute("href", href);
            }
        };
        Effect::new(move |_| set_icon(score.with(|s| s.verdict.favicon())));
        on_cleanup(move || set_icon(crate::overview::verdict::favicon(crate::vitals::Level::Ok)));
    }

    view! {
        <Title text=title/>
        <div class="overview" class:stale=stale data-hydrated=move || hydrated.get().to_string()>
            <div class="statusline">
                <span class="host">{host}</span>
                <span class="updated" data-testid="updated" data-collected-at=move || collected_at().unwrap_or(0).to_string()>
                    {move || match collected_at() {
                        Some(t) if stale.get() => format!("stale: values from {} ({})", ago(now.get(), Some(t)), zone.datetime(t)),
                        Some(t) => format!("updated {}", ago(now.get(), Some(t))),
                        None => "no data collected yet".into(),
                    }}
                </span>
                <span class=move || format!("link {}", match link.get() { LinkState::Live => "ok", LinkState::Connecting => "unknown", LinkState::Reconnecting => "crit" })
                    data-testid="link" role="status">
                    {move || match (link.get(), stale.get(), collected_at()) {
                        // The server is gone and the values have aged: say it plainly (an
                        // installed Steward opened offline lands here too).
                        (LinkState::Reconnecting, true, Some(t)) => format!(
                            "offline — last data from {}; reconnecting…",
                            zone.datetime(t)
                        ),
                        (state, _, _) => state.label().to_string(),
                    }}
                </span>
            </div>

            <HostReadout overview=overview now=now no_vitals="No vitals yet: see the collector status below for why." gpu_link="/models"/>

            {view! {<div class="panels">
                <TopConsumers overview=overview/>
                {move || view! { <ContainerAlerts summary=overview.with(|o| o.containers.clone())/> }}
                {move || view! { <CollectorPanel collectors=overview.with(|o| o.collectors.clone()) now=now/> }}
            </div>}.into_any()}
        </div>
    }
    .into_any()
}
