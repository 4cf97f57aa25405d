//! The audit log: every action and watchdog decision, newest first, with paging.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::auth::api::get_audit;
use crate::auth::AuditEntry;

#[component]
pub fn AuditPage() -> impl IntoView {
    let first = Resource::new(|| (), |_| get_audit(None));
    view! {
        <h2>"Audit log"</h2>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match first.await {
                    Ok(entries) => view! { <AuditTable initial=entries/> }.into_any(),
                    Err(e) => view! { <p class="error">{format!("Cannot read the audit log: {e}")}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AuditTable(initial: Vec<AuditEntry>) -> impl IntoView {
    let zone = crate::shared::zone::use_zone();
    let entries = RwSignal::new(initial);
    let more_error = RwSignal::new(None::<String>);
    let exhausted = RwSignal::new(false);
    let older = move |_| {
        let before = entries.with(|e| e.last().map(|x| x.id));
        leptos::task::spawn_local(async move {
            match get_audit(before).await {
                Ok(more) if more.is_empty() => exhausted.set(true),
                Ok(more) => entries.update(|e| e.extend(more)),
                Err(e) => more_error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Audit log entries">
            <table class="audit" data-testid="audit">
                <thead><tr><th>"Time"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Result"</th><th>"Detail"</th></tr></thead>
                <tbody>
                    <For each=move || entries.get() key=|e| e.id let:e>
                        <tr class=format!("result-{}", e.result)>
                            <td>{zone.datetime(e.ts_ms)}</td>
                            <td>{who(&e)}</td>
                            <td>{e.action.clone()}</td>
                            <td>{e.target.clone()}</td>
                            <td><span class="badge">{e.result.clone()}</span></td>
                            <td class="muted">{e.detail.clone().unwrap_or_default()}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
        </div>
        {move || entries.with(|e| e.is_empty()).then(|| view! { <p class="muted">"No actions recorded yet."</p> })}
        {move || more_error.get().map(|e| view! { <p class="error">{e}</p> })}
        <button on:click=older disabled=move || exhausted.get()>"Older entries"</button>
    }
}

/// The actor, and the replica it acted on where replicas share one log.
fn who(e: &AuditEntry) -> String {
    match e.node.as_str() {
        "" => e.actor.clone(),
        node => format!("{} on {node}", e.actor),
    }
}

/// The route: its code is split off the main WASM (`cargo leptos build --split`) and loaded only
/// when this page is opened, so the overview does not download it.
pub struct AuditRoute;

#[lazy_route]
impl LazyRoute for AuditRoute {
    fn data() -> Self {
        AuditRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <AuditPage/> }.into_any()
    }
}
