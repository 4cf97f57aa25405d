//! The fleet panel (`/fleet`): counts by badge, a searchable and filterable page of hosts with
//! their score and main vitals, refreshed every few seconds, and (admins) *Add host*, which
//! shows the new host's token once with its install lines and systemd unit.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::fleet::api::get_fleet;
use crate::fleet::{
    install_instructions, Badge, FleetHost, FleetPage, GroupView, Health, PAGE_ROWS,
};
use crate::shared::client::post_json;
use crate::use_session;

/// How often the browser asks for the latest fleet state when the event stream is not there.
#[cfg(feature = "hydrate")]
const REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

#[component]
pub fn FleetPanel() -> impl IntoView {
    let query = RwSignal::new(String::new());
    let badge = RwSignal::new(String::new());
    let health = RwSignal::new(String::new());
    let group = RwSignal::new(String::new());
    let offset = RwSignal::new(0u32);
    // Hosts an admin ticked, to move into a group at once.
    let selected = RwSignal::new(std::collections::BTreeSet::<String>::new());
    let data = Resource::new(
        move || {
            (
                query.get(),
                badge.get(),
                health.get(),
                group.get(),
                offset.get(),
            )
        },
        |(q, b, h, g, o)| get_fleet(q, b, h, g, o),
    );
    // The group names for the admin's "move to" list, outside the refreshed part so that a
    // form being filled in is not redrawn (filled in after hydration, so SSR matches).
    let group_names = RwSignal::new(Vec::<String>::new());
    Effect::new(move |_| {
        if let Some(Ok(p)) = data.get() {
            let names: Vec<String> = p.groups.iter().map(|g| g.name.clone()).collect();
            if group_names.with_untracked(|n| *n != names) {
                group_names.set(names);
            }
        }
    });
    #[cfg(feature = "hydrate")]
    live::follow(move || data.refetch());
    view! {
        <section class="fleet" data-testid="fleet">
            <h2>"Fleet"</h2>
            <div class="fleet-filters">
                <input type="search" placeholder="Search hosts" aria-label="Search hosts"
                    data-testid="fleet-search"
                    prop:value=move || query.get()
                    on:input=move |ev| { query.set(event_target_value(&ev)); offset.set(0); }/>
                <select aria-label="Show hosts that are" data-testid="fleet-badge"
                    on:change=move |ev| { badge.set(event_target_value(&ev)); offset.set(0); }>
                    <option value="">"all"</option>
                    {[Badge::Live, Badge::Stale, Badge::Missing, Badge::NeverSeen].into_iter().map(|b| view! {
                        <option value=b.key()>{b.as_str()}</option>
                    }).collect_view()}
                </select>
                <select aria-label="Show hosts whose health check is" data-testid="fleet-health"
                    on:change=move |ev| { health.set(event_target_value(&ev)); offset.set(0); }>
                    <option value="">"any health"</option>
                    {Health::ALL.into_iter().map(|h| view! {
                        <option value=h.key()>{h.key()}</option>
                    }).collect_view()}
                </select>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(p) => view! {
                            <GroupChips groups=p.groups.clone() group=group offset=offset/>
                            <HostList page=p offset=offset selected=selected/>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{format!("Steward could not read the fleet: {e}")}</p> }.into_any(),
                    }
                })}
            </Transition>
            <GroupRestart group=group/>
            <GroupAdmin names=group_names selected=selected on_changed=Callback::new(move |_| data.refetch())/>
            <AddHost on_added=Callback::new(move |_| data.refetch())/>
        </section>
    }
}

