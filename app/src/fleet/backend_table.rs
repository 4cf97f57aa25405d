//! A fleet host's model servers as its agent last checked them (`[[models.backends]]` in the
//! agent's config): state, the models held, load and speed. Read-only: loading and unloading
//! stay on the host's own models page.

use leptos::prelude::*;

use crate::fleet::FleetHost;
use crate::models::BackendState;

#[component]
pub fn HostBackendTable(host: RwSignal<FleetHost>) -> impl IntoView {
    move || {
        host.with(|h| {
            if h.models.is_empty() {
                return None;
            }
            let rows = h
                .models
                .iter()
                .map(|b| {
                    let class = match b.state {
                        BackendState::Ok => "ok",
                        BackendState::Degraded => "warn",
                        BackendState::Down => "crit",
                        BackendState::Starting => "unknown",
                    };
                    let what = match &b.version {
                        Some(v) => format!("{} {v}", b.kind.title()),
                        None => b.kind.title().to_string(),
                    };
                    let loaded = if b.loaded.is_empty() {
                        "none".to_string()
                    } else {
                        b.loaded.join(", ")
                    };
                    let load = [
                        b.requests_running.map(|n| format!("{n:.0} running")),
                        b.requests_waiting.map(|n| format!("{n:.0} waiting")),
                        b.kv_cache_pct.map(|p| format!("KV cache {p:.0} %")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · ");
                    let speed = [
                        b.tokens_per_s.map(|t| format!("{t:.1} tokens/s")),
                        b.ttft_p50_s.map(|t| format!("first token {t:.2} s (p50)")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · ");
                    view! {
                        <tr data-backend=b.name.clone() data-state=b.state.as_str()>
                            <td><strong>{b.name.clone()}</strong><br/><span class="muted">{what}</span></td>
                            <td>
                                <span class=format!("badge {class}")>{b.state.as_str()}</span>
                                {b.error.clone().map(|e| view! { <br/><span class="error">{e}</span> })}
                            </td>
                            <td>{loaded}</td>
                            <td>{load}</td>
                            <td>{speed}</td>
                        </tr>
                    }
                })
                .collect_view();
            Some(view! {
                <section class="panel" data-testid="fleet-host-models">
                    <h3>"Model servers"</h3>
                    <div class="table-wrap">
                        <table class="plan">
                            <thead>
                                <tr>
                                    <th scope="col">"Server"</th><th scope="col">"State"</th><th scope="col">"Loaded"</th>
                                    <th scope="col">"Load"</th><th scope="col">"Speed"</th>
                                </tr>
                            </thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                </section>
            })
        })
    }
}
