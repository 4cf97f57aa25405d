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
    // The count as the server rendered it, for the title (see the formatter).
    let rendered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let current = {
        let rendered = rendered.clone();
        move || match badge.try_get().flatten() {
            Some(Ok(b)) => {
                last.try_set(b);
                rendered.store(b.firing, std::sync::atomic::Ordering::Relaxed);
                b
            }
            _ => last.try_get_untracked().unwrap_or_default(),
        }
    };
    // A formatter, not a text: each page keeps its own title and gains the count in front.
    // On the server the title is formatted after the page's render, on whichever worker
    // thread finishes the response, where no reactive arena is active and any signal read
    // panics (seen in the fuzz test). So the server reads the plain count the render stored;
    // the browser reads the resource, so the title follows each refresh.
    #[cfg(feature = "hydrate")]
    let firing = {
        let current = current.clone();
        move || current().firing
    };
    #[cfg(not(feature = "hydrate"))]
    let firing = move || rendered.load(std::sync::atomic::Ordering::Relaxed);
    let formatter = move |page: String| match firing() {
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