#[component]
fn HostList(
    page: FleetPage,
    offset: RwSignal<u32>,
    selected: RwSignal<std::collections::BTreeSet<String>>,
) -> impl IntoView {
    let c = &page.counts;
    let counts = [
        (Badge::Live, c.live),
        (Badge::Stale, c.stale),
        (Badge::Missing, c.missing),
        (Badge::NeverSeen, c.never_seen),
    ];
    let from = offset.get_untracked() as usize;
    let shown = page.hosts.len();
    let matched = page.matched as usize;
    let now = page.now_ms;
    view! {
        <ul class="fleet-counts" data-testid="fleet-counts">
            {counts.into_iter().map(|(b, n)| view! {
                <li class=format!("fleet-count {}", b.key()) data-testid=format!("fleet-count-{}", b.key())>
                    <strong>{n}</strong>" "{b.as_str()}
                </li>
            }).collect_view()}
        </ul>
        {(page.health != Default::default()).then(|| {
            let h = &page.health;
            view! {
                <p class="fleet-health-counts" data-testid="fleet-health-counts">{format!(
                    "Health checks: {} healthy, {} degraded, {} critical, {} unreachable{}",
                    h.healthy, h.degraded, h.critical, h.unreachable,
                    if h.unchecked > 0 { format!(", {} not checked yet", h.unchecked) } else { String::new() }
                )}</p>
            }
        })}
        {(page.unknown_tokens > 0).then(|| view! {
            <p class="muted" data-testid="fleet-unknown-tokens">{format!(
                "{} requests came with a token no host ever had.", page.unknown_tokens
            )}</p>
        })}
        {if page.hosts.is_empty() {
            view! { <p class="muted" data-testid="fleet-empty">{
                if matched == 0 && page.counts == Default::default() {
                    "No hosts yet: add one below and run its agent."
                } else {
                    "No host matches."
                }
            }</p> }.into_any()
        } else {
            view! {
                <ul class="fleet-hosts">
                    {page.hosts.into_iter().map(|h| view! { <HostCard h=h now=now selected=selected/> }).collect_view()}
                </ul>
            }.into_any()
        }}
        <nav class="pager" aria-label="Pages of hosts">
            <span data-testid="fleet-range">{if shown == 0 {
                format!("0 of {matched}")
            } else {
                format!("{}–{} of {matched}", from + 1, from + shown)
            }}</span>
            <button disabled={from == 0}
                on:click=move |_| offset.update(|o| *o = o.saturating_sub(PAGE_ROWS as u32))>"Previous"</button>
            <button disabled={from + shown >= matched} data-testid="fleet-next"
                on:click=move |_| offset.update(|o| *o += PAGE_ROWS as u32)>"Next"</button>
        </nav>
    }
}

#[component]
fn HostCard(
    h: FleetHost,
    now: i64,
    selected: RwSignal<std::collections::BTreeSet<String>>,
) -> impl IntoView {
    let zone = crate::shared::zone::use_zone();
    let session = use_session();
    let admin = move || session.with(|s| s.as_ref().is_some_and(|s| s.is_admin()));
    let name = h.host.clone();
    let label = format!("Select {}", h.host);
    let ticked = {
        let name = name.clone();
        move || selected.with(|s| s.contains(&name))
    };
    let tick = move |ev: leptos::ev::Event| {
        let on = event_target_checked(&ev);
        selected.update(|s| {
            if on {
                s.insert(name.clone());
            } else {
                s.remove(&name);
            }
        });
    };
    let health = h.health.clone().map(|c| {
        let latency = c
            .latency_ms
            .map(|l| format!(" in {l} ms"))
            .unwrap_or_default();
        view! {
            <p class=format!("fleet-health {}", c.status.key()) data-testid="fleet-host-health">
                <span class=format!("badge {}", c.status.key())>{c.status.key()}</span>
                {format!(" {}{latency}, checked {}", c.reason, zone.datetime(c.at_ms))}
            </p>
        }
    });
    let value = |name: &str, label: Option<&str>| {
        h.vitals
            .as_ref()
            .and_then(|v| v.metric(name, label))
            .map(crate::shared::format::metric)
            .unwrap_or_else(|| "—".into())
    };
    // The card's metrics are those `FleetHost::for_card` keeps.
    let disk_mount = "/";
    let score = h
        .score
        .as_ref()
        .and_then(|s| s.value)
        .map_or("—".to_string(), |v| v.to_string());
    let level = h.score.as_ref().map_or("unknown", |s| s.level().as_str());
    let heard = match h.last_heartbeat_ms {
        Some(t) => format!(
            "{} ({} ago)",
            zone.datetime(t),
            crate::shared::format::duration(((now - t).max(0) / 1000) as u64)
        ),
        None => "never".into(),
    };
    let problems = h.rejected_fields + h.refused_tokens + h.agent_dropped;
    let gpu = h.gpu_line().map(|(text, level)| {
        view! { <p class=format!("fleet-gpu {}", level.as_str()) data-testid="fleet-host-gpu">{text}</p> }
    });
    view! {
        <li class="fleet-host card" data-testid="fleet-host">
            <div class="fleet-host-head">
                {move || admin().then(|| view! {
                    <input type="checkbox" data-testid="fleet-host-select"
                        aria-label=label.clone() prop:checked=ticked.clone() on:change=tick.clone()/>
                })}
                <a href=format!("/fleet/{}", h.host) data-testid="fleet-host-link"><strong data-testid="fleet-host-name">{h.host.clone()}</strong></a>
                {h.group.clone().map(|g| view! { <span class="chip" data-testid="fleet-host-group">{g}</span> })}
                <span class=format!("badge {}", h.badge.key()) data-testid="fleet-host-badge">{h.badge.as_str()}</span>
                <span class=format!("fleet-score {level}") title="Health score (same card as the overview)">{score}</span>
            </div>
            <dl class="fleet-vitals">
                <dt>"CPU"</dt><dd>{value("cpu_busy_pct", None)}<SparkLine values=h.sparks.cpu.clone()/></dd>
                <dt>"Memory"</dt><dd>{value("mem_used_pct", None)}<SparkLine values=h.sparks.mem.clone()/></dd>
                <dt>"Disk /"</dt><dd>{value("disk_used_pct", Some(disk_mount))}<SparkLine values=h.sparks.disk.clone()/></dd>
                <dt>"Steal"</dt><dd>{value("cpu_steal_pct", None)}</dd>
            </dl>
            {gpu}
            {h.containers_error.clone().map(|e| view! {
                <p class="fleet-docker" data-testid="fleet-host-docker-error">{format!("Docker error: {e}")}</p>
            })}
            <p class="muted">
                {format!("Last heartbeat {heard}")}
                {h.agent_version.map(|v| format!(" · agent {v}"))}
                {h.containers.map(|c| format!(" · {} containers, {} unhealthy", c.total, c.unhealthy))}
            </p>
            {health}
            {(problems > 0).then(|| view! {
                <p class="warn-text" data-testid="fleet-host-problems">{format!(
                    "{} fields dropped, {} refused token uses, {} heartbeats the agent dropped",
                    h.rejected_fields, h.refused_tokens, h.agent_dropped
                )}</p>
            })}
        </li>
    }
}

