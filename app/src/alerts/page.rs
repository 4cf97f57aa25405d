//! The alerts page: what fires now (acknowledge, silence), the silences in force (end one
//! early), each notifier's deliveries (send a test), and what resolved recently. Refreshed
//! every 5 s; every action is confirmed first and goes through the guarded REST endpoints.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::alerts::api::get_alerts;
use crate::alerts::{
    matchers_text, parse_matchers, Alert, AlertState, Alerts, NewSilence, NotifierStatus,
    SilenceView,
};
use crate::shared::client::post_json;
use crate::use_session;

const REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

#[component]
pub fn AlertsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_alerts());
    view! {
        <h2>"Alerts"</h2>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(a) => view! { <Panel initial=a/> }.into_any(),
                    Err(e) => view! { <p class="error">{format!("Steward could not read its alerts: {e}")}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// What the page's parts share: the admin flag, the CSRF token and a refresh.
#[derive(Clone, Copy)]
struct Ctx {
    admin: Signal<bool>,
    csrf: Signal<String>,
    refresh: Callback<()>,
    /// The silence form's matchers, filled by an alert's "Silence…".
    silence_for: RwSignal<Option<String>>,
    /// The action waiting for its confirmation (one at a time, asked in the page's bar).
    ask: RwSignal<Option<Ask>>,
}

/// A guarded action a row offers: what the bar asks, and what it posts once confirmed.
#[derive(Clone)]
struct Ask {
    label: &'static str,
    question: String,
    url: String,
    body: Option<String>,
    testid: &'static str,
}

/// A row's action button: it only asks; the page's one [`ConfirmBar`] posts.
fn ask_button(ctx: Ctx, ask: Ask) -> impl IntoView {
    let (label, testid) = (ask.label, ask.testid);
    view! { <button data-testid=testid on:click=move |_| ctx.ask.set(Some(ask.clone()))>{label}</button> }
}

#[component]
fn Panel(initial: Alerts) -> impl IntoView {
    let data = RwSignal::new(initial);
    let session = use_session();
    let admin = Signal::derive(move || session.with(|s| s.as_ref().is_some_and(|s| s.is_admin())));
    let csrf = Signal::derive(move || {
        session.with(|s| s.as_ref().map(|s| s.csrf.clone()).unwrap_or_default())
    });
    let refresh_error = RwSignal::new(None::<String>);
    let refresh = Callback::new(move |_| {
        leptos::task::spawn_local(async move {
            match get_alerts().await {
                Ok(next) => {
                    data.set(next);
                    refresh_error.set(None);
                }
                Err(e) => refresh_error.set(Some(e.to_string())),
            }
        })
    });
    #[cfg(feature = "hydrate")]
    {
        if let Ok(h) = set_interval_with_handle(move || refresh.run(()), REFRESH) {
            on_cleanup(move || h.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = REFRESH;
    let ctx = Ctx {
        admin,
        csrf,
        refresh,
        silence_for: RwSignal::new(None),
        ask: RwSignal::new(None),
    };
    let zone = crate::shared::zone::use_zone();
    view! {
        {move || refresh_error.get().map(|e| view! { <p class="error">{format!("Refresh failed (showing the last data): {e}")}</p> })}
        {move || (!data.with(|d| d.enabled)).then(|| view! {
            <p class="error">"Alerting is off ([alerts] enabled = false): nothing is evaluated or sent."</p>
        })}
        <p><a href="/digest" data-testid="digest-link">"Weekly digest →"</a></p>
        {move || data.with(|d| d.quiet.clone()).map(|q| view! { <p class="muted" data-testid="alerts-quiet">{q}</p> })}
        {move || data.with(|d| d.sync_error.clone()).map(|e| view! {
            <p class="error" data-testid="alerts-sync-error">{format!("Shared with the other replicas, not up to date: {e}")}</p>
        })}
        <p class="muted" data-testid="alerts-evaluated">
            {move || data.with(|d| match (d.evaluated_ms, d.evaluation_us) {
                (Some(t), Some(us)) => format!("Rules evaluated {} (took {us} µs).", zone.datetime(t)),
                _ => "Rules not evaluated yet.".to_string(),
            })}
        </p>
        <section class="panel" data-testid="alerts-active">
            <h3>"Firing and pending"</h3>
            {move || {
                let active = data.with(|d| d.active.clone());
                if active.is_empty() {
                    view! { <p class="ok-text">"Nothing fires."</p> }.into_any()
                } else {
                    view! {
                        <ul class="alert-list">
                            {active.into_iter().map(|a| view! { <ActiveAlert alert=a ctx=ctx/> }).collect_view()}
                        </ul>
                    }.into_any()
                }
            }}
        </section>
        {move || admin.get().then(|| view! { <SilenceForm ctx=ctx/> })}
        <section class="panel" data-testid="alerts-silences">
            <h3>"Silences"</h3>
            {move || {
                let silences = data.with(|d| d.silences.clone());
                if silences.is_empty() {
                    view! { <p class="muted">"No silence is in force."</p> }.into_any()
                } else {
                    view! {
                        <ul class="alert-list">
                            {silences.into_iter().map(|s| view! { <SilenceRow silence=s ctx=ctx/> }).collect_view()}
                        </ul>
                    }.into_any()
                }
            }}
        </section>
        <section class="panel" data-testid="alerts-notifiers">
            <h3>"Notifiers"</h3>
            {move || {
                let n = data.with(|d| d.notifiers.clone());
                if n.is_empty() {
                    view! { <p class="muted">"No notifier is configured: alerts show here only. Add [[alerts.webhooks]], [[alerts.telegram]], [[alerts.ntfy]], [[alerts.email]] or [[alerts.alertmanager]] to the config."</p> }.into_any()
                } else {
                    view! {
                        <div class="table-wrap" tabindex="0" role="region" aria-label="Notifiers">
                            <table>
                                <thead><tr><th>"Name"</th><th>"Kind"</th><th>"Sent"</th><th>"Failed"</th><th>"Dropped"</th><th>"Last delivery"</th><th></th></tr></thead>
                                <tbody>{n.into_iter().map(|n| view! { <NotifierRow n=n ctx=ctx/> }).collect_view()}</tbody>
                            </table>
                        </div>
                    }.into_any()
                }
            }}
        </section>
        <section class="panel" data-testid="alerts-recent">
            <h3>"Resolved recently"</h3>
            {move || {
                let recent = data.with(|d| d.recent.clone());
                if recent.is_empty() {
                    view! { <p class="muted">"Nothing resolved yet."</p> }.into_any()
                } else {
                    view! {
                        <div class="table-wrap" tabindex="0" role="region" aria-label="Resolved alerts">
                            <table>
                                <thead><tr><th>"Alert"</th><th>"Level"</th><th>"Fired"</th><th>"Resolved"</th><th>"What"</th></tr></thead>
                                <tbody>
                                    {recent.into_iter().map(|a| view! {
                                        <tr>
                                            <td><code>{a.key()}</code></td>
                                            <td><span class=format!("badge {}", level_class(&a))>{a.severity.as_str()}</span></td>
                                            <td>{zone.datetime(a.since_ms)}</td>
                                            <td>{a.resolved_ms.map(|r| zone.datetime(r)).unwrap_or_default()}</td>
                                            <td class="muted">{a.summary.clone()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any()
                }
            }}
        </section>
        // Last in the page, and sticky: it shows at the bottom of the screen whichever row asked.
        <ConfirmBar ctx=ctx/>
    }
}

fn level_class(a: &Alert) -> &'static str {
    match a.severity {
        crate::alerts::Severity::Critical => "crit",
        crate::alerts::Severity::Warning => "warn",
    }
}

/// The page's one confirmation: the question of the action a row asked for, then what
/// happened. One bar rather than a confirming button in every row: each row kind that carried
/// its own kept about 38 KB (br) of this lazy page in the main WASM (BENCHMARKS.md).
#[component]
fn ConfirmBar(ctx: Ctx) -> impl IntoView {
    let busy = RwSignal::new(false);
    let result = RwSignal::new(None::<Result<String, String>>);
    let go = move |_| {
        let Some(ask) = ctx.ask.get_untracked() else {
            return;
        };
        let token = ctx.csrf.get_untracked();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let r = post_json(&ask.url, &token, ask.body)
                .await
                .map(|_| format!("{}: done", ask.label));
            result.set(Some(r));
            busy.set(false);
            ctx.ask.set(None);
            ctx.refresh.run(());
        });
    };
    view! {
        <div class=move || if ctx.ask.with(Option::is_some) { "confirm-bar asking" } else { "confirm-bar" } aria-live="polite">
            {move || ctx.ask.get().map(|ask| view! {
                <span class="confirm" data-testid=format!("confirm-{}", ask.testid)>
                    {ask.question}" "
                    <button class="danger" disabled=move || busy.get() on:click=go>{ask.label}</button>
                    <button on:click=move |_| ctx.ask.set(None)>"Cancel"</button>
                </span>
            })}
            {move || result.get().map(|r| match r {
                Ok(m) => view! { <span class="ok-text">{m}</span> }.into_any(),
                Err(e) => view! { <span class="error">{e}</span> }.into_any(),
            })}
        </div>
    }
}

#[component]
fn ActiveAlert(alert: Alert, ctx: Ctx) -> impl IntoView {
    let zone = crate::shared::zone::use_zone();
    let key = alert.key();
    let state = match (alert.state, alert.silenced) {
        (AlertState::Pending, _) => "pending".to_string(),
        (_, true) => "firing, silenced".to_string(),
        _ => "firing".to_string(),
    };
    let value = match (alert.value, alert.threshold) {
        (Some(v), Some(t)) => format!(" — {v:.2} (level {t})"),
        (Some(v), None) => format!(" — {v:.2}"),
        _ => String::new(),
    };
    let class = format!("alert {} {}", level_class(&alert), alert.state.as_str());
    let firing = alert.state == AlertState::Firing;
    let acked = alert.acknowledged_by.clone();
    let ack_body = serde_json::json!({ "key": key }).to_string();
    let matchers = matchers_text(&alert.labels);
    let (shown, question) = (key.clone(), format!("Stop the repeats of {key}?"));
    view! {
        <li class=class data-testid="alert" data-key=key.clone()>
            <div>
                <span class=format!("badge {}", level_class(&alert))>{alert.severity.as_str()}</span>" "
                <strong>{alert.summary.clone()}</strong>{value}
            </div>
            <div class="muted">
                <code>{shown}</code>" · "{state}" since "{zone.datetime(alert.since_ms)}
                {acked.clone().map(|by| format!(" · acknowledged by {by}"))}
                {alert.judged_on.clone().map(|node| format!(" · judged on {node}"))}
            </div>
            {move || ctx.admin.get().then(|| {
                let matchers = matchers.clone();
                view! {
                    <div class="actions">
                        {(firing && acked.is_none()).then(|| ask_button(ctx, Ask {
                            label: "Acknowledge",
                            question: question.clone(),
                            url: "/api/v1/alerts/acknowledge".into(),
                            body: Some(ack_body.clone()),
                            testid: "acknowledge",
                        }))}
                        <button data-testid="silence-this" on:click=move |_| ctx.silence_for.set(Some(matchers.clone()))>"Silence…"</button>
                    </div>
                }
            })}
        </li>
    }
}

#[component]
fn SilenceForm(ctx: Ctx) -> impl IntoView {
    let matchers = RwSignal::new(String::new());
    let minutes = RwSignal::new(60u32);
    let comment = RwSignal::new(String::new());
    let confirming = RwSignal::new(false);
    let result = RwSignal::new(None::<Result<String, String>>);
    Effect::new(move || {
        if let Some(m) = ctx.silence_for.get() {
            matchers.set(m);
        }
    });
    let parsed = move || {
        let m = parse_matchers(&matchers.get())?;
        NewSilence {
            matchers: m,
            minutes: minutes.get(),
            comment: comment.get(),
        }
        .validate()
        .map_err(|e| e.to_string())
    };
    let submit = move |_| {
        let Ok(s) = parsed() else { return };
        let body = serde_json::to_string(&s).unwrap_or_default();
        let token = ctx.csrf.get_untracked();
        leptos::task::spawn_local(async move {
            let r = post_json("/api/v1/alerts/silences", &token, Some(body))
                .await
                .map(|_| "silenced".to_string());
            if r.is_ok() {
                matchers.set(String::new());
                comment.set(String::new());
                ctx.silence_for.set(None);
            }
            result.set(Some(r));
            confirming.set(false);
            ctx.refresh.run(());
        });
    };
    let durations = [
        (60u32, "1 hour"),
        (240, "4 hours"),
        (1440, "1 day"),
        (10080, "7 days"),
    ];
    view! {
        <section class="panel" data-testid="silence-form">
            <h3>"Add a silence"</h3>
            <p class="muted">"Matching alerts keep their state but send nothing; what still fires when the silence ends is sent then."</p>
            <label>"Matchers "
                <input type="text" placeholder="alertname=cpu_steal_pct, mountpoint=/" data-testid="silence-matchers"
                    prop:value=move || matchers.get() on:input=move |ev| matchers.set(event_target_value(&ev))/>
            </label>
            <label>" For "
                <select data-testid="silence-minutes" on:change=move |ev| {
                    if let Ok(m) = event_target_value(&ev).parse() { minutes.set(m) }
                }>
                    {durations.into_iter().map(|(m, l)| view! { <option value=m.to_string() selected=move || minutes.get() == m>{l}</option> }).collect_view()}
                </select>
            </label>
            <label>" Why "
                <input type="text" placeholder="ticket, reason" data-testid="silence-comment"
                    prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))/>
            </label>
            {move || match (parsed(), confirming.get()) {
                (Err(e), _) => view! { <p class="muted" data-testid="silence-invalid">{e}</p> }.into_any(),
                (Ok(s), false) => view! {
                    <button data-testid="silence-add" on:click=move |_| confirming.set(true)>
                        {format!("Silence {} for {}", matchers_text(&s.matchers), crate::shared::format::duration(u64::from(s.minutes) * 60))}
                    </button>
                }.into_any(),
                (Ok(_), true) => view! {
                    <span class="confirm" data-testid="confirm-silence">
                        "Send nothing for the matching alerts?"
                        <button class="danger" on:click=submit>"Silence"</button>
                        <button on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </span>
                }.into_any(),
            }}
            {move || result.get().map(|r| match r {
                Ok(m) => view! { <span class="ok-text">{m}</span> }.into_any(),
                Err(e) => view! { <span class="error">{e}</span> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn SilenceRow(silence: SilenceView, ctx: Ctx) -> impl IntoView {
    let zone = crate::shared::zone::use_zone();
    let m = matchers_text(&silence.matchers);
    let url = format!("/api/v1/alerts/silences/{}/expire", silence.id);
    view! {
        <li data-testid="silence">
            <div><code>{m.clone()}</code>" until "{zone.datetime(silence.ends_ms)}</div>
            <div class="muted">{format!("{} — by {}", silence.comment, silence.created_by)}</div>
            {move || ctx.admin.get().then(|| ask_button(ctx, Ask {
                label: "End now",
                question: format!("End the silence on {m}?"),
                url: url.clone(),
                body: None,
                testid: "end-silence",
            }))}
        </li>
    }
}

#[component]
fn NotifierRow(n: NotifierStatus, ctx: Ctx) -> impl IntoView {
    let zone = crate::shared::zone::use_zone();
    let last = match (&n.last_error, n.last_success_ms) {
        (Some(e), _) => view! { <span class="error">{e.clone()}</span> }.into_any(),
        (None, Some(t)) => {
            view! { <span class="ok-text">{format!("ok {}", zone.datetime(t))}</span> }.into_any()
        }
        (None, None) => view! { <span class="muted">"none yet"</span> }.into_any(),
    };
    let url = format!("/api/v1/alerts/notifiers/{}/test", n.name);
    let name = n.name.clone();
    view! {
        <tr data-testid="notifier" data-name=n.name.clone()>
            <td>{n.name.clone()}</td>
            <td>{format!("{} (≥ {})", n.kind, n.min_severity.as_str())}</td>
            <td>{n.sent_total}</td>
            <td>{n.failed_total}</td>
            <td>{n.dropped_total}</td>
            <td>{last}</td>
            <td>{move || ctx.admin.get().then(|| ask_button(ctx, Ask {
                label: "Send test",
                question: format!("Send a test notice to {name}?"),
                url: url.clone(),
                body: None,
                testid: "send-test",
            }))}</td>
        </tr>
    }
}

/// The route: split off the main WASM and loaded when the page is opened.
pub struct AlertsRoute;

#[lazy_route]
impl LazyRoute for AlertsRoute {
    fn data() -> Self {
        AlertsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <AlertsPage/> }.into_any()
    }
}
