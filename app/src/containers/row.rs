//! One container: a summary row, and on demand its detail (health-check log, Steward's events,
//! last 50 log lines with follow, memory limit and OOM) and a confirmed restart for admins.

use leptos::prelude::*;

use crate::containers::api::get_container_detail;
use crate::containers::log_view::LogView;
use crate::containers::logs::LogLine;
use crate::containers::{Container, Health};
use crate::shared::client::{post_json, EventStream};
use crate::shared::format;
use crate::ui::collector_panel::ago;

/// The badge class of a health state (shared with the fleet host page's table).
pub fn health_class(h: Health) -> &'static str {
    match h {
        Health::Healthy => "ok",
        Health::Unhealthy => "crit",
        Health::Starting => "warn",
        Health::None => "unknown",
    }
}

/// Memory use and limit, in the binary units Docker's limits are set in.
fn memory(c: &Container) -> String {
    let used = c
        .mem_usage_bytes
        .map(|b| format::bytes_binary(b as f64))
        .unwrap_or_else(|| "–".into());
    match c.mem_limit_bytes {
        Some(l) => format!("{used} / {}", format::bytes_binary(l as f64)),
        None => format!("{used} / no limit"),
    }
}

#[component]
pub fn ContainerRow(
    container: Memo<Option<Container>>,
    now: ReadSignal<i64>,
    admin: Signal<bool>,
    csrf: Signal<String>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let field = move |f: fn(&Container) -> String| {
        container.with(|c| c.as_ref().map(f).unwrap_or_default())
    };
    let id = container.with_untracked(|c| c.as_ref().map(|c| c.id.clone()).unwrap_or_default());
    let name = container.with_untracked(|c| c.as_ref().map(|c| c.name.clone()).unwrap_or_default());
    let row_name = name.clone();
    view! {
        <div class="crow-wrap" data-container=row_name>
            <div class=move || format!("crow health-{}", container.with(|c| c.as_ref().map(|c| c.health.as_str()).unwrap_or("none")))>
                <span class="cname">
                    <strong>{field(|c| c.name.clone())}</strong>
                    {move || container.with(|c| c.as_ref().and_then(|c| c.stack.clone())).map(|s| view! { <span class="muted stack">{s}</span> })}
                </span>
                <span data-label="Health">
                    <span class=move || format!("badge {}", container.with(|c| health_class(c.as_ref().map(|c| c.health).unwrap_or_default())))
                        data-testid="health">
                        {move || field(|c| c.health.as_str().to_string())}
                    </span>
                    {move || container.with(|c| c.as_ref().and_then(|c| c.unhealthy_since_ms)).map(|t| view! {
                        <span class="muted">{move || format!(" since {}", ago(now.get(), Some(t)))}</span>
                    })}
                </span>
                <span data-label="Uptime">{move || container.with(|c| c.as_ref().map(|c| match c.uptime_secs(now.get()) {
                    Some(s) => format::duration(s as u64),
                    None => c.state_label(),
                }).unwrap_or_default())}</span>
                <span data-label="CPU">{move || field(|c| c.cpu_pct.map(|p| format!("{p:.1} %")).unwrap_or_else(|| "–".into()))}</span>
                <span data-label="Memory" class:warn-text=move || container.with(|c| c.as_ref().is_some_and(|c| c.no_memory_limit()))>
                    {move || field(memory)}
                </span>
                <span data-label="Restarts" data-testid="restarts"
                    title="Steward: restarts by Steward (manual, bulk and watchdog) from its audit log. Docker: restarts by Docker's restart policy.">
                    {move || field(restarts)}
                </span>
                <span class="flags">
                    {move || container.with(|c| c.as_ref().map(|c| {
                        let mut flags = Vec::new();
                        if c.oom_killed { flags.push(("crit", "OOM-killed".to_string())); }
                        if c.io_anomaly {
                            flags.push(("warn", format!("writes {}/day", format::bytes(c.block_write_per_day.unwrap_or(0.0)))));
                        }
                        if c.image_stale { flags.push(("warn", "old image".to_string())); }
                        if c.watchdog.gave_up { flags.push(("crit", "watchdog gave up".to_string())); }
                        if c.watchdog.opted_out { flags.push(("unknown", "watchdog off".to_string())); }
                        flags.into_iter().map(|(cls, t)| view! { <span class=format!("badge {cls}")>{t}</span> }).collect_view()
                    }))}
                    <button class="link-button" data-testid="details" on:click=move |_| open.update(|o| *o = !*o)>
                        {move || if open.get() { "Hide" } else { "Details" }}
                    </button>
                    {move || admin.get().then(|| view! { <RestartButton id=id.clone() name=name.clone() csrf=csrf/> })}
                </span>
            </div>
            {move || open.get().then(|| view! { <Detail container=container now=now/> })}
        </div>
    }
}

