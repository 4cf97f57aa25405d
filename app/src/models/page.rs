//! The models page: every backend as a card, the memory bars (RAM, and VRAM per GPU), the GPUs,
//! and the pre-load check. Rendered from the server's latest round, then refreshed.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::models::api::get_models;
use crate::models::backend_card::BackendCard;
use crate::models::memory_bar::MemoryBarView;
use crate::models::preload::PreloadDialog;
use crate::models::{Control, Gpu, GpuReport, Models};
use crate::shared::format::bytes;
use crate::trends::trend_chart::TrendChart;
use crate::use_session;

/// How often the browser asks for the latest round.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

#[component]
pub fn ModelsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_models());
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
fn Panel(initial: Models) -> impl IntoView {
    let data = RwSignal::new(initial);
    let session = use_session();
    let admin = Signal::derive(move || session.with(|s| s.as_ref().is_some_and(|s| s.is_admin())));
    let csrf = Signal::derive(move || {
        session.with(|s| s.as_ref().map(|s| s.csrf.clone()).unwrap_or_default())
    });
    let refresh_error = RwSignal::new(None::<String>);
    let action_error = RwSignal::new(None::<String>);
    let refresh = move || {
        leptos::task::spawn_local(async move {
            match get_models().await {
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
        if let Ok(h) = set_interval_with_handle(refresh, REFRESH) {
            on_cleanup(move || h.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = REFRESH;
    let target = RwSignal::new(None::<(String, String)>);
    let can_load = Signal::derive(move || {
        admin.get()
            && target.with(|t| {
                t.as_ref().is_some_and(|(b, _)| {
                    data.with(|d| {
                        d.backends
                            .iter()
                            .any(|x| &x.name == b && !matches!(x.control, Control::ReadOnly { .. }))
                    })
                })
            })
    });
    let check = Callback::new(move |t: (String, String)| target.set(Some(t)));
    let unload = Callback::new(move |(b, m): (String, String)| {
        #[cfg(feature = "hydrate")]
        {
            let ok = web_sys::window()
                .and_then(|w| {
                    w.confirm_with_message(&format!(
                        "Unload {m} from {b}? Requests to it will wait for a reload."
                    ))
                    .ok()
                })
                .unwrap_or(false);
            if !ok {
                return;
            }
        }
        leptos::task::spawn_local(async move {
            let url = format!("/api/v1/models/{b}/unload");
            let body = serde_json::json!({ "model": m }).to_string();
            match crate::shared::client::post_json(&url, &csrf.get_untracked(), Some(body)).await {
                Ok(_) => {
                    action_error.set(None);
                    refresh();
                }
                Err(e) => action_error.set(Some(format!("Unload failed: {e}"))),
            }
        });
    });
    let loaded = Callback::new(move |()| refresh());
    let shape =
        Memo::new(move |_| data.with(|d| (!d.backends.is_empty(), !d.gpus.gpus().is_empty())));
    view! {
        <section class="models">
            <h2>"Models"</h2>
            {move || refresh_error.get().map(|e| view! {
                <p class="error" role="alert">{format!("Refresh failed ({e}): what you see may be old.")}</p>
            })}
            {move || action_error.get().map(|e| view! { <p class="error" role="alert" data-testid="action-error">{e}</p> })}
            {move || data.with(|d| {
                let s = &d.status;
                (s.state != crate::vitals::CollectorState::Ok).then(|| view! {
                    <p class="muted" data-testid="models-status">{format!("Models collector: {}{}", s.state.as_str(), s.message.as_ref().map(|m| format!(" — {m}")).unwrap_or_default())}</p>
                })
            })}
            <div class="card memory-card">
                {move || data.with(|d| {
                    let mut bars: Vec<_> = d.ram_bar().into_iter().collect();
                    bars.extend(d.vram_bars());
                    if bars.is_empty() {
                        view! { <p class="muted">"Memory not read yet."</p> }.into_any()
                    } else {
                        bars.into_iter().map(|bar| view! { <MemoryBarView bar=bar/> }).collect_view().into_any()
                    }
                })}
            </div>
            {move || data.with(|d| match &d.gpus {
                GpuReport::Starting => view! { <p class="muted">"GPUs not read yet."</p> }.into_any(),
                GpuReport::None { detail } => view! { <p class="gpu-none" data-testid="gpu-none">{detail.clone()}</p> }.into_any(),
                GpuReport::Error { message, gpus } => view! {
                    <p class="error" data-testid="gpu-error">{format!("GPU error: {message}")}</p>
                    <GpuCards gpus=gpus.clone()/>
                }.into_any(),
                GpuReport::Ok { gpus } => view! { <GpuCards gpus=gpus.clone()/> }.into_any(),
            })}
            {move || data.with(|d| if d.backends.is_empty() {
                view! { <p class="muted" data-testid="no-backends">"No model backends configured: add [[models.backends]] to the config."</p> }.into_any()
            } else {
                view! {
                    <div class="backend-grid">
                        {d.backends.iter().cloned().map(|b| view! {
                            <BackendCard backend=b admin=admin check=check unload=unload/>
                        }).collect_view()}
                    </div>
                }.into_any()
            })}
            // Rebuilt only when backends or GPUs appear or go, not on every refresh.
            {move || { let (backends, gpus) = shape.get(); backends.then(|| {
                view! {
                    <h3>"History"</h3>
                    <div class="trends" data-testid="model-history">
                        <TrendChart name="model_tokens" range="1h"/>
                        <TrendChart name="model_queue" range="1h"/>
                        <TrendChart name="model_latency" range="1h"/>
                        {gpus.then(|| view! {
                            <TrendChart name="gpu_util" range="1h"/>
                            <TrendChart name="gpu_vram" range="1h"/>
                        })}
                    </div>
                }
            })}}
            <PreloadDialog target=target can_load=can_load csrf=csrf loaded=loaded/>
        </section>
    }
}

#[component]
fn GpuCards(gpus: Vec<Gpu>) -> impl IntoView {
    let f = |v: Option<f64>, unit: &str| v.map_or("—".into(), |v| format!("{v:.0} {unit}"));
    view! {
        <div class="gpu-grid">
            {gpus.into_iter().map(|g| view! {
                <article class="card gpu-card" data-testid="gpu">
                    <h3>{format!("GPU {} · {}", g.index, g.name)}</h3>
                    <dl class="backend-stats">
                        <div><dt>"Util"</dt><dd>{f(g.util_pct, "%")}</dd></div>
                        <div><dt>"VRAM"</dt><dd>{match (g.vram_used_bytes, g.vram_total_bytes) {
                            (Some(u), Some(t)) => format!("{} / {}", bytes(u as f64), bytes(t as f64)),
                            _ => "—".into(),
                        }}</dd></div>
                        <div><dt>"Temperature"</dt><dd>{f(g.temperature_c, "°C")}</dd></div>
                        <div><dt>"Power"</dt><dd>{match (g.power_w, g.power_limit_w) {
                            (Some(p), Some(l)) => format!("{p:.0} / {l:.0} W"),
                            (Some(p), None) => format!("{p:.0} W"),
                            _ => "—".into(),
                        }}</dd></div>
                        <div><dt>"Fan"</dt><dd>{f(g.fan_pct, "%")}</dd></div>
                    </dl>
                    {(!g.processes.is_empty()).then(|| view! {
                        <ul class="model-list" data-testid="gpu-processes">
                            {g.processes.iter().map(|p| view! {
                                <li>{format!("pid {}{} — {}", p.pid,
                                    p.container.as_ref().map(|c| format!(" (container {c})")).unwrap_or_default(),
                                    p.vram_bytes.map_or("VRAM unknown".into(), |b| bytes(b as f64)))}</li>
                            }).collect_view()}
                        </ul>
                    })}
                </article>
            }).collect_view()}
        </div>
    }
}

pub struct ModelsRoute;

#[lazy_route]
impl LazyRoute for ModelsRoute {
    fn data() -> Self {
        ModelsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <ModelsPage/> }.into_any()
    }
}
