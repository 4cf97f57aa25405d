//! Steward's shared crate: types and pure logic used by both the server and the WASM client,
//! the Leptos UI, and the `#[server]` functions it calls.
//!
//! Features are chosen at the edges: `server` enables `ssr`, `frontend` enables `hydrate`.

#![recursion_limit = "256"]

pub mod alerts;
pub mod auth;
pub mod containers;
pub mod digest;
pub mod fleet;
pub mod maintenance;
pub mod models;
pub mod overview;
pub mod shared;
pub mod trends;
pub mod ui;
pub mod vitals;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    Lazy, ParamSegment, SsrMode, StaticSegment,
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
                <meta name="theme-color" content="#171e26"/>
                <link rel="icon" id="favicon" href="/favicon.svg" type="image/svg+xml"/>
                <link rel="apple-touch-icon" href="/icon-192.png"/>
                <link rel="manifest" href="/manifest.webmanifest"/>
                // Before the first paint, so a chosen theme never flashes the other one.
                <script inner_html=HEAD_SCRIPT></script>
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

/// Runs in the page's head, before the app: applies the theme chosen with the top bar's toggle
/// (`auto` follows the system; kept in localStorage), defines the toggle's action, refreshes the
/// local zone's offset in the `steward_tz` cookie and defines the zone switch, and registers
/// the service worker that keeps the app usable offline (browsers allow it on HTTPS and on
/// localhost only). Plain JavaScript, so the WASM carries none of it.
pub const HEAD_SCRIPT: &str = r#"(function(){var k="steward-theme",d=document.documentElement,n={auto:"light",light:"dark",dark:"auto"};function get(){try{return localStorage.getItem(k)||"auto"}catch(e){return"auto"}}function label(){var b=document.getElementById("theme-toggle"),t=d.dataset.theme||"auto";if(b){b.setAttribute("aria-label","Theme: "+(t=="auto"?"follows the system":t)+". Change theme");b.title=b.getAttribute("aria-label");b.dataset.choice=t}}function set(t){if(t=="light"||t=="dark")d.dataset.theme=t;else delete d.dataset.theme;label()}set(get());window.stewardTheme=function(){var t=n[d.dataset.theme||"auto"];try{localStorage.setItem(k,t)}catch(e){}set(t)};var z="steward_tz",m=document.cookie.match(/(?:^|; )steward_tz=([^;]*)/),c=m?m[1]:"utc";function keep(v){document.cookie=z+"="+v+"; path=/; max-age=31536000; samesite=strict"}function zl(){var o=parseInt(c.slice(6),10),b=document.getElementById("zone-toggle");if(!b)return;var t="UTC";if(c.indexOf("local:")==0&&!isNaN(o)){var a=Math.abs(o);t="local (UTC"+(o<0?"\u2212":"+")+String(Math.floor(a/60)).padStart(2,"0")+":"+String(a%60).padStart(2,"0")+")"}b.textContent=t;b.setAttribute("aria-label","Times in "+t+". Switch time zone")}document.addEventListener("DOMContentLoaded",function(){label();zl()});if(c.indexOf("local")==0)keep("local:"+(-new Date().getTimezoneOffset()));window.stewardZone=function(){keep(c.indexOf("local")==0?"utc":"local:"+(-new Date().getTimezoneOffset()));location.reload()};if("serviceWorker"in navigator)window.addEventListener("load",function(){navigator.serviceWorker.register("/sw.js").catch(function(){})})})();"#;

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
    let session = Resource::new_blocking(|| (), |_| auth::api::get_session());
    let current = Signal::derive(move || session.get().and_then(|r| r.ok()).flatten());
    provide_context(CurrentSession(current));
    let zone = shared::zone::page_zone();
    provide_context(zone);
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
                    <a href="/maintenance">"Maintenance"</a>
                    <a href="/models">"Models"</a>
                    <a href="/fleet">"Fleet"</a>
                    <alerts::badge::AlertsLink/>
                    <a href="/audit">"Audit"</a>
                </nav>
                // Labelled by the head script from the cookie (static here: nothing in the WASM).
                <button type="button" class="theme-toggle" id="zone-toggle" onclick="stewardZone()"
                    title="Times are shown in this zone; switch between UTC and local time"
                    aria-label="Switch time zone">"UTC"</button>
                <button type="button" class="theme-toggle" id="theme-toggle" onclick="stewardTheme()"
                    aria-label="Theme: follows the system. Change theme">"◐"</button>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let user = session.await.ok().flatten();
                        view! { <auth::user_menu::UserMenu user=user/> }
                    })}
                </Suspense>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="error">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=overview::page::OverviewPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("containers") view={Lazy::<containers::page::ContainersRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("maintenance") view={Lazy::<maintenance::page::MaintenanceRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("models") view={Lazy::<models::page::ModelsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("trends") view={Lazy::<trends::page::TrendsRoute>::new()}/>
                    <Route path=StaticSegment("alerts") view={Lazy::<alerts::page::AlertsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("fleet") view={Lazy::<fleet::page::FleetRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("fleet"), ParamSegment("host")) view={Lazy::<fleet::host_page::FleetHostRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("digest") view={Lazy::<digest::page::DigestRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("audit") view={Lazy::<auth::audit_page::AuditRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("login") view={Lazy::<auth::login::LoginRoute>::new()}/>
                    <Route path=StaticSegment("setup") view={Lazy::<auth::login::SetupRoute>::new()}/>
                </Routes>
            </main>
        </Router>
    }
}
