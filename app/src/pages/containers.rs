//! The container panel: every container with health, uptime, CPU, memory and restarts; filter
//! chips (All | Unhealthy | No memory limit | by stack) and search; per-container detail and
//! restart; the guarded bulk "Restart all unhealthy". Refreshed from the server's latest round.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::api::get_containers;
use crate::components::bulk_restart::BulkRestart;
use crate::components::collector_panel::ago;
use crate::components::container_row::ContainerRow;
use crate::containers::{select, stacks, Container, Containers, Filter, Health};
use crate::live::use_clock;
use crate::model::CollectorState;
use crate::use_session;

/// How often the browser asks for the latest round.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

#[component]
pub fn ContainersPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_containers());
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
    #[cfg(feature = "hydrate")]
    {
        if let Ok(h) = set_interval_with_handle(
            move || {
                leptos::task::spawn_local(async move {
                    if let Ok(next) = get_containers().await {
                        data.set(next);
                    }
                })
            },
            REFRESH,
        ) {
            on_cleanup(move || h.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = REFRESH;

    let session = use_session();
    let admin = Signal::derive(move || session.with(|s| s.as_ref().is_some_and(|s| s.is_admin())));
    let csrf = Signal::derive(move || {
        session.with(|s| s.as_ref().map(|s| s.csrf.clone()).unwrap_or_default())
    });

    let filter = RwSignal::new(Filter::All);
    let search = RwSignal::new(String::new());
    let items = Memo::new(move |_| data.with(|d| d.items.clone().unwrap_or_default()));
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
    let count =
        move |f: fn(&Container) -> bool| items.with(|it| it.iter().filter(|c| f(c)).count());
    let chip = move |label: &'static str, value: Filter, test: &'static str, n: usize| {
        let v = value.clone();
        view! {
            <button class="chip" data-filter=test
                class:active=move || filter.with(|f| *f == v)
                on:click=move |_| filter.set(value.clone())>
                {format!("{label} ({n})")}
            </button>
        }
    };

    view! {
        <div class="containers" data-hydrated=move || hydrated.get().to_string()>
            <div class="statusline">
                <h2>"Containers"</h2>
                {move || data.with(|d| {
                    let s = &d.status;
                    match (s.state, &d.items) {
                        (CollectorState::Error, _) => view! {
                            <p class="error" data-testid="docker-error">
                                {format!("Docker unreachable: {}", s.message.clone().unwrap_or_default())}
                            </p>
                        }.into_any(),
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
            <p class="muted" data-testid="watchdog">{move || data.with(watchdog_line)}</p>

            <div class="toolbar">
                <div class="chips">
                    {move || view! {
                        {chip("All", Filter::All, "all", count(|_| true))}
                        {chip("Unhealthy", Filter::Unhealthy, "unhealthy", count(|c| c.health == Health::Unhealthy))}
                        {chip("No memory limit", Filter::NoMemoryLimit, "no-limit", count(Container::no_memory_limit))}
                        {items.with(|it| stacks(it)).into_iter().map(|s| {
                            let n = items.with(|it| it.iter().filter(|c| c.stack.as_deref() == Some(s.as_str())).count());
                            let name = s.clone();
                            view! {
                                <button class="chip" data-filter=format!("stack:{s}")
                                    class:active={let s = s.clone(); move || filter.with(|f| *f == Filter::Stack(s.clone()))}
                                    on:click=move |_| filter.set(Filter::Stack(name.clone()))>
                                    {format!("Stack: {s} ({n})")}
                                </button>
                            }
                        }).collect_view()}
                    }}
                </div>
                <input class="search" type="search" placeholder="Search name, stack, image"
                    data-testid="search"
                    prop:value=move || search.get()
                    on:input=move |ev| search.set(event_target_value(&ev))/>
                {move || admin.get().then(|| view! {
                    <BulkRestart csrf=csrf unhealthy=Signal::derive(move || count(|c| c.health == Health::Unhealthy))/>
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
                    <For each=move || shown.get() key=|id| id.clone() let:id>
                        <ContainerRow
                            container=Memo::new({
                                let id = id.clone();
                                move |_| items.with(|it| it.iter().find(|c| c.id == id).cloned())
                            })
                            now=now admin=admin csrf=csrf/>
                    </For>
                </div>
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
