//! "Restart unhealthy" for a fleet host or a whole group: the same confirmation modal as the
//! local one. The hub fixes the list (each host's unhealthy containers from its latest
//! heartbeat, and the hosts left out with why); confirmed, each host's agent gets the action at
//! its next heartbeat, and the modal follows every host's progress on the batch's event stream.

use leptos::prelude::*;

use crate::fleet::action::{ActionBatch, ActionState, ContainerOutcome, FleetPlan};
use crate::shared::client::{post_json, EventStream};
use crate::shared::format::count;

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Closed,
    Loading,
    Confirm(FleetPlan),
    Running {
        batch: ActionBatch,
        ended_early: bool,
    },
    Failed(String),
}

/// What the plan is asked for: `{"host": …}` or `{"group": …}`.
#[derive(Clone, Debug, PartialEq)]
pub enum RestartTarget {
    Host(String),
    Group(String),
}

impl RestartTarget {
    fn body(&self) -> String {
        match self {
            RestartTarget::Host(h) => serde_json::json!({ "host": h }),
            RestartTarget::Group(g) => serde_json::json!({ "group": g }),
        }
        .to_string()
    }
}

#[component]
pub fn FleetRestart(
    csrf: Signal<String>,
    target: Signal<RestartTarget>,
    /// The button's text.
    label: Signal<String>,
    #[prop(optional)] disabled: Option<Signal<bool>>,
) -> impl IntoView {
    let step = RwSignal::new(Step::Closed);
    let stream = StoredValue::new(None::<EventStream>);
    let open = move |_| {
        step.set(Step::Loading);
        let token = csrf.get_untracked();
        let body = target.get_untracked().body();
        leptos::task::spawn_local(async move {
            let plan = post_json("/api/v1/fleet/actions/plan", &token, Some(body))
                .await
                .and_then(|t| serde_json::from_str::<FleetPlan>(&t).map_err(|e| e.to_string()));
            step.set(match plan {
                Ok(p) => Step::Confirm(p),
                Err(e) => Step::Failed(e),
            });
        });
    };
    let confirm = move |plan: FleetPlan| {
        let token = csrf.get_untracked();
        let body = serde_json::json!({
            "token": plan.token,
            "hosts": plan.hosts.iter().map(|h| h.host.clone()).collect::<Vec<_>>(),
        })
        .to_string();
        step.set(Step::Loading);
        leptos::task::spawn_local(async move {
            let batch = post_json("/api/v1/fleet/actions", &token, Some(body))
                .await
                .and_then(|t| serde_json::from_str::<ActionBatch>(&t).map_err(|e| e.to_string()));
            let batch = match batch {
                Ok(b) => b,
                Err(e) => return step.set(Step::Failed(e)),
            };
            let url = format!("/api/v1/fleet/actions/{}/events", batch.batch);
            step.set(Step::Running {
                batch,
                ended_early: false,
            });
            let opened = EventStream::open(
                &url,
                move |text| {
                    if let Ok(fresh) = serde_json::from_str::<ActionBatch>(&text) {
                        step.update(|s| {
                            if let Step::Running { batch, .. } = s {
                                *batch = fresh;
                            }
                        });
                    }
                },
                move || {
                    step.update(|s| {
                        if let Step::Running { batch, ended_early } = s {
                            *ended_early = !batch.finished;
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
    let disabled = move || disabled.is_some_and(|d| d.get());
    view! {
        <button class="danger" data-testid="fleet-restart" disabled=disabled on:click=open>
            {move || label.get()}
        </button>
        <dialog class="modal" node_ref=dialog aria-labelledby="fleet-restart-title" data-testid="fleet-restart-modal"
            on:cancel=move |ev: leptos::ev::Event| { ev.prevent_default(); close(()); }>
            <h3 id="fleet-restart-title">"Restart unhealthy containers"</h3>
            <div aria-live="polite">
                {move || match step.get() {
                    Step::Closed => ().into_any(),
                    Step::Loading => view! { <p class="muted">"Asking the hub…"</p> }.into_any(),
                    Step::Failed(e) => view! {
                        <p class="error" data-testid="fleet-restart-error">{e}</p>
                        <button class="close-dialog" on:click=move |_| close(())>"Close"</button>
                    }.into_any(),
                    Step::Confirm(plan) => {
                        let p = plan.clone();
                        let n: usize = plan.hosts.iter().map(|h| h.containers.len()).sum();
                        view! {
                            <p>{format!(
                                "{}: {} on {} will be restarted:",
                                plan.target,
                                count(n, "container", "containers"),
                                count(plan.hosts.len(), "host", "hosts")
                            )}</p>
                            <ul data-testid="fleet-restart-list">
                                {plan.hosts.iter().map(|h| view! {
                                    <li data-host=h.host.clone()><strong>{h.host.clone()}</strong>": "{h.containers.join(", ")}</li>
                                }).collect_view()}
                            </ul>
                            {(!plan.skipped.is_empty()).then(|| view! {
                                <p class="muted">"Left out:"</p>
                                <ul class="muted" data-testid="fleet-restart-skipped">
                                    {plan.skipped.iter().map(|s| view! {
                                        <li data-host=s.host.clone()>{format!("{}: {}", s.host, s.reason)}</li>
                                    }).collect_view()}
                                </ul>
                            })}
                            <p class="muted">"Each host's agent restarts its list at its next heartbeat, if its own config allows it, and reports back. Only this list is restarted. The confirmation expires in 5 minutes."</p>
                            <div class="modal-actions">
                                <button class="danger" data-testid="fleet-restart-confirm" on:click=move |_| confirm(p.clone())>"Restart these"</button>
                                <button class="close-dialog" on:click=move |_| close(())>"Cancel"</button>
                            </div>
                        }.into_any()
                    }
                    Step::Running { batch, ended_early } => view! {
                        <ul class="progress" data-testid="fleet-restart-progress">
                            {batch.actions.iter().map(|a| {
                                let state = a.state.key();
                                let detail = action_detail(a.state, &a.containers, &a.results, a.message.as_deref());
                                view! {
                                    <li data-host=a.host.clone() data-state=state>
                                        <strong>{a.host.clone()}</strong>" "
                                        <span class=format!("badge action-{state}")>{state}</span>" "
                                        <span class="muted">{detail}</span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                        {batch.finished.then(|| view! { <p data-testid="fleet-restart-done">"Every host has reported; see the audit log for the record."</p> })}
                        {ended_early.then(|| view! { <p class="warn-text">"The progress stream ended early; the hosts' pages show where each action is."</p> })}
                        <button class="close-dialog" on:click=move |_| close(())>
                            {if batch.finished { "Close" } else { "Close (the actions go on)" }}
                        </button>
                    }.into_any(),
                }}
            </div>
        </dialog>
    }
}

/// One line per action: what happened to each container, or what it waits for.
pub fn action_detail(
    state: ActionState,
    containers: &[String],
    results: &[crate::fleet::action::ContainerResult],
    message: Option<&str>,
) -> String {
    let waiting = match state {
        ActionState::Queued => Some("waits for the host's next heartbeat"),
        ActionState::Delivered => Some("sent to the agent, waiting for its report"),
        ActionState::Expired => Some("no report from the agent in 10 minutes"),
        _ => None,
    };
    let mut parts: Vec<String> = results
        .iter()
        .map(|r| match (r.outcome, &r.message) {
            (ContainerOutcome::Restarted, _) => format!("{} restarted", r.name),
            (ContainerOutcome::Failed, Some(m)) => format!("{} failed: {m}", r.name),
            (ContainerOutcome::Failed, None) => format!("{} failed", r.name),
        })
        .collect();
    if state == ActionState::Running {
        parts.extend(
            containers
                .iter()
                .skip(results.len())
                .map(|c| format!("{c} queued")),
        );
    }
    if let Some(m) = message {
        parts.push(m.to_string());
    }
    if let Some(w) = waiting {
        parts.insert(0, format!("{} ({})", w, containers.join(", ")));
    }
    parts.join("; ")
}
