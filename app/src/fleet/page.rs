//! The fleet panel (`/fleet`): counts by badge, a searchable and filterable page of hosts with
//! their score and main vitals, refreshed every few seconds, and (admins) *Add host*, which
//! shows the new host's token once with its install lines and systemd unit.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::fleet::api::get_fleet;
use crate::fleet::{install_instructions, Badge, FleetHost, FleetPage, PAGE_ROWS};
use crate::shared::client::post_json;
use crate::use_session;

/// How often the browser asks for the latest fleet state.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

#[component]
pub fn FleetPanel() -> impl IntoView {
    let query = RwSignal::new(String::new());
    let badge = RwSignal::new(String::new());
    let offset = RwSignal::new(0u32);
    let data = Resource::new(
        move || (query.get(), badge.get(), offset.get()),
        |(q, b, o)| get_fleet(q, b, o),
    );
    #[cfg(feature = "hydrate")]
    {
        if let Ok(h) = set_interval_with_handle(move || data.refetch(), REFRESH) {
            on_cleanup(move || h.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = REFRESH;
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
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(p) => view! { <HostList page=p offset=offset/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{format!("Steward could not read the fleet: {e}")}</p> }.into_any(),
                    }
                })}
            </Transition>
            <AddHost on_added=Callback::new(move |_| data.refetch())/>
        </section>
    }
}

#[component]
fn HostList(page: FleetPage, offset: RwSignal<u32>) -> impl IntoView {
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
                    {page.hosts.into_iter().map(|h| view! { <HostCard h=h now=now/> }).collect_view()}
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
fn HostCard(h: FleetHost, now: i64) -> impl IntoView {
    let zone = crate::shared::zone::use_zone();
    let value = |name: &str, label: Option<&str>| {
        h.vitals
            .as_ref()
            .and_then(|v| v.metric(name, label))
            .map(crate::shared::format::metric)
            .unwrap_or_else(|| "—".into())
    };
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
    view! {
        <li class="fleet-host card" data-testid="fleet-host">
            <div class="fleet-host-head">
                <strong data-testid="fleet-host-name">{h.host.clone()}</strong>
                <span class=format!("badge {}", h.badge.key()) data-testid="fleet-host-badge">{h.badge.as_str()}</span>
                <span class=format!("fleet-score {level}") title="Health score (same card as the overview)">{score}</span>
            </div>
            <dl class="fleet-vitals">
                <dt>"CPU"</dt><dd>{value("cpu_busy_pct", None)}</dd>
                <dt>"Memory"</dt><dd>{value("mem_used_pct", None)}</dd>
                <dt>"Disk /"</dt><dd>{value("disk_used_pct", Some(disk_mount))}</dd>
                <dt>"Steal"</dt><dd>{value("cpu_steal_pct", None)}</dd>
            </dl>
            <p class="muted">
                {format!("Last heartbeat {heard}")}
                {h.agent_version.map(|v| format!(" · agent {v}"))}
                {h.containers.map(|c| format!(" · {} containers, {} unhealthy", c.total, c.unhealthy))}
            </p>
            {(problems > 0).then(|| view! {
                <p class="warn-text" data-testid="fleet-host-problems">{format!(
                    "{} fields dropped, {} refused token uses, {} heartbeats the agent dropped",
                    h.rejected_fields, h.refused_tokens, h.agent_dropped
                )}</p>
            })}
        </li>
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