/// A card's sparkline: the last half hour of one metric, a point a minute. Decorative (the
/// value is written beside it), so screen readers skip it.
#[component]
fn SparkLine(values: Vec<u8>) -> impl IntoView {
    let lines = crate::fleet::spark::polylines(&values, 58.0, 12.0);
    (!lines.is_empty()).then(|| {
        view! {
            <svg class="spark" viewBox="-1 -1 60 14" width="60" height="14" aria-hidden="true" data-testid="fleet-spark">
                {lines.into_iter().map(|p| view! { <polyline points=p/> }).collect_view()}
            </svg>
        }
    })
}

/// The groups with their scores; a click filters by one.
#[component]
fn GroupChips(
    groups: Vec<GroupView>,
    group: RwSignal<String>,
    offset: RwSignal<u32>,
) -> impl IntoView {
    (!groups.is_empty()).then(|| view! {
        <ul class="fleet-groups" data-testid="fleet-groups">
            <li><button class:active=move || group.with(String::is_empty)
                on:click=move |_| { group.set(String::new()); offset.set(0); }>"All groups"</button></li>
            {groups.into_iter().map(|g| {
                let name = g.name.clone();
                let key = g.name.clone();
                let score = match (g.worst_score, g.average_score) {
                    (Some(w), Some(a)) => format!("worst {w}, average {a:.0}"),
                    _ => "no score yet".into(),
                };
                view! {
                    <li data-testid="fleet-group">
                        <button class:active=move || group.with(|s| *s == key)
                            on:click=move |_| { group.set(name.clone()); offset.set(0); }>
                            <strong>{g.name.clone()}</strong>
                            {format!(" · {} hosts ({} live) · {score}", g.hosts, g.counts.live)}
                        </button>
                    </li>
                }
            }).collect_view()}
        </ul>
    })
}

/// Admins, with a group chosen: restart the unhealthy containers of the group's hosts (outside
/// the refreshed list, so the modal outlives each refresh).
#[component]
fn GroupRestart(group: RwSignal<String>) -> impl IntoView {
    use crate::fleet::restart::{FleetRestart, RestartTarget};
    let session = use_session();
    let admin = move || session.with(|s| s.as_ref().is_some_and(|s| s.is_admin()));
    let csrf = Signal::derive(move || {
        session.with(|s| s.as_ref().map(|s| s.csrf.clone()).unwrap_or_default())
    });
    let target = Signal::derive(move || RestartTarget::Group(group.get()));
    let label = Signal::derive(move || format!("Restart unhealthy in group {}", group.get()));
    view! {
        <div class="fleet-group-actions" data-testid="fleet-group-actions"
            hidden=move || !admin() || group.with(String::is_empty)>
            <FleetRestart csrf=csrf target=target label=label/>
        </div>
    }
}

