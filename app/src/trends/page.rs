//! The trends page: every allow-listed trend as a chart with its projection, range toggle, zoom,
//! hover and live tail, and (for admins) the PromQL explore box. The charts load in the browser,
//! so the page itself never waits for Prometheus.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::trends::explore::Explore;
use crate::trends::trend_chart::TrendChart;
use crate::trends::TREND_NAMES;
use crate::use_session;

#[component]
pub fn TrendsPage() -> impl IntoView {
    let session = use_session();
    view! {
        <h2>"Trends"</h2>
        <p class="muted">"Drag across a chart to zoom in (finer data is fetched); hover or tap for exact values."</p>
        <div class="trends">
            {TREND_NAMES.iter().map(|name| view! { <TrendChart name=*name/> }).collect_view()}
        </div>
        {move || session.get().filter(|s| s.is_admin()).map(|s| view! { <Explore csrf=s.csrf/> })}
    }
}

/// The route: its code is split off the main WASM (`cargo leptos build --split`) and loaded only
/// when this page is opened, so the overview does not download it.
pub struct TrendsRoute;

#[lazy_route]
impl LazyRoute for TrendsRoute {
    fn data() -> Self {
        TrendsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <TrendsPage/> }.into_any()
    }
}
