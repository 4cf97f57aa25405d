//! A fleet host's page (`/fleet/{host}`): the overview's own readout (score, dimensions with
//! drill-down, vitals) fed by the host's latest heartbeat, under the hub's view of the host —
//! badge, last heartbeat, agent, group, the sweep's last check and changes, refused input.
//! Rendered on the server, then refreshed on the fleet stream's events (at least every 5 s)
//! without redrawing what did not change.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use leptos_router::{lazy_route, LazyRoute};

use crate::fleet::api::get_fleet_host;
use crate::fleet::backend_table::HostBackendTable;
use crate::fleet::container_table::HostContainerTable;
use crate::fleet::FleetHost;
use crate::overview::live::use_clock;
use crate::overview::readout::{HostReadout, TopConsumers};
use crate::trends::trend_chart::TrendChart;
use crate::vitals::Overview;

/// The agents' default interval (the readout's collection interval).
const REFRESH_SECS: u64 = 5;

pub struct FleetHostRoute;

#[lazy_route]
impl LazyRoute for FleetHostRoute {
    fn data() -> Self {
        FleetHostRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <FleetHostPage/> }.into_any()
    }
}

#[component]
fn FleetHostPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.with(|p| p.get("host").unwrap_or_default());
    let first = Resource::new(name, get_fleet_host);
    view! {
        <section class="fleet-host-page" data-testid="fleet-host-page">
            <p><a href="/fleet">"← Fleet"</a></p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Ok(h) => view! { <HostDetail initial=h/> }.into_any(),
                        Err(e) => view! { <p class="error" data-testid="fleet-host-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn HostDetail(initial: FleetHost) -> impl IntoView {
    let now = use_clock();
    let zone = crate::shared::zone::use_zone();
    let readout = initial.readout(REFRESH_SECS);
    let has_readout = RwSignal::new(readout.is_some());
    let overview = RwSignal::new(readout.unwrap_or_else(empty));
    let host = RwSignal::new(initial);
    let refresh_error = RwSignal::new(None::<String>);
    #[cfg(feature = "hydrate")]
    {
        let refresh = move || {
            let name = host.with_untracked(|h| h.host.clone());
            leptos::task::spawn_local(async move {
                match get_fleet_host(name).await {
                    Ok(fresh) => {
                        if let Some(o) = fresh.readout(REFRESH_SECS) {
                            overview.try_set(o);
                            has_readout.try_set(true);
                        }
                        host.try_set(fresh);
                        refresh_error.try_set(None);
                    }
                    Err(e) => {
                        refresh_error.try_set(Some(e.to_string()));
                    }
                }
            });
        };
        crate::fleet::page::live::follow(refresh);
    }
    let field = move |f: fn(&FleetHost) -> String| move || host.with(f);
    let heard = move || {
        host.with(|h| match h.last_heartbeat_ms {
            Some(t) => format!(
                "last heartbeat {} ({} ago)",
                zone.datetime(t),
                crate::shared::format::duration(((now.get() - t).max(0) / 1000) as u64)
            ),
            None => "no heartbeat yet".into(),
        })
    };
    view! {
        <div class="statusline">
            <h2 class="host" data-testid="fleet-host-title">{field(|h| h.host.clone())}</h2>
            <span class=move || host.with(|h| format!("badge {}", h.badge.key())) data-testid="fleet-host-badge">
                {field(|h| h.badge.as_str().to_string())}
            </span>
            <span class="updated">{heard}</span>
        </div>
        <p class="muted" data-testid="fleet-host-agent">{field(|h| {
            let mut parts = Vec::new();
            if let Some(v) = &h.agent_version {
                parts.push(format!("agent {v}"));
            }
            if let Some(s) = h.status {
                parts.push(format!("{s:?}").to_lowercase());
            }
            if let Some(g) = &h.group {
                parts.push(format!("group {g}"));
            }
            if let Some(c) = h.containers {
                parts.push(format!("{} containers ({} running, {} unhealthy)", c.total, c.running, c.unhealthy));
            }
            parts.push(format!("{} heartbeats", h.heartbeats_total));
            parts.join(" · ")
        })}</p>
        {move || refresh_error.get().map(|e| view! {
            <p class="warn-text" role="status">{format!("Refresh failed, showing the last answer: {e}")}</p>
        })}
        {move || host.with(|h| h.gpu_error.clone()).map(|e| view! {
            <p class="error" data-testid="fleet-host-gpu-error">{format!("GPU error on this host: {e}")}</p>
        })}
        {move || host.with(|h| h.containers_error.clone()).map(|e| view! {
            <p class="error" data-testid="fleet-host-docker-error">{format!("Docker error on this host: {e}")}</p>
        })}
        <HostProblems host=host/>
        {move || if has_readout.get() {
            view! {
                <HostReadout overview=overview now=now no_vitals="The last heartbeat carried no vitals."/>
                <div class="panels"><TopConsumers overview=overview/></div>
            }.into_any()
        } else {
            view! { <p class="muted" data-testid="no-vitals">"No heartbeat yet: the score and vitals appear with the agent's first heartbeat."</p> }.into_any()
        }}
        <HostTrends host=host/>
        <HostActions host=host/>
        <HostBackendTable host=host/>
        <HostHealth host=host/>
    }
}

/// The host's trends, the trends page's own charts fed by its stored heartbeats (24 h first;
/// the ranges, zoom and live tail work as there). GPU charts appear once it reports a GPU, the
/// model servers' latency, queue and speed once it reports a model server.
/// Drawn in the browser only, after hydration: the charts load through local resources, which
/// the page's `Suspense` would otherwise wait for on the server forever.
#[component]
fn HostTrends(host: RwSignal<FleetHost>) -> impl IntoView {
    let name = host.with_untracked(|h| h.host.clone());
    let has_gpus = Memo::new(move |_| host.with(|h| !h.gpus.is_empty()));
    let has_models = Memo::new(move |_| host.with(|h| !h.models.is_empty()));
    let mounted = RwSignal::new(false);
    Effect::new(move |_| mounted.set(true));
    view! {
        <h3>"Trends"</h3>
        <div class="trends" data-testid="fleet-host-trends">
            {move || mounted.get().then(|| {
                let (name, gpu_name, model_name) = (name.clone(), name.clone(), name.clone());
                view! {
                    <TrendChart name="memory" range="24h" host=name.clone()/>
                    <TrendChart name="disk" range="24h" host=name.clone()/>
                    <TrendChart name="steal" range="24h" host=name.clone()/>
                    <TrendChart name="io" range="24h" host=name/>
                    {move || has_gpus.get().then(|| view! {
                        <TrendChart name="gpu_util" range="24h" host=gpu_name.clone()/>
                        <TrendChart name="gpu_vram" range="24h" host=gpu_name.clone()/>
                    })}
                    {move || has_models.get().then(|| view! {
                        <TrendChart name="model_latency" range="24h" host=model_name.clone()/>
                        <TrendChart name="model_queue" range="24h" host=model_name.clone()/>
                        <TrendChart name="model_tokens" range="24h" host=model_name.clone()/>
                    })}
                }
            })}
        </div>
    }
}

/// The host's containers (unhealthy ones named first), the admin's restart of the unhealthy
/// ones (through the agent), and the host's recent fleet actions with their progress.
#[component]
fn HostActions(host: RwSignal<FleetHost>) -> impl IntoView {
    use crate::fleet::action::ActionKind;
    use crate::fleet::restart::{action_detail, FleetRestart, RestartTarget};
    let zone = crate::shared::zone::use_zone();
    let session = crate::use_session();
    let admin = move || session.with(|s| s.as_ref().is_some_and(|s| s.is_admin()));
    let csrf = Signal::derive(move || {
        session.with(|s| s.as_ref().map(|s| s.csrf.clone()).unwrap_or_default())
    });
    let target = Signal::derive(move || RestartTarget::Host(host.with(|h| h.host.clone())));
    let label =
        Signal::derive(move || format!("Restart unhealthy ({})", host.with(|h| h.unhealthy.len())));
    let disabled = Signal::derive(move || host.with(|h| h.unhealthy.is_empty()));
    view! {
        <section class="panel" data-testid="fleet-host-actions">
            <h3>"Containers and actions"</h3>
            <p data-testid="fleet-host-unhealthy">{move || host.with(|h| {
                let allowed = if h.allowed_actions.contains(&ActionKind::RestartUnhealthy) {
                    "its agent allows restarts"
                } else {
                    "its agent does not allow restarts (agent.allow_actions)"
                };
                match (h.containers_error.as_deref(), h.unhealthy.as_slice()) {
                    (Some(_), _) => format!("Containers unknown: its agent cannot read Docker; {allowed}."),
                    (None, []) => format!("No unhealthy container; {allowed}."),
                    (None, names) => format!("Unhealthy: {}; {allowed}.", names.join(", ")),
                }
            })}</p>
            <div hidden=move || !admin()>
                <FleetRestart csrf=csrf target=target label=label disabled=disabled/>
            </div>
            <HostContainerTable host=host/>
            <ul class="fleet-actions" data-testid="fleet-host-action-list">
                {move || host.with(|h| h.actions.iter().map(|a| {
                    let state = a.state.key();
                    let detail = action_detail(a.state, &a.containers, &a.results, a.message.as_deref());
                    view! {
                        <li data-state=state data-action=a.id.clone()>
                            <span class=format!("badge action-{state}")>{state}</span>
                            {format!(" {} by {}, {}: {detail}", a.kind.key(), a.requested_by, zone.datetime(a.requested_ms))}
                        </li>
                    }
                }).collect_view())}
            </ul>
        </section>
    }
}

/// A readout for a host that has not sent anything yet (held until its first heartbeat;
/// the page says "no heartbeat yet" instead of showing it).
fn empty() -> Overview {
    Overview {
        vitals: None,
        score: crate::overview::score::Score {
            value: None,
            points: 0,
            max_points: 0,
            known: 0,
            total: 0,
            dimensions: Vec::new(),
            verdict: Default::default(),
        },
        collectors: Vec::new(),
        interval_secs: REFRESH_SECS,
        containers: None,
        gpus: Vec::new(),
    }
}

/// What the hub refused or adjusted from this host, and refused token uses.
#[component]
fn HostProblems(host: RwSignal<FleetHost>) -> impl IntoView {
    move || {
        host.with(|h| {
            let any = h.rejected_fields + h.clamped_fields + h.refused_tokens + h.agent_dropped > 0;
            any.then(|| {
                view! {
                    <section class="panel" data-testid="fleet-host-problems">
                        <h3>"Input the hub adjusted or refused"</h3>
                        <p>{format!(
                            "{} fields dropped, {} clamped, {} uses of revoked or expired tokens, {} heartbeats the agent dropped from its buffer",
                            h.rejected_fields, h.clamped_fields, h.refused_tokens, h.agent_dropped
                        )}</p>
                        <ul>{h.last_rejections.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}</ul>
                    </section>
                }
            })
        })
    }
}

/// The sweep's view: the health URL, its last check.
#[component]
fn HostHealth(host: RwSignal<FleetHost>) -> impl IntoView {
    let zone = crate::shared::zone::use_zone();
    view! {
        <section class="panel" data-testid="fleet-host-health-panel">
            <h3>"Health check"</h3>
            {move || host.with(|h| match (&h.address, &h.health) {
                (None, _) => view! { <p class="muted">"No health URL: the sweep does not check this host."</p> }.into_any(),
                (Some(a), None) => view! { <p class="muted">{format!("{a}: not checked yet")}</p> }.into_any(),
                (Some(a), Some(c)) => {
                    let latency = c.latency_ms.map(|l| format!(" in {l} ms")).unwrap_or_default();
                    view! {
                        <p class=format!("fleet-health {}", c.status.key())>
                            <span class=format!("badge {}", c.status.key())>{c.status.key()}</span>
                            {format!(" {a}: {}{latency}, checked {}", c.reason, zone.datetime(c.at_ms))}
                        </p>
                    }.into_any()
                }
            })}
        </section>
    }
}
