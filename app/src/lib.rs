//! Steward's shared crate: types and pure logic used by both the server and the WASM client,
//! the Leptos UI, and the `#[server]` functions it calls.
//!
//! Features are chosen at the edges: `server` enables `ssr`, `frontend` enables `hydrate`.

#![recursion_limit = "256"]

pub mod api;
pub mod auth;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod chart;
pub mod client;
pub mod clock;
pub mod components;
pub mod containers;
pub mod downsample;
pub mod error;
pub mod format;
pub mod live;
pub mod metric_def;
pub mod model;
pub mod overview_change;
pub mod pages;
pub mod projection;
pub mod range;
pub mod score;
pub mod thresholds;
pub mod trend;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    Lazy, SsrMode, StaticSegment,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="dark light"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The signed-in user, shared with every page (`None`: not signed in).
#[derive(Clone, Copy)]
pub struct CurrentSession(pub Signal<Option<auth::SessionView>>);

/// The session from context (pages are always inside [`App`]).
pub fn use_session() -> Signal<Option<auth::SessionView>> {
    use_context::<CurrentSession>()
        .map(|s| s.0)
        .unwrap_or_else(|| Signal::derive(|| None))
}

/// The root component: a top bar with navigation and the user, and one page per route.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Resolved during SSR and sent with the page, so the browser does not ask again.
    let session = Resource::new_blocking(|| (), |_| api::get_session());
    let current = Signal::derive(move || session.get().and_then(|r| r.ok()).flatten());
    provide_context(CurrentSession(current));
    view! {
        <Stylesheet id="leptos" href="/pkg/steward.css"/>
        <Title text="Steward"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"Steward"</a>
                <nav class="nav">
                    <a href="/">"Overview"</a>
                    <a href="/trends">"Trends"</a>
                    <a href="/containers">"Containers"</a>
                    <a href="/audit">"Audit"</a>
                </nav>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let user = session.await.ok().flatten();
                        view! { <components::user_menu::UserMenu user=user/> }
                    })}
                </Suspense>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="error">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=pages::overview::OverviewPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("containers") view={Lazy::<pages::containers::ContainersRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("trends") view={Lazy::<pages::trends::TrendsRoute>::new()}/>
                    <Route path=StaticSegment("audit") view={Lazy::<pages::audit::AuditRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("login") view=pages::login::LoginPage/>
                    <Route path=StaticSegment("setup") view=pages::login::SetupPage/>
                </Routes>
            </main>
        </Router>
    }
}
