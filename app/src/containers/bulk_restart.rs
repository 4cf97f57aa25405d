//! "Restart all unhealthy": the modal lists exactly the containers the server fixed when it
//! opened (with a token for that list), restarts them only on confirmation, and streams each
//! container's progress. A stale confirmation is refused by the server and said so here.

use leptos::prelude::*;

use crate::containers::{JobEvent, JobPhase, RestartPlan};
use crate::shared::client::{post_json, EventStream};

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Closed,
    Loading,
    Confirm(RestartPlan),
    Running {
        plan: RestartPlan,
        events: Vec<JobEvent>,
        done: Option<String>,
    },
    Failed(String),
}

#[component]
pub fn BulkRestart(csrf: Signal<String>, unhealthy: Signal<usize>) -> impl IntoView {
    let step = RwSignal::new(Step::Closed);
    let stream = StoredValue::new(None::<EventStream>);
    let open = move |_| {
        step.set(Step::Loading);
        let token = csrf.get_untracked();
        leptos::task::spawn_local(async move {
            let plan = post_json("/api/v1/containers/restart-unhealthy/plan", &token, None)
                .await
                .and_then(|t| serde_json::from_str::<RestartPlan>(&t).map_err(|e| e.to_string()));
            step.set(match plan {
                Ok(p) => Step::Confirm(p),
                Err(e) => Step::Failed(e),
            });
        });
    };
    let confirm = move |plan: RestartPlan| {
        let token = csrf.get_untracked();
        let body = serde_json::json!({
            "token": plan.token,
            "ids": plan.containers.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        })
        .to_string();
        step.set(Step::Running {
            plan,
            events: vec![],
            done: None,
        });
        leptos::task::spawn_local(async move {
            let job = post_json("/api/v1/containers/restart-unhealthy", &token, Some(body))
                .await
                .and_then(|t| {
                    serde_json::from_str::<serde_json::Value>(&t)
                        .ok()
                        .and_then(|v| v.get("job")?.as_str().map(str::to_string))
                        .ok_or_else(|| "the server did not start a job".to_string())
                });
            let job = match job {
                Ok(j) => j,
                Err(e) => return step.set(Step::Failed(e)),
            };
            let opened = EventStream::open(
                &format!("/api/v1/jobs/{job}/events"),
                move |text| {
                    let Ok(event) = serde_json::from_str::<JobEvent>(&text) else {
                        return;
                    };
                    step.update(|s| {
                        if let Step::Running { events, done, .. } = s {
                            if event.phase == JobPhase::Done {
                                *done = Some(event.message.clone().unwrap_or_default());
                            } else {
                                events.push(event);
                            }
                        }
                    });
                },
                move || {
                    step.update(|s| {
                        if let Step::Running {
                            done: done @ None, ..
                        } = s
                        {
                            *done = Some("progress stream ended early; see the audit log".into());
                        }
                    })
                },
            );
            stream.set_value(opened);
        });
    };
    let close = move |()| {
        stream.set_value(None);
        step.set(Step::Closed);
    };
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    // Opens and closes the native dialog with the step (the browser only; SSR renders it shut).
    Effect::new(move |_| {
        let open = step.with(|s| *s != Step::Closed);
        if let Some(d) = dialog.get() {
            if open && !d.open() {
                let _ = d.show_modal();
            } else if !open && d.open() {
                d.close();
            }
        }
    });
    view! {
        <button class="danger" data-testid="bulk-restart" disabled=move || unhealthy.get() == 0 on:click=open>
            {move || format!("Restart all unhealthy ({})", unhealthy.get())}
        </button>
        // A native modal dialog: the browser moves focus into it, keeps it there, makes the
        // page behind it inert, and closes it on Escape (the `cancel` event).
        <dialog class="modal" node_ref=dialog aria-labelledby="bulk-title" data-testid="bulk-modal"
            on:cancel=move |ev: leptos::ev::Event| { ev.prevent_default(); close(()); }>
            <h3 id="bulk-title">"Restart all unhealthy containers"</h3>
            <div aria-live="polite">
                        {move || match step.get() {
                            Step::Closed => ().into_any(),
                            Step::Loading => view! { <p class="muted">"Fixing the list…"</p> }.into_any(),
                            Step::Failed(e) => view! {
                                <p class="error" data-testid="bulk-error">{e}</p>
                                <button class="close-dialog" on:click=move |_| close(())>"Close"</button>
                            }.into_any(),
                            Step::Confirm(plan) => {
                                let p = plan.clone();
                                view! {
                                    <p>{format!("These {} containers will be restarted:", plan.containers.len())}</p>
                                    <ul data-testid="bulk-list">
                                        {plan.containers.iter().map(|c| view! { <li>{c.name.clone()}</li> }).collect_view()}
                                    </ul>
                                    <p class="muted">"Only this list is restarted, even if others turn unhealthy meanwhile. The confirmation expires in 5 minutes."</p>
                                    <div class="modal-actions">
                                        <button class="danger" data-testid="bulk-confirm" on:click=move |_| confirm(p.clone())>"Restart these"</button>
                                        <button class="close-dialog" on:click=move |_| close(())>"Cancel"</button>
                                    </div>
                                }.into_any()
                            }
                            Step::Running { plan, events, done } => view! {
                                <ul class="progress" data-testid="bulk-progress">
                                    {plan.containers.iter().map(|c| {
                                        let last = events.iter().rev().find(|e| e.target == c.name);
                                        let phase = last.map_or("queued", |e| e.phase.as_str());
                                        let msg = last.and_then(|e| e.message.clone()).unwrap_or_default();
                                        let phase_attr = phase;
                                        view! {
                                            <li data-phase=phase_attr data-target=c.name.clone()>
                                                <strong>{c.name.clone()}</strong>" "
                                                <span class="badge">{phase}</span>" "
                                                <span class="muted">{msg}</span>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                                {done.clone().map(|d| view! { <p data-testid="bulk-done">{d}</p> })}
                                <button class="close-dialog" on:click=move |_| close(())>
                                    {if done.is_none() { "Close (the restarts go on)" } else { "Close" }}
                                </button>
                            }.into_any(),
                        }}
            </div>
        </dialog>
    }
}
