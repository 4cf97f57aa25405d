//! The job table: every scheduled job (crontab lines, timers, heartbeat jobs, Steward's
//! cleanup) with schedule, last run, result, next run and status; a row opens its history,
//! log tails and, for heartbeat jobs, the `curl` lines and the admin's rotate and delete.

use leptos::prelude::*;

use crate::maintenance::{ping_commands, Job, JobSource, JobToken, Maintenance, RunResult};
use crate::shared::client::post_json;
use crate::shared::format::bytes_binary;
use crate::shared::zone::{use_zone, Zone};

/// Where the token file is suggested to live on the job's host.
fn token_file(slug: &str) -> String {
    format!("/etc/steward/jobs/{slug}.token")
}

/// This Steward's address as the browser sees it (the `curl` lines use it).
fn base_url() -> Signal<String> {
    let (url, set_url) = signal("https://steward.example".to_string());
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(origin) = web_sys::window().and_then(|w| w.location().origin().ok()) {
            set_url.set(origin);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = set_url;
    });
    url.into()
}

#[component]
pub fn JobTable(
    data: Signal<Maintenance>,
    admin: Signal<bool>,
    csrf: Signal<String>,
    changed: Callback<()>,
) -> impl IntoView {
    let zone = use_zone();
    let base = base_url();
    view! {
        {move || data.with(|d| d.jobs.is_empty().then(|| view! {
            <p class="muted">"No scheduled jobs found on this host, and no heartbeat jobs yet."</p>
        }))}
        <table class="jobs" data-testid="jobs">
            <thead>
                <tr>
                    <th scope="col">"Job"</th><th scope="col">"Schedule"</th><th scope="col">"Last run"</th>
                    <th scope="col">"Took"</th><th scope="col">"Result"</th><th scope="col">"Freed"</th>
                    <th scope="col">"Next run"</th><th scope="col">"Status"</th>
                </tr>
            </thead>
            <For each=move || data.get().jobs
                key=|j| (j.slug.clone(), j.status, j.runs.first().map(|r| (r.id, r.result.as_str())), j.next_run_ms)
                children=move |job| view! { <JobRows job=job zone=zone admin=admin csrf=csrf changed=changed base=base/> }/>
        </table>
    }
}

#[component]
fn JobRows(
    job: Job,
    zone: Zone,
    admin: Signal<bool>,
    csrf: Signal<String>,
    changed: Callback<()>,
    base: Signal<String>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let last = job.last_run().cloned();
    let status = job.status.as_str();
    let took = last
        .as_ref()
        .and_then(|r| r.duration_ms())
        .map(|d| crate::shared::format::duration((d / 1000).max(0) as u64))
        .unwrap_or_else(|| "—".into());
    let result = last.as_ref().map(|r| r.result.as_str()).unwrap_or("—");
    let last_at = last
        .as_ref()
        .map(|r| zone.datetime(r.last_ms()))
        .unwrap_or_else(|| "—".into());
    let freed = job
        .freed_bytes
        .map(|b| bytes_binary(b as f64))
        .unwrap_or_else(|| "—".into());
    let next = job
        .next_run_ms
        .map(|n| zone.datetime(n))
        .unwrap_or_else(|| "—".into());
    let schedule = job.schedule.clone().unwrap_or_default();
    let words = job.schedule_words.clone().unwrap_or_default();
    let name = job.name.clone();
    let slug = job.slug.clone();
    view! {
        <tbody class=format!("job status-{status}") data-testid="job" data-slug=slug.clone()>
            <tr>
                <td data-label="Job">
                    <button class="link expander" aria-expanded=move || open.get().to_string()
                        on:click=move |_| open.update(|o| *o = !*o)>
                        {name}
                    </button>
                    <span class="muted source">{format!(" · {}", job.source.label())}</span>
                </td>
                <td data-label="Schedule"><code>{schedule}</code><br/><span class="muted">{words}</span></td>
                <td data-label="Last run">{last_at}</td>
                <td data-label="Took">{took}</td>
                <td data-label="Result">{result}</td>
                <td data-label="Freed">{freed}</td>
                <td data-label="Next run">{next}</td>
                <td data-label="Status"><span class=format!("badge job-{status}") title=job.reason.clone()>{status}</span></td>
            </tr>
            <Show when=move || open.get()>
                <tr class="job-detail">
                    <td colspan="8">
                        <JobDetail job=job.clone() zone=zone admin=admin csrf=csrf changed=changed base=base/>
                    </td>
                </tr>
            </Show>
        </tbody>
    }
}