#[component]
fn RestartButton(id: String, name: String, csrf: Signal<String>) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let result = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let confirm = {
        let id = id.clone();
        move |_| {
            let url = format!("/api/v1/containers/{id}/restart");
            let token = csrf.get_untracked();
            busy.set(true);
            leptos::task::spawn_local(async move {
                let r = post_json(&url, &token, None)
                    .await
                    .map(|_| "restarted".to_string());
                result.set(Some(r));
                busy.set(false);
                confirming.set(false);
            });
        }
    };
    view! {
        {move || if confirming.get() {
            let confirm = confirm.clone();
            view! {
                <span class="confirm" data-testid="confirm-restart">
                    {format!("Restart {name}?")}
                    <button class="danger" disabled=move || busy.get() on:click=confirm>"Restart"</button>
                    <button on:click=move |_| confirming.set(false)>"Cancel"</button>
                </span>
            }.into_any()
        } else {
            view! { <button class="danger" data-testid="restart" on:click=move |_| confirming.set(true)>"Restart"</button> }.into_any()
        }}
        {move || result.get().map(|r| match r {
            Ok(m) => view! { <span class="ok-text">{m}</span> }.into_any(),
            Err(e) => view! { <span class="error">{e}</span> }.into_any(),
        })}
    }
}

#[component]
fn Detail(container: Memo<Option<Container>>, now: ReadSignal<i64>) -> impl IntoView {
    let zone = crate::shared::zone::use_zone();
    let id = container.with_untracked(|c| c.as_ref().map(|c| c.id.clone()).unwrap_or_default());
    let detail = LocalResource::new({
        let id = id.clone();
        move || get_container_detail(id.clone())
    });
    // The last lines, then what following appends (one list, one view).
    let lines = RwSignal::new(Vec::<LogLine>::new());
    let logs_error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(d)) = detail.get() {
            match d.logs {
                Ok(l) => lines.set(l),
                Err(e) => logs_error.set(Some(e)),
            }
        }
    });
    let following = RwSignal::new(false);
    let stream = StoredValue::new(None::<EventStream>);
    let follow_id = id.clone();
    let toggle_follow = move |_| {
        if following.get_untracked() {
            stream.set_value(None);
            following.set(false);
            return;
        }
        let url = format!("/api/v1/containers/{follow_id}/logs/stream?tail=1");
        let opened = EventStream::open(
            &url,
            move |json| {
                let Ok(line) = serde_json::from_str::<LogLine>(&json) else {
                    return;
                };
                lines.update(|l| {
                    l.push(line);
                    // Keep the page light: the last 1,000 lines.
                    if l.len() > 1000 {
                        l.drain(..l.len() - 1000);
                    }
                })
            },
            move || following.set(false),
        );
        following.set(opened.is_some());
        stream.set_value(opened);
    };
    let name = container.with_untracked(|c| c.as_ref().map(|c| c.name.clone()).unwrap_or_default());
    on_cleanup(move || stream.set_value(None));
    view! {
        <div class="cdetail" data-testid="detail">
            {move || container.with(|c| c.as_ref().map(|c| view! {
                <p class="muted">
                    {format!("Image {} · {} · restarts: {} · ", c.image, c.state_label(), restarts(c))}
                    {match c.mem_limit_bytes {
                        Some(l) => format!("memory limit {}", format::bytes_binary(l as f64)),
                        None => "no memory limit".into(),
                    }}
                    {if c.oom_killed { " · last exit was an OOM kill" } else { "" }}
                    {c.watchdog.last_decision.clone().map(|d| format!(" · watchdog: {d}"))}
                </p>
                <h4>"Health checks (Docker's log)"</h4>
                {if c.health_log.is_empty() {
                    view! { <p class="muted">"No health check configured or no result yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="healthlog" data-testid="health-log">
                            {c.health_log.iter().rev().map(|h| view! {
                                <li class=if h.exit_code == 0 { "ok-text" } else { "error" }>
                                    {format!("{} · exit {} · {}",
                                        h.start_ms.map(|t| ago(now.get_untracked(), Some(t))).unwrap_or_default(),
                                        h.exit_code, h.output)}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            }))}
            <Suspense fallback=|| view! { <p class="muted">"Reading logs…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(d) => view! {
                            <h4>"Steward's record"</h4>
                            <ul class="events" data-testid="events">
                                {d.events.iter().map(|e| view! {
                                    <li>{format!("{} · {} · {}", zone.datetime(e.ts_ms), e.kind, e.detail.clone().unwrap_or_default())}</li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <h4>{format!("Logs (last 50 lines, times in {})", zone.label())}</h4>
            {move || logs_error.get().map(|e| view! { <p class="error">{format!("Cannot read logs: {e}")}</p> })}
            <LogView id=id.clone() name=name.clone() lines=lines/>
            <button on:click=toggle_follow data-testid="follow">{move || if following.get() { "Stop following" } else { "Follow logs" }}</button>
        </div>
    }
}

/// Both restart counts, labelled: Docker's `RestartCount` counts only policy restarts.
fn restarts(c: &Container) -> String {
    format!(
        "Steward {} · Docker {}",
        c.steward_restarts, c.restart_count
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_64m_limit_reads_64_mib() {
        let c = Container {
            mem_usage_bytes: Some(10 * 1024 * 1024),
            mem_limit_bytes: Some(64 * 1024 * 1024),
            ..Container::running("c1", "web")
        };
        assert_eq!(memory(&c), "10.0 MiB / 64.0 MiB");
        let unlimited = Container {
            mem_limit_bytes: None,
            ..c
        };
        assert_eq!(memory(&unlimited), "10.0 MiB / no limit");
    }
}
