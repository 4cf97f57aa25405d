//! The pre-load check as a native modal dialog: the context asked, the estimate part by part,
//! the verdict with its numbers and what is most at risk; for an admin on a backend Steward can
//! control, the load itself, confirmed in the same dialog that shows the verdict.

use leptos::prelude::*;

use crate::models::api::check_load;
use crate::models::estimate::{Fit, Verdict};
use crate::models::{LoadEvent, LoadPhase};
use crate::shared::client::{post_json, EventStream};
use crate::shared::format::bytes;

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Ask,
    Checking,
    Checked(Verdict),
    /// The load's progress so far, streamed from its job.
    Loading(Verdict, Vec<LoadEvent>),
    Loaded(Verdict, String),
    Failed(String),
}

#[component]
pub fn PreloadDialog(
    /// (backend, model) while open.
    target: RwSignal<Option<(String, String)>>,
    /// Whether the open backend can load (an admin, and a backend Steward controls).
    can_load: Signal<bool>,
    csrf: Signal<String>,
    loaded: Callback<()>,
) -> impl IntoView {
    let step = RwSignal::new(Step::Ask);
    let context = RwSignal::new(String::new());
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    Effect::new(move |_| {
        let open = target.with(Option::is_some);
        if let Some(d) = dialog.get() {
            if open && !d.open() {
                step.set(Step::Ask);
                let _ = d.show_modal();
            } else if !open && d.open() {
                d.close();
            }
        }
    });
    let stream = StoredValue::new(None::<EventStream>);
    let close = move || {
        stream.set_value(None);
        target.set(None);
    };
    let run_check = move || {
        let Some((b, m)) = target.get_untracked() else {
            return;
        };
        let ctx = context.get_untracked().trim().parse::<u64>().ok();
        step.set(Step::Checking);
        leptos::task::spawn_local(async move {
            match check_load(b, m, ctx).await {
                Ok(v) => step.set(Step::Checked(v)),
                Err(e) => step.set(Step::Failed(e.to_string())),
            }
        });
    };
    let run_load = move |v: Verdict| {
        let Some((b, m)) = target.get_untracked() else {
            return;
        };
        let ctx = context.get_untracked().trim().parse::<u64>().ok();
        step.set(Step::Loading(v.clone(), Vec::new()));
        let body = serde_json::json!({ "model": m, "context": ctx }).to_string();
        leptos::task::spawn_local(async move {
            let url = format!("/api/v1/models/{b}/load");
            let events = post_json(&url, &csrf.get_untracked(), Some(body))
                .await
                .and_then(|t| {
                    serde_json::from_str::<serde_json::Value>(&t)
                        .ok()
                        .and_then(|v| v.get("events")?.as_str().map(str::to_string))
                        .ok_or_else(|| "the server did not start a load".to_string())
                });
            let events = match events {
                Ok(e) => e,
                Err(e) => return step.set(Step::Failed(e)),
            };
            let opened = EventStream::open(
                &events,
                move |text| {
                    let Ok(event) = serde_json::from_str::<LoadEvent>(&text) else {
                        return;
                    };
                    match event.phase {
                        LoadPhase::Loaded => {
                            let measured = event
                                .measured_bytes
                                .map_or("not reported".into(), |b| bytes(b as f64));
                            step.update(|s| {
                                if let Step::Loading(v, _) = s {
                                    *s = Step::Loaded(v.clone(), measured);
                                }
                            });
                            loaded.run(());
                        }
                        LoadPhase::Failed => {
                            step.set(Step::Failed(event.message));
                            loaded.run(());
                        }
                        _ => step.update(|s| {
                            if let Step::Loading(_, events) = s {
                                events.push(event);
                            }
                        }),
                    }
                },
                move || {
                    step.update(|s| {
                        if matches!(s, Step::Loading(..)) {
                            *s = Step::Failed(
                                "the progress stream ended early; see the backend's card and the audit log".into(),
                            );
                        }
                    })
                },
            );
            stream.set_value(opened);
        });
    };
    view! {
        <dialog class="modal" node_ref=dialog aria-labelledby="preload-title" data-testid="preload-modal"
            on:cancel=move |ev: leptos::ev::Event| { ev.prevent_default(); close(); }>
            <h3 id="preload-title">{move || target.get().map(|(b, m)| format!("Load {m} on {b}?")).unwrap_or_default()}</h3>
            <label>"Context (tokens) "
                <input type="number" min="128" max="1048576" placeholder="the model's, up to 8192"
                    data-testid="preload-context" prop:value=move || context.get()
                    on:input=move |ev| context.set(event_target_value(&ev))/>
            </label>
            <button data-testid="preload-check" on:click=move |_| run_check()>"Check memory"</button>
            <div aria-live="polite">
                {move || match step.get() {
                    Step::Ask => ().into_any(),
                    Step::Checking => view! { <p class="muted">"Estimating…"</p> }.into_any(),
                    Step::Failed(e) => view! { <p class="error" data-testid="preload-error">{e}</p> }.into_any(),
                    Step::Checked(v) => {
                        let v2 = v.clone();
                        view! {
                            <VerdictView verdict=v/>
                            <Show when=move || can_load.get() fallback=|| view! {
                                <p class="muted">"Loading needs an admin and a backend Steward can control."</p>
                            }>
                                {
                                    let v3 = v2.clone();
                                    view! {
                                        <button class="danger" data-testid="preload-confirm"
                                            on:click=move |_| run_load(v3.clone())>
                                            {if v2.fit == Fit::DoesNotFit { "Load anyway" } else { "Load" }}
                                        </button>
                                    }
                                }
                            </Show>
                        }.into_any()
                    }
                    Step::Loading(v, events) => view! {
                        <VerdictView verdict=v/>
                        <p class="muted" data-testid="preload-loading">"Loading — the backend reads the model into memory; this can take minutes…"</p>
                        <ul class="progress" data-testid="load-progress">
                            {events.into_iter().map(|e| view! {
                                <li data-phase=format!("{:?}", e.phase).to_lowercase()>
                                    {e.message}
                                    {e.progress.map(|p| view! { " " <progress max="1" value=p.to_string()></progress> })}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Step::Loaded(v, measured) => view! {
                        <VerdictView verdict=v.clone()/>
                        <p data-testid="preload-done">{format!("Loaded. Estimated {}, measured {measured}.", bytes(v.estimate.need_bytes() as f64))}</p>
                    }.into_any(),
                }}
            </div>
            <button class="close-dialog" on:click=move |_| close()>"Close"</button>
        </dialog>
    }
}

#[component]
fn VerdictView(verdict: Verdict) -> impl IntoView {
    let v = verdict;
    let class = match v.fit {
        Fit::Fits => "badge ok",
        Fit::Tight => "badge warn",
        Fit::DoesNotFit => "badge crit",
    };
    let e = v.estimate.clone();
    view! {
        <div class="verdict" data-testid="verdict" data-fit=v.fit.as_str()>
            <p><span class=class>{v.fit.as_str()}</span>" "{v.text.clone()}</p>
            <table class="estimate">
                <tbody>
                    <tr><th>"Weights"</th><td>{bytes(e.weights_bytes as f64)}</td></tr>
                    <tr><th>"KV cache"</th><td>{e.kv_cache_bytes.map_or("unknown".into(), |k| bytes(k as f64))}</td></tr>
                    <tr><th>"Backend overhead"</th><td>{bytes(e.overhead_bytes as f64)}</td></tr>
                    <tr><th>"Total"</th><td data-testid="estimate-total">{bytes(e.total_bytes as f64)}</td></tr>
                    {e.corrected_bytes.map(|c| view! { <tr><th>"Corrected"</th><td>{bytes(c as f64)}</td></tr> })}
                    <tr><th>{format!("{} available", v.target.label)}</th><td>{bytes(v.target.available_bytes as f64)}</td></tr>
                </tbody>
            </table>
            {(!e.notes.is_empty()).then(|| view! { <ul class="notes">{e.notes.iter().map(|n| view! { <li>{n.clone()}</li> }).collect_view()}</ul> })}
            {(!v.at_risk.is_empty()).then(|| view! {
                <p><strong>"Most at risk:"</strong></p>
                <ul class="at-risk" data-testid="at-risk">
                    {v.at_risk.iter().map(|r| view! {
                        <li>{format!("{} {} — {}{}", r.kind, r.name, bytes(r.bytes as f64),
                            r.limit_bytes.map_or(", no memory limit".into(), |l| format!(", limit {}", bytes(l as f64))))}</li>
                    }).collect_view()}
                </ul>
            })}
        </div>
    }
}
