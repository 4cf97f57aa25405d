//! The top bar's alert count (firing alerts nobody silenced, coloured by the worst) and the
//! "(N)" in front of every page's title: on every page, rendered on the server and refreshed every 15 s.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::alerts::api::get_alert_badge;
use crate::alerts::{Badge, Severity};

const REFRESH: std::time::Duration = std::time::Duration::from_secs(15);

/// The "Alerts" link with its count, and the document title.
#[component]
pub fn AlertsLink() -> impl IntoView {
    let tick = RwSignal::new(0u32);
    // Blocking: the count is in the server-rendered title, not only after hydration.
    let badge = Resource::new_blocking(move || tick.get(), |_| get_alert_badge());
    #[cfg(feature = "hydrate")]
    {
        if let Ok(h) = set_interval_with_handle(move || tick.update(|t| *t += 1), REFRESH) {
            on_cleanup(move || h.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = REFRESH;
    // The last good count stays while a refresh is in flight or fails.
    let last = RwSignal::new(Badge::default());
    // `try_`: the title's formatter also runs after the page's owner is gone (the server's
    // fallback pages render the title last), where a plain `get` would panic.
    let current = move || match badge.try_get().flatten() {
        Some(Ok(b)) => {
            last.try_set(b);
            b
        }
        _ => last.try_get_untracked().unwrap_or_default(),
    };
    // A formatter, not a text: each page keeps its own title and gains the count in front.
    let formatter = move |page: String| match current().firing {
        0 => page,
        n => format!("({n}) {page}"),
    };
    view! {
        <Title formatter=formatter/>
        <a href="/alerts" data-testid="alerts-link">
            "Alerts"
            <Transition fallback=|| ()>
                {move || {
                    let b = current();
                    (b.firing > 0).then(|| {
                        let class = match b.worst {
                            Some(Severity::Critical) => "alert-count crit",
                            _ => "alert-count warn",
                        };
                        let label = format!("{} firing", b.firing);
                        view! { <span class=class data-testid="alert-badge" aria-label=label>{b.firing}</span> }
                    })
                }}
            </Transition>
        </a>
    }
}
