//! The maintenance page: Steward's cleanup (dry run, confirmed run with live progress, the
//! last runs as a sparkline), every scheduled job with its status and run history, and the
//! heartbeat jobs an admin adds. Refreshed from the server's latest state.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::maintenance::api::get_maintenance;
use crate::maintenance::cleanup_panel::CleanupPanel;
use crate::maintenance::culprit_list::CulpritList;
use crate::maintenance::job_table::{JobTable, NewJob};
use crate::maintenance::Maintenance;
use crate::use_session;

/// How often the browser asks for the latest state.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

#[component]
pub fn MaintenancePage() -> impl IntoView {
    // The server renders the first jobs with their latest run; the browser then fetches all.
    let data = Resource::new(|| (), |_| get_maintenance(true));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(m) => view! { <Panel initial=m/> }.into_any(),
                    Err(e) => view! { <p class="error">{format!("Steward could not read its state: {e}")}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Panel(initial: Maintenance) -> impl IntoView {
    let data = RwSignal::new(initial);
    let session = use_session();
    let admin = Signal::derive(move || session.with(|s| s.as_ref().is_some_and(|s| s.is_admin())));
    let csrf = Signal::derive(move || {
        session.with(|s| s.as_ref().map(|s| s.csrf.clone()).unwrap_or_default())
    });
    let refresh_error = RwSignal::new(None::<String>);
    let refresh = move || {
        leptos::task::spawn_local(async move {
            match get_maintenance(false).await {
                Ok(next) => {
                    data.set(next);
                    refresh_error.set(None);
                }
                Err(e) => refresh_error.set(Some(e.to_string())),
            }
        })
    };
    #[cfg(feature = "hydrate")]
    {
        if data.with_untracked(|d| d.partial.is_some() || !d.jobs.is_empty()) {
            refresh();
        }
        if let Ok(h) = set_interval_with_handle(refresh, REFRESH) {
            on_cleanup(move || h.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = REFRESH;
    let changed = Callback::new(move |()| refresh());
    view! {
        <section class="maintenance">
            <h2>"Maintenance"</h2>
            {move || refresh_error.get().map(|e| view! {
                <p class="error" role="alert">{format!("Refresh failed ({e}): what you see may be old.")}</p>
            })}
            {move || data.with(|d| (!d.findings.is_empty()).then(|| {
                let items = d.findings.clone();
                view! {
                    <div class="findings" role="status" data-testid="findings">
                        <p><strong>{format!("{} things could not be read:", items.len())}</strong></p>
                        <ul>{items.into_iter().map(|f| view! { <li><code>{f.origin}</code>" — "{f.message}</li> }).collect_view()}</ul>
                    </div>
                }
            }))}
            <CleanupPanel data=data.into() admin=admin csrf=csrf changed=changed/>
            <div class="card culprit-card">
                <h3>"What takes the disk"</h3>
                <CulpritList culprits=Signal::derive(move || data.with(|d| d.culprits.clone()))/>
            </div>
            <h3>"Scheduled jobs"</h3>
            {move || data.with(|d| d.partial.map(|n| view! {
                <p class="muted" data-testid="jobs-partial">{format!("Showing the first {} of {n} jobs; the rest load with the page…", d.jobs.len())}</p>
            }))}
            <JobTable data=data.into() admin=admin csrf=csrf changed=changed/>
            <Show when=move || admin.get()>
                <NewJob csrf=csrf changed=changed/>
            </Show>
        </section>
    }
}

pub struct MaintenanceRoute;

#[lazy_route]
impl LazyRoute for MaintenanceRoute {
    fn data() -> Self {
        MaintenanceRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <MaintenancePage/> }.into_any()
    }
}
