//! The container panel: every container with health, uptime, CPU, memory and restarts; filter
//! chips (All | Unhealthy | No memory limit | by stack) and search; per-container detail and
//! restart; the guarded bulk "Restart all unhealthy". Refreshed from the server's latest round.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::containers::api::get_containers;
use crate::containers::bulk_restart::BulkRestart;
use crate::containers::row::ContainerRow;
use crate::containers::{select, Containers, Filter, PanelCounts, PAGE_ROWS};
use crate::overview::live::use_clock;
use crate::ui::collector_panel::ago;
use crate::use_session;
use crate::vitals::CollectorState;

/// How often the browser asks for the latest round.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

#[component]
pub fn ContainersPage() -> impl IntoView {
    // The server renders the first rows only (unhealthy first) and the counts over all; the
    // browser fetches the whole list once hydrated, so filters and search run locally.
    let data = Resource::new(|| (), |_| get_containers(true));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(c) => view! { <Panel initial=c/> }.into_any(),
                    Err(e) => view! { <p class="error">{format!("Steward could not read its state: {e}")}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn watchdog_line(c: &Containers) -> String {
    let w = &c.watchdog;
    if !w.enabled {
        return "Watchdog: off".into();
    }
    format!(
        "Watchdog: on{} · restarts after {} failed checks · at most {}/h per container · {} s cooldown",
        if w.dry_run { " (dry run)" } else { "" },
        w.failures_before_restart,
        w.restarts_per_hour,
        w.cooldown_secs
    )
}

#[component]
fn Panel(initial: Containers) -> impl IntoView {
    let data = RwSignal::new(initial);
    let now = use_clock();
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    // A failed refresh is said on the page: the list shown is then older than it looks, and
    // after a first-rows render the rest of it never arrived.
    let refresh_error = RwSignal::new(None::<String>);
    #[cfg(feature = "hydrate")]
    {
        let refresh = move || {
            leptos::task::spawn_local(async move {
                match get_containers(false).await {
                    Ok(next) => {
                        data.set(next);
                        refresh_error.set(None);
                    }
                    Err(e) => refresh_error.set(Some(e.to_string())),
                }
            })
        };
        if data.with_untracked(|d| d.partial.is_some()) {
            refresh();
        }
        if let Ok(h) = set_interval_with_handle(refresh, REFRESH) {
            on_cleanup(move || h.clear());
        }
    }

    let session = use_session();
    let admin = Signal::derive(move || session.with(|s| s.as_ref().is_some_and(|s| s.is_admin())));
    let csrf = Signal::derive(move || {
        session.with(|s| s.as_ref().map(|s| s.csrf.clone()).unwrap_or_default())
    });

    let zone = crate::shared::zone::use_zone();
    let filter = RwSignal::new(Filter::All);
    let search = RwSignal::new(String::new());
    let limit = RwSignal::new(PAGE_ROWS);
    let items = Memo::new(move |_| data.with(|d| d.items.clone().unwrap_or_default()));
    // Each row finds its container by id in O(1); a linear search per row was quadratic.
    let positions = Memo::new(move |_| {
        items.with(|it| {
            it.iter()
                .enumerate()
                .map(|(i, c)| (c.id.clone(), i))
                .collect::<HashMap<_, _>>()
        })
    });
    let shown = Memo::new(move |_| {
        items.with(|it| {
            filter.with(|f| {
                search.with(|q| {
                    select(it, f, q)
                        .into_iter()
                        .map(|i| it[i].id.clone())
                        .collect::<Vec<_>>()
                })
            })
        })
    });
    let rows = Memo::new(move |_| {
        let n = limit.get();
        shown.with(|s| s.iter().take(n).cloned().collect::<Vec<_>>())
    });
    let counts = Memo::new(move |_| {
        data.with(|d| {
            d.partial
                .clone()
                .unwrap_or_else(|| PanelCounts::of(d.items.as_deref().unwrap_or_default()))
        })
    });
    let chip = move |label: &'static str, value: Filter, test: &'static str, n: usize| {
        let v = value.clone();
        view! {
            <button class="chip" data-filter=test
                class:active=move || filter.with(|f| *f == v)
                on:click=move |_| { filter.set(value.clone()); limit.set(PAGE_ROWS); }>
                {format!("{label} ({n})")}
            </button>
        }
    };

    view! {
        <div class="containers" data-hydrated=move || hydrated.get().to_string()
            class:stale=move || data.with(|d| d.status.state == CollectorState::Error && d.items.is_some())>
            <div class="statusline">
                <h2>"Containers"</h2>
                {move || data.with(|d| {
                    let s = &d.status;
                    match (s.state, &d.items) {
                        (CollectorState::Error, items) => {
                            let at = d.collected_ms;
                            let kept = items.is_some();
                            view! {
                                <p class="error" data-testid="docker-error">
                                    {format!("Docker unreachable: {}", s.message.clone().unwrap_or_default())}
                                </p>
                                {kept.then(|| view! {
                                    <p class="warn-text" data-testid="docker-stale">
                                        {move || format!("Showing the last known containers, as of {} ({}).", ago(now.get(), at), at.map(|t| zone.datetime(t)).unwrap_or_default())}
                                    </p>
                                })}
                            }.into_any()
                        }
                        (_, None) => view! { <p class="muted" data-testid="docker-waiting">"Waiting for the first Docker round…"</p> }.into_any(),
                        (state, Some(_)) => {
                            let at = d.collected_ms;
                            let msg = s.message.clone();
                            view! {
                                <span class="muted" data-testid="docker-updated">{move || format!("updated {}", ago(now.get(), at))}</span>
                                {(state == CollectorState::Degraded).then(|| view! { <span class="warn-text">{format!("degraded: {}", msg.clone().unwrap_or_default())}</span> })}
                            }.into_any()
                        }
                    }
                })}
            </div>
            {move || refresh_error.get().map(|e| view! {
                <p class="error" data-testid="refresh-error">
                    {format!("Could not refresh the list (retrying every {} s): {e}", REFRESH.as_secs())}
                </p>
            })}
            <p class="muted" data-testid="watchdog">{move || data.with(watchdog_line)}</p>

            <div class="toolbar">
                <div class="chips">
                    {move || counts.with(|k| view! {
                        {chip("All", Filter::All, "all", k.all)}
                        {chip("Unhealthy", Filter::Unhealthy, "unhealthy", k.unhealthy)}
                        {chip("No memory limit", Filter::NoMemoryLimit, "no-limit", k.no_memory_limit)}
                        {k.stacks.iter().map(|(s, n)| {
                            let (s, name) = (s.clone(), s.clone());
                            view! {
                                <button class="chip" data-filter=format!("stack:{s}")
                                    class:active={let s = s.clone(); move || filter.with(|f| *f == Filter::Stack(s.clone()))}
                                    on:click=move |_| { filter.set(Filter::Stack(name.clone())); limit.set(PAGE_ROWS); }>
                                    {format!("Stack: {s} ({n})")}
                                </button>
                            }
                        }).collect_view()}
                    })}
                </div>
                <input class="search" type="search" placeholder="Search name, stack, image"
                    data-testid="search"
                    prop:value=move || search.get()
                    on:input=move |ev| { search.set(event_target_value(&ev)); limit.set(PAGE_ROWS); }/>
                {move || admin.get().then(|| view! {
                    <BulkRestart csrf=csrf unhealthy=Signal::derive(move || counts.with(|k| k.unhealthy))/>
                })}
            </div>

            <div class="crows" data-testid="container-list">
                <div class="crow head">
                    <span>"Name"</span><span>"Health"</span><span>"Uptime"</span><span>"CPU"</span>
                    <span>"Memory / limit"</span><span>"Restarts"</span><span></span>
                </div>
                // The keyed list is the only child of its element: <For> moves rows among its
                // own siblings, and other siblings made it misplace moved rows.
                <div class="crows-body">
                    <For each=move || rows.get() key=|id| id.clone() let:id>
                        <ContainerRow
                            container=Memo::new({
                                let id = id.clone();
                                move |_| {
                                    let at = positions.with(|p| p.get(&id).copied())?;
                                    items.with(|it| it.get(at).cloned())
                                }
                            })
                            now=now admin=admin csrf=csrf/>
                    </For>
                </div>
                {move || data.with(|d| d.partial.as_ref().map(|k| k.all)).map(|all| view! {
                    <p class="more muted" data-testid="more-rows">
                        {format!("Showing the first {PAGE_ROWS} of {all}; loading the rest…")}
                    </p>
                })}
                {move || {
                    let total = shown.with(Vec::len);
                    let n = limit.get();
                    (data.with(|d| d.partial.is_none()) && total > n).then(|| view! {
                        <p class="more" data-testid="more-rows">
                            <span class="muted">{format!("Showing {n} of {total}. ")}</span>
                            <button data-testid="show-more" on:click=move |_| limit.update(|l| *l += PAGE_ROWS)>
                                {format!("Show {} more", (total - n).min(PAGE_ROWS))}
                            </button>
                            " "
                            <button data-testid="show-all" on:click=move |_| limit.set(usize::MAX)>
                                {format!("Show all {total}")}
                            </button>
                        </p>
                    })
                }}
                {move || (data.with(|d| d.items.is_some()) && shown.with(|s| s.is_empty())).then(|| view! {
                    <p class="muted" data-testid="no-match">"No container matches."</p>
                })}
            </div>
        </div>
    }
}

/// The route: its code is split off the main WASM (`cargo leptos build --split`) and loaded only
/// when this page is opened, so the overview does not download it.
pub struct ContainersRoute;

#[lazy_route]
impl LazyRoute for ContainersRoute {
    fn data() -> Self {
        ContainersRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <ContainersPage/> }.into_any()
    }
}