/// Admins: create a group, and move the ticked hosts into one (or out of any), each after a
/// confirmation.
#[component]
fn GroupAdmin(
    names: RwSignal<Vec<String>>,
    selected: RwSignal<std::collections::BTreeSet<String>>,
    on_changed: Callback<()>,
) -> impl IntoView {
    let session = use_session();
    let admin = move || session.with(|s| s.as_ref().is_some_and(|s| s.is_admin()));
    let new_name = RwSignal::new(String::new());
    let target = RwSignal::new(String::new());
    // What waits for confirmation: (question, url, body).
    let pending = RwSignal::new(None::<(String, &'static str, String)>);
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let confirm = move |_| {
        let Some((_, url, body)) = pending.get_untracked() else {
            return;
        };
        pending.set(None);
        let csrf =
            session.with_untracked(|s| s.as_ref().map(|s| s.csrf.clone()).unwrap_or_default());
        leptos::task::spawn_local(async move {
            let r = post_json(url, &csrf, Some(body))
                .await
                .map(|_| "Done.".to_string());
            if r.is_ok() {
                selected.set(Default::default());
                new_name.set(String::new());
            }
            outcome.set(Some(r));
            on_changed.run(());
        });
    };
    move || {
        admin().then(|| view! {
        <div class="actions fleet-group-admin" data-testid="fleet-group-admin">
            <input type="text" placeholder="new group" aria-label="New group's name" data-testid="group-name"
                prop:value=move || new_name.get() on:input=move |ev| new_name.set(event_target_value(&ev))/>
            <button data-testid="group-create" disabled=move || new_name.with(String::is_empty)
                on:click=move |_| {
                    let n = new_name.get_untracked();
                    pending.set(Some((format!("Create the group {n}?"), "/api/v1/fleet/groups",
                        serde_json::json!({ "name": n }).to_string())));
                }>"Create group"</button>
            <select aria-label="Group to move the selected hosts to" data-testid="group-target"
                prop:value=move || target.get()
                on:change=move |ev| target.set(event_target_value(&ev))>
                <option value="">"(no group)"</option>
                {move || names.get().into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
            </select>
            <button data-testid="group-assign" disabled=move || selected.with(|s| s.is_empty())
                on:click=move |_| {
                    let hosts: Vec<String> = selected.get_untracked().into_iter().collect();
                    let to = target.get_untracked();
                    let question = match to.as_str() {
                        "" => format!("Take {} hosts out of their group?", hosts.len()),
                        g => format!("Move {} hosts into {g}?", hosts.len()),
                    };
                    let group = (!to.is_empty()).then_some(to);
                    pending.set(Some((question, "/api/v1/fleet/assign",
                        serde_json::json!({ "hosts": hosts, "group": group }).to_string())));
                }>{move || format!("Move {} selected", selected.with(|s| s.len()))}</button>
            {move || pending.get().map(|(question, _, _)| view! {
                <span class="confirm" data-testid="confirm-group">
                    {question}" "
                    <button class="danger" on:click=confirm>"Confirm"</button>
                    <button on:click=move |_| pending.set(None)>"Cancel"</button>
                </span>
            })}
            {move || outcome.get().map(|r| match r {
                Ok(m) => view! { <span class="ok-text" data-testid="group-outcome">{m}</span> }.into_any(),
                Err(e) => view! { <span class="error" role="alert" data-testid="group-outcome">{e}</span> }.into_any(),
            })}
        </div>
    })
    }
}

/// *Add host* (admins): a name, a confirmation, then the token once with the install lines.
#[component]
fn AddHost(on_added: Callback<()>) -> impl IntoView {
    let session = use_session();
    let admin = move || session.with(|s| s.as_ref().is_some_and(|s| s.is_admin()));
    let name = RwSignal::new(String::new());
    let confirming = RwSignal::new(false);
    let result = RwSignal::new(None::<Result<(String, String, String), String>>);
    let add = move |_| {
        let csrf =
            session.with_untracked(|s| s.as_ref().map(|s| s.csrf.clone()).unwrap_or_default());
        let host = name.get_untracked();
        confirming.set(false);
        leptos::task::spawn_local(async move {
            let body = serde_json::json!({ "name": host }).to_string();
            let r = post_json("/api/v1/fleet/hosts", &csrf, Some(body))
                .await
                .and_then(|text| {
                    serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v["token"].as_str().map(str::to_string))
                        .ok_or_else(|| "the answer held no token".to_string())
                })
                .map(|token| {
                    let (lines, unit) = install_instructions(&origin(), &token);
                    (host.clone(), lines, unit)
                });
            result.set(Some(r));
            on_added.run(());
        });
    };
    move || {
        admin().then(|| view! {
        <section class="panel add-host" data-testid="add-host">
            <h3>"Add host"</h3>
            <div class="actions">
                <input type="text" placeholder="web-01" aria-label="New host's name" data-testid="add-host-name"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))/>
                {move || if confirming.get() {
                    view! {
                        <span class="confirm" data-testid="confirm-add-host">
                            {format!("Add {} and show its token once?", name.get())}
                            <button class="danger" on:click=add>"Add"</button>
                            <button on:click=move |_| confirming.set(false)>"Cancel"</button>
                        </span>
                    }.into_any()
                } else {
                    view! {
                        <button data-testid="add-host-button" disabled=move || name.with(String::is_empty)
                            on:click=move |_| confirming.set(true)>"Add host"</button>
                    }.into_any()
                }}
            </div>
            {move || result.get().map(|r| match r {
                Ok((host, lines, unit)) => view! {
                    <div data-testid="add-host-result">
                        <p class="ok-text">{format!("{host} added. Its token is shown this once: run these lines on {host}.")}</p>
                        <pre class="install" data-testid="add-host-lines">{lines}</pre>
                        <p>"Then keep the agent running with this systemd unit (/etc/systemd/system/steward-agent.service):"</p>
                        <pre class="install" data-testid="add-host-unit">{unit}</pre>
                    </div>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert" data-testid="add-host-result">{e}</p> }.into_any(),
            })}
        </section>
    })
    }
}

/// This page's origin, which agents reach the hub at (as the operator's browser does).
fn origin() -> String {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

/// The route: split off the main WASM and loaded when the page is opened.
pub struct FleetRoute;

#[lazy_route]
impl LazyRoute for FleetRoute {
    fn data() -> Self {
        FleetRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <FleetPanel/> }.into_any()
    }
}

/// The fleet stream (`/api/v1/fleet/stream`): the page refetches on each of its events (a
/// change, at most one a second, at least one every 5 s). The stream is closed when the page
/// goes away (a browser keeps six connections per host); without it, or when the browser gives
/// up on it, the page polls.
#[cfg(feature = "hydrate")]
pub(crate) mod live {
    use std::cell::RefCell;
    use std::rc::Rc;

    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{Event, EventSource, MessageEvent};

    const STREAM_PATH: &str = "/api/v1/fleet/stream";

    pub fn follow(refetch: impl Fn() + Clone + 'static) {
        let Ok(source) = EventSource::new(STREAM_PATH) else {
            if let Ok(h) = set_interval_with_handle(refetch, super::REFRESH) {
                on_cleanup(move || h.clear());
            }
            return;
        };
        // The first event only says the stream is open: the page was just rendered.
        let mut first = true;
        let on_event = {
            let refetch = refetch.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |_: MessageEvent| {
                if !std::mem::take(&mut first) {
                    refetch();
                }
            })
        };
        let _ = source.add_event_listener_with_callback("fleet", on_event.as_ref().unchecked_ref());
        // The browser retries a dropped stream by itself, but not one it was refused (a 401
        // once the session ended, a proxy's error page): then the source is closed, and the
        // page polls instead of silently going still.
        let polling: Rc<RefCell<Option<IntervalHandle>>> = Default::default();
        let on_error = {
            let polling = polling.clone();
            Closure::<dyn FnMut(Event)>::new(move |ev: Event| {
                let closed = ev
                    .target()
                    .and_then(|t| t.dyn_into::<EventSource>().ok())
                    .is_some_and(|s| s.ready_state() == EventSource::CLOSED);
                let mut polling = polling.borrow_mut();
                if closed && polling.is_none() {
                    *polling = set_interval_with_handle(refetch.clone(), super::REFRESH).ok();
                }
            })
        };
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // The browser has one thread; the wrapper only satisfies `on_cleanup`'s bounds.
        let held = SendWrapper::new((source, on_event, on_error, polling));
        on_cleanup(move || {
            let (source, on_event, on_error, polling) = held.take();
            source.close();
            if let Some(h) = polling.borrow_mut().take() {
                h.clear();
            }
            drop((on_event, on_error));
        });
    }
}
