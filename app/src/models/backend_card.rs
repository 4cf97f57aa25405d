//! One backend as a card: state and breaker, queue, slots, KV cache, tokens/s, TTFT, the last
//! error, loaded models (with unload) and models on disk (with the pre-load check).

use leptos::prelude::*;

use crate::models::{BackendState, BreakerState, Control, ModelBackend};
use crate::shared::format::bytes;
use crate::shared::zone::use_zone;

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or("—".into(), f)
}

#[component]
pub fn BackendCard(
    backend: ModelBackend,
    admin: Signal<bool>,
    /// Opens the pre-load check for (backend, model).
    check: Callback<(String, String)>,
    /// Unloads (backend, model) after the admin confirmed.
    unload: Callback<(String, String)>,
) -> impl IntoView {
    let b = backend;
    let zone = use_zone();
    let state_class = match b.state {
        BackendState::Ok => "badge ok",
        BackendState::Degraded => "badge warn",
        BackendState::Down => "badge crit",
        BackendState::Starting => "badge",
    };
    let breaker = b.breaker.clone();
    let breaker_text = format!(
        "breaker {} · {} failures in a row · opened {}× · {} probes · {} skipped",
        breaker.state.as_str(),
        breaker.consecutive_failures,
        breaker.opened_total,
        breaker.probes_total,
        breaker.skipped_total
    );
    let retry = (breaker.state == BreakerState::Open)
        .then(|| {
            breaker
                .retry_at_ms
                .map(|t| format!("next probe {}", zone.datetime(t)))
        })
        .flatten();
    let slots = match (b.slots_busy, b.slots_total) {
        (Some(busy), Some(total)) => format!("{busy}/{total} busy"),
        (None, Some(total)) => format!("{total}"),
        _ => "—".into(),
    };
    let ttft = match (b.ttft_p50_s, b.ttft_p95_s) {
        (Some(p50), Some(p95)) => format!("{:.0} / {:.0} ms", p50 * 1000.0, p95 * 1000.0),
        _ => "—".into(),
    };
    let read_only = match &b.control {
        Control::ReadOnly { reason } => Some(reason.clone()),
        Control::Ollama | Control::LlamacppRouter => None,
    };
    let can_unload = read_only.is_none();
    let name = b.name.clone();
    let loaded = b.loaded.clone();
    let on_disk = b.models.clone();
    let name_for_disk = name.clone();
    view! {
        <article class="card backend-card" data-testid=format!("backend-{}", b.name) data-state=b.state.as_str()>
            <header class="backend-head">
                <h3>{b.name.clone()}</h3>
                <span class="muted">{b.kind.title()}{b.version.clone().map(|v| format!(" {v}"))}</span>
                <span class=state_class data-testid="backend-state">{b.state.as_str()}</span>
            </header>
            <p class="muted breaker" data-testid="breaker" data-breaker=breaker.state.as_str()>{breaker_text}{retry.map(|r| format!(" · {r}"))}</p>
            {b.last_error.clone().map(|e| view! {
                <p class="error" data-testid="backend-error">
                    {format!("Last error{}: {e}", b.last_error_ms.map(|t| format!(" ({})", zone.datetime(t))).unwrap_or_default())}
                </p>
            })}
            {(!b.problems.is_empty()).then(|| view! {
                <ul class="problems">{b.problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}</ul>
            })}
            <dl class="backend-stats">
                <div><dt>"Check"</dt><dd>{b.check_ms.map_or("—".into(), |ms| format!("{ms} ms"))}</dd></div>
                <div><dt>"Running / waiting"</dt><dd data-testid="queue">{format!("{} / {}", opt(b.requests_running, |v| format!("{v:.0}")), opt(b.requests_waiting, |v| format!("{v:.0}")))}</dd></div>
                <div><dt>"Slots"</dt><dd data-testid="slots">{slots}</dd></div>
                <div><dt>"KV cache"</dt><dd>{opt(b.kv_cache_pct, |v| format!("{v:.0} %"))}</dd></div>
                <div><dt>"Tokens/s"</dt><dd data-testid="tokens-per-s">{opt(b.tokens_per_s, |v| format!("{v:.1}"))}</dd></div>
                <div><dt>"TTFT p50 / p95"</dt><dd>{ttft}</dd></div>
                <div><dt>"Process memory"</dt><dd>{b.process_rss_bytes.map_or("—".into(), |r| bytes(r as f64))}</dd></div>
                <div><dt>"Estimate error"</dt><dd>{b.estimate_error.as_ref().map_or("no loads yet".into(), |e| format!("{:+.0} % over {} loads", e.mean * 100.0, e.samples))}</dd></div>
            </dl>
            {read_only.map(|r| view! { <p class="muted" data-testid="read-only">{format!("Read-only: {r}.")}</p> })}
            <h4>"Loaded"</h4>
            {if loaded.is_empty() {
                view! { <p class="muted">"Nothing loaded."</p> }.into_any()
            } else {
                view! {
                    <ul class="model-list" data-testid="loaded">
                        {loaded.into_iter().map(|m| {
                            let (b1, m1) = (name.clone(), m.name.clone());
                            view! {
                                <li>
                                    <strong>{m.name.clone()}</strong>" "
                                    <span>{m.size_bytes.map_or("size unknown".into(), |s| bytes(s as f64))}</span>
                                    {m.vram_bytes.filter(|v| *v > 0).map(|v| format!(" · {} in VRAM", bytes(v as f64)))}
                                    {m.context_length.map(|c| format!(" · context {c}"))}
                                    {m.expires_at_ms.map(|t| format!(" · unloads {}", zone.datetime(t)))}
                                    {m.status.clone().map(|st| view! { " " <span class="badge warn" data-testid="loaded-status">{st}</span> })}
                                    <Show when=move || admin.get() && can_unload>
                                        {
                                            let (b1, m1) = (b1.clone(), m1.clone());
                                            view! { <button class="danger small" data-testid="unload" on:click=move |_| unload.run((b1.clone(), m1.clone()))>"Unload"</button> }
                                        }
                                    </Show>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <h4>"On disk"</h4>
            {if on_disk.is_empty() {
                view! { <p class="muted">"No models listed."</p> }.into_any()
            } else {
                view! {
                    <ul class="model-list" data-testid="on-disk">
                        {on_disk.into_iter().map(|m| {
                            let (b1, m1) = (name_for_disk.clone(), m.name.clone());
                            let details = [m.parameter_size.clone(), m.quantization.clone(), m.family.clone()]
                                .into_iter().flatten().collect::<Vec<_>>().join(" · ");
                            view! {
                                <li>
                                    <strong>{m.name.clone()}</strong>" "
                                    <span>{m.size_bytes.map_or("size unknown".into(), |s| bytes(s as f64))}</span>
                                    {(!details.is_empty()).then(|| format!(" · {details}"))}
                                    {m.last_used_ms.map(|t| format!(" · last used {}", zone.datetime(t)))}
                                    {m.load_context.map(|c| format!(" · loads with context {c}"))}
                                    {m.load_error.clone().map(|e| view! { <span class="error" data-testid="load-error">{format!(" · {e}")}</span> })}
                                    <button class="small" data-testid="check-load" on:click=move |_| check.run((b1.clone(), m1.clone()))>"Check memory…"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </article>
    }
}