#[component]
fn JobDetail(
    job: Job,
    zone: Zone,
    admin: Signal<bool>,
    csrf: Signal<String>,
    changed: Callback<()>,
    base: Signal<String>,
) -> impl IntoView {
    let heartbeat = job.source == JobSource::Heartbeat;
    let slug = job.slug.clone();
    let where_ = [
        job.origin.clone().map(|o| format!("from {o}")),
        job.user.clone().map(|u| format!("as {u}")),
        job.grace_secs
            .map(|g| format!("grace {}", crate::shared::format::duration(g))),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let runs = job.runs.clone();
    view! {
        <p data-testid="job-reason">{job.reason.clone()}</p>
        {(!where_.is_empty()).then(|| view! { <p class="muted">{where_}</p> })}
        {job.command.clone().map(|c| view! { <pre class="command">{c}</pre> })}
        {if runs.is_empty() {
            view! { <p class="muted">"No runs recorded."</p> }.into_any()
        } else {
            view! {
                <ol class="job-runs" reversed>
                    {runs.into_iter().map(|r| {
                        let when = match (r.started_ms, r.ended_ms) {
                            (Some(s), Some(e)) => format!("{} → {}", zone.datetime(s), zone.time_ms(e)),
                            (Some(s), None) => format!("started {}", zone.datetime(s)),
                            (None, Some(e)) => zone.datetime(e),
                            (None, None) => "—".into(),
                        };
                        let code = r.exit_code.map(|c| format!(" · exit {c}")).unwrap_or_default();
                        let failed = r.result == RunResult::Failed;
                        view! {
                            <li class:failed=failed>
                                {format!("{when} · {}{code}", r.result.as_str())}
                                {r.log_tail.map(|t| view! { <pre class="log-tail" tabindex="0">{t}</pre> })}
                            </li>
                        }
                    }).collect_view()}
                </ol>
            }.into_any()
        }}
        {heartbeat.then(|| {
            let s = slug.clone();
            view! {
                <p>"The job reports itself with (token file on the job's host):"</p>
                <pre class="command" data-testid="ping-lines">{move || ping_commands(&base.get(), &s, &token_file(&s))}</pre>
                <Show when=move || admin.get()>
                    <JobAdmin slug=slug.clone() csrf=csrf changed=changed/>
                </Show>
            }
        })}
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Confirm {
    None,
    Rotate,
    Delete,
}

#[component]
fn JobAdmin(slug: String, csrf: Signal<String>, changed: Callback<()>) -> impl IntoView {
    let confirm = RwSignal::new(Confirm::None);
    let message = RwSignal::new(None::<Result<String, String>>);
    let act = move |what: Confirm, slug: String| {
        let token = csrf.get_untracked();
        leptos::task::spawn_local(async move {
            let (url, ok) = match what {
                Confirm::Rotate => (format!("/api/v1/maintenance/jobs/{slug}/rotate"), "rotated"),
                _ => (format!("/api/v1/maintenance/jobs/{slug}/delete"), "deleted"),
            };
            let r = post_json(&url, &token, None).await;
            confirm.set(Confirm::None);
            message.set(Some(r.map(|t| {
                match serde_json::from_str::<JobToken>(&t) {
                    Ok(jt) => format!(
                        "New token (shown once; the old one no longer works): {}",
                        jt.token
                    ),
                    Err(_) => format!("Job {ok}."),
                }
            })));
            changed.run(());
        });
    };
    let s1 = slug.clone();
    let s2 = slug.clone();
    view! {
        <div class="job-admin">
            {move || match confirm.get() {
                Confirm::None => view! {
                    <button on:click=move |_| confirm.set(Confirm::Rotate)>"Rotate token…"</button>
                    <button class="danger" on:click=move |_| confirm.set(Confirm::Delete)>"Delete job…"</button>
                }.into_any(),
                Confirm::Rotate => {
                    let s = s1.clone();
                    view! {
                        <p role="alert">"A new token replaces the current one at once: the job's pings fail until its token file is updated."</p>
                        <button class="danger" on:click=move |_| act(Confirm::Rotate, s.clone())>"Rotate now"</button>
                        <button on:click=move |_| confirm.set(Confirm::None)>"Cancel"</button>
                    }.into_any()
                }
                Confirm::Delete => {
                    let s = s2.clone();
                    view! {
                        <p role="alert">"Delete this job and its run history? Its pings will be refused."</p>
                        <button class="danger" data-testid="confirm-delete" on:click=move |_| act(Confirm::Delete, s.clone())>"Delete"</button>
                        <button on:click=move |_| confirm.set(Confirm::None)>"Cancel"</button>
                    }.into_any()
                }
            }}
            {move || message.get().map(|m| match m {
                Ok(t) => view! { <p class="token" data-testid="job-message">{t}</p> }.into_any(),
                Err(e) => view! { <p class="error">{e}</p> }.into_any(),
            })}
        </div>
    }
}

/// The admin's form for a new heartbeat job; the token is shown once, with its `curl` lines.
#[component]
pub fn NewJob(csrf: Signal<String>, changed: Callback<()>) -> impl IntoView {
    let slug = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let schedule = RwSignal::new("0 2 * * *".to_string());
    let grace = RwSignal::new("60".to_string());
    let result = RwSignal::new(None::<Result<JobToken, String>>);
    let base = base_url();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let token = csrf.get_untracked();
        let grace_secs = grace
            .get_untracked()
            .trim()
            .parse::<u64>()
            .ok()
            .map(|m| m * 60);
        let body = serde_json::json!({
            "slug": slug.get_untracked().trim(),
            "name": name.get_untracked().trim(),
            "schedule": schedule.get_untracked().trim(),
            "grace_secs": grace_secs,
        })
        .to_string();
        leptos::task::spawn_local(async move {
            let r = post_json("/api/v1/maintenance/jobs", &token, Some(body))
                .await
                .and_then(|t| serde_json::from_str::<JobToken>(&t).map_err(|e| e.to_string()));
            if r.is_ok() {
                changed.run(());
            }
            result.set(Some(r));
        });
    };
    view! {
        <details class="new-job card">
            <summary>"Add a heartbeat job (a job that reports its runs: backups, scripts)"</summary>
            <form on:submit=submit data-testid="new-job">
                <label>"Id (a-z, 0-9, -, _)"<input required pattern="[a-z0-9][a-z0-9_-]{0,63}" prop:value=slug on:input=move |e| slug.set(event_target_value(&e))/></label>
                <label>"Name"<input required maxlength="100" prop:value=name on:input=move |e| name.set(event_target_value(&e))/></label>
                <label>"Expected schedule (cron, host time)"<input required prop:value=schedule on:input=move |e| schedule.set(event_target_value(&e))/></label>
                <label>"Grace (minutes)"<input type="number" min="1" max="10080" prop:value=grace on:input=move |e| grace.set(event_target_value(&e))/></label>
                <button type="submit">"Create job"</button>
            </form>
            {move || result.get().map(|r| match r {
                Ok(t) => {
                    let lines = ping_commands(&base.get(), &t.slug, &token_file(&t.slug));
                    view! {
                        <div class="token" data-testid="new-token">
                            <p><strong>"Token (shown once):"</strong>" "<code>{t.token.clone()}</code></p>
                            <p>{format!("Save it on the job's host in {} (readable by the job only), then report each run:", token_file(&t.slug))}</p>
                            <pre class="command">{lines}</pre>
                        </div>
                    }.into_any()
                }
                Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            })}
        </details>
    }
}
