//! Steward's cleanup: the configured steps, the schedule, the last runs (a sparkline of what
//! each freed and the runs with their steps), and for admins the dry run, whose result is the
//! confirmation screen for the real run, then each step's progress live.

use leptos::prelude::*;

use crate::maintenance::{CleanupEvent, CleanupPlan, CleanupRun, Maintenance, StepPhase};
use crate::shared::client::{post_json, EventStream};
use crate::shared::format::bytes_binary;
use crate::shared::zone::use_zone;
use crate::ui::sparkline::Sparkline;
use crate::vitals::HistoryPoint;

#[derive(Clone, Debug, PartialEq)]
enum Stage {
    Idle,
    Planning,
    Planned(CleanupPlan),
    Running {
        events: Vec<CleanupEvent>,
        done: Option<String>,
    },
    Failed(String),
}

fn freed(b: Option<u64>) -> String {
    b.map_or_else(|| "unknown".into(), |b| bytes_binary(b as f64))
}

#[component]
pub fn CleanupPanel(
    data: Signal<Maintenance>,
    admin: Signal<bool>,
    csrf: Signal<String>,
    changed: Callback<()>,
) -> impl IntoView {
    let zone = use_zone();
    let stage = RwSignal::new(Stage::Idle);
    let stream = StoredValue::new(None::<EventStream>);
    let dry_run = move |_| {
        stage.set(Stage::Planning);
        let token = csrf.get_untracked();
        leptos::task::spawn_local(async move {
            let plan = post_json("/api/v1/maintenance/cleanup/plan", &token, None)
                .await
                .and_then(|t| serde_json::from_str::<CleanupPlan>(&t).map_err(|e| e.to_string()));
            stage.set(match plan {
                Ok(p) => Stage::Planned(p),
                Err(e) => Stage::Failed(e),
            });
        });
    };
    let confirm = move |plan: CleanupPlan| {
        let token = csrf.get_untracked();
        let body = serde_json::json!({ "dry_run": plan.dry_run }).to_string();
        stage.set(Stage::Running {
            events: vec![],
            done: None,
        });
        leptos::task::spawn_local(async move {
            let run = post_json("/api/v1/maintenance/cleanup", &token, Some(body))
                .await
                .and_then(|t| {
                    serde_json::from_str::<serde_json::Value>(&t)
                        .ok()
                        .and_then(|v| v.get("run")?.as_i64())
                        .ok_or_else(|| "the server did not start a run".to_string())
                });
            let run = match run {
                Ok(r) => r,
                Err(e) => return stage.set(Stage::Failed(e)),
            };
            changed.run(());
            let opened = EventStream::open(
                &format!("/api/v1/maintenance/cleanup/{run}/events"),
                move |text| {
                    let Ok(event) = serde_json::from_str::<CleanupEvent>(&text) else {
                        return;
                    };
                    let finished = event.phase == StepPhase::Finished;
                    stage.update(|s| {
                        if let Stage::Running { events, done } = s {
                            if finished {
                                *done = Some(event.message.clone());
                            } else {
                                events.push(event);
                            }
                        }
                    });
                    if finished {
                        changed.run(());
                    }
                },
                move || {
                    stage.update(|s| {
                        if let Stage::Running {
                            done: done @ None, ..
                        } = s
                        {
                            *done =
                                Some("the progress stream ended early; see the run below".into());
                        }
                    })
                },
            );
            stream.set_value(opened);
        });
    };
    let reset = move |_| {
        stream.set_value(None);
        stage.set(Stage::Idle);
    };
    let schedule_line = move || {
        data.with(|d| match (&d.cleanup_schedule, d.cleanup_next_ms) {
            (Some(s), Some(n)) => format!("Scheduled ({s}); next run {}", zone.datetime(n)),
            (Some(s), None) => format!("Scheduled ({s})"),
            (None, _) => {
                "Runs when an admin starts it (maintenance.cleanup_schedule is not set).".into()
            }
        })
    };
    let last_line = move || {
        data.with(|d| match d.last_successful_cleanup() {
            Some(r) => format!(
                "Last cleanup {}: freed {} ({}).",
                zone.datetime(r.ended_ms.unwrap_or(r.started_ms)),
                bytes_binary(r.freed_bytes as f64),
                r.trigger.as_str()
            ),
            None => "No cleanup run recorded yet: the maintenance-hygiene score is unknown until one is.".into(),
        })
    };
    let points = move || {
        data.with(|d| {
            d.cleanups
                .iter()
                .rev()
                .filter(|r| r.ended_ms.is_some())
                .map(|r| {
                    let v = r.freed_bytes as f64;
                    HistoryPoint {
                        ts_ms: r.started_ms,
                        avg: v,
                        min: v,
                        max: v,
                    }
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <div class="cleanup card" data-testid="cleanup">
            <h3>"Cleanup"</h3>
            <p>{schedule_line}</p>
            <p data-testid="last-cleanup">{last_line}</p>
            {move || {
                let p = points();
                let label = format!("Freed bytes of the last {} runs", p.len());
                (p.len() >= 2).then(|| view! {
                    <figure class="cleanup-spark" aria-label=label>
                        <Sparkline points=p/>
                        <figcaption class="muted">"Freed per run, last 30 runs"</figcaption>
                    </figure>
                })
            }}
            <details>
                <summary>{move || format!("{} steps configured", data.with(|d| d.steps.len()))}</summary>
                <ul class="steps">
                    {move || data.with(|d| d.steps.iter().map(|s| view! {
                        <li><code>{s.name.clone()}</code>" — "{s.description.clone()}</li>
                    }).collect_view())}
                </ul>
            </details>
            <Show when=move || admin.get()>
                <div class="cleanup-actions" aria-live="polite">
                    {move || match stage.get() {
                        Stage::Idle => view! {
                            <button data-testid="dry-run" on:click=dry_run
                                disabled=move || data.with(|d| d.running.is_some())>
                                "Dry run: what would be freed?"
                            </button>
                        }.into_any(),
                        Stage::Planning => view! { <p class="muted">"Measuring each step…"</p> }.into_any(),
                        Stage::Failed(e) => view! {
                            <p class="error" data-testid="cleanup-error">{e}</p>
                            <button on:click=reset>"Close"</button>
                        }.into_any(),
                        Stage::Planned(plan) => {
                            let p = plan.clone();
                            view! {
                                <div class="table-wrap"><table class="plan" data-testid="plan">
                                    <thead><tr><th>"Step"</th><th>"Would free"</th><th>"What"</th></tr></thead>
                                    <tbody>
                                        {plan.steps.iter().map(|s| view! {
                                            <tr class:failed=s.error.is_some()>
                                                <td data-label="Step"><code>{s.name.clone()}</code></td>
                                                <td data-label="Would free">{freed(s.freed_bytes)}</td>
                                                <td data-label="What">{s.error.clone().unwrap_or_else(|| s.detail.clone())}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table></div>
                                <p><strong>{format!("Total: at least {}", bytes_binary(plan.total_bytes as f64))}</strong></p>
                                <div class="modal-actions">
                                    <button class="danger" data-testid="run-cleanup" on:click=move |_| confirm(p.clone())>
                                        "Confirm: run these steps now"
                                    </button>
                                    <button on:click=reset>"Cancel"</button>
                                </div>
                            }.into_any()
                        }
                        Stage::Running { events, done } => view! {
                            <ul class="progress" data-testid="cleanup-progress">
                                {events.iter().map(|e| {
                                    let phase = match e.phase {
                                        StepPhase::Running => "running",
                                        StepPhase::Done => "done",
                                        StepPhase::Failed => "failed",
                                        StepPhase::Finished => "finished",
                                    };
                                    let freed = e.freed_bytes.map(|b| format!(" — freed {}", bytes_binary(b as f64))).unwrap_or_default();
                                    view! { <li class=format!("phase-{phase}")><code>{e.step.clone()}</code>{format!(" {phase}{freed}: {}", e.message)}</li> }
                                }).collect_view()}
                            </ul>
                            {done.map(|d| view! {
                                <p data-testid="cleanup-done"><strong>{format!("Finished: {d}")}</strong></p>
                                <button on:click=reset>"Close"</button>
                            })}
                        }.into_any(),
                    }}
                </div>
            </Show>
            <h4>"Runs"</h4>
            {move || data.with(|d| {
                if d.cleanups.is_empty() {
                    view! { <p class="muted">"No runs yet."</p> }.into_any()
                } else {
                    view! { <ul class="runs" data-testid="cleanup-runs">
                        {d.cleanups.iter().map(|r| run_row(r, zone)).collect_view()}
                    </ul> }.into_any()
                }
            })}
        </div>
    }
}

fn run_row(r: &CleanupRun, zone: crate::shared::zone::Zone) -> impl IntoView {
    let result = r.result.as_str();
    let disk = match (r.disk_before_bytes, r.disk_after_bytes) {
        (Some(b), Some(a)) => format!(
            " · disk used {} → {}",
            bytes_binary(b as f64),
            bytes_binary(a as f64)
        ),
        _ => String::new(),
    };
    let summary = format!(
        "{} · {} · {} · freed {}{disk}",
        zone.datetime(r.started_ms),
        r.trigger.as_str(),
        r.mode,
        bytes_binary(r.freed_bytes as f64),
    );
    let steps = r.steps.clone();
    let error = r.error.clone();
    view! {
        <li>
            <details>
                <summary>
                    <span class=format!("badge result-{result}")>{result}</span>" "{summary}
                </summary>
                {error.map(|e| view! { <p class="error">{e}</p> })}
                <div class="table-wrap"><table class="steps-table">
                    <thead><tr><th>"Step"</th><th>"Freed"</th><th>"Items"</th><th>"Took"</th><th>"Result"</th></tr></thead>
                    <tbody>
                        {steps.into_iter().map(|s| view! {
                            <tr>
                                <td data-label="Step"><code>{s.name}</code></td>
                                <td data-label="Freed">{freed(s.freed_bytes)}</td>
                                <td data-label="Items">{s.items}</td>
                                <td data-label="Took">{format!("{:.1} s", s.duration_ms as f64 / 1000.0)}</td>
                                <td data-label="Result">{s.error.map_or(s.detail, |e| format!("failed: {e}"))}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
            </details>
        </li>
    }
}
