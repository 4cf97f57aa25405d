//! The digest page: the week's lines, the top action and the chart exactly as they are sent,
//! the schedule, the last send per notifier, and (admins) a confirmed "Send now".

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::digest::api::get_digest;
use crate::digest::Digest;
use crate::shared::client::post_json;
use crate::use_session;

#[component]
pub fn DigestPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_digest());
    // Kept here: the digest is read again after a send, and the outcome must outlive that.
    let result = RwSignal::new(None::<Result<String, String>>);
    view! {
        <h2>"Weekly digest"</h2>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Some(d)) => view! { <DigestView d=d result=result refetch=Callback::new(move |_| data.refetch())/> }.into_any(),
                    Ok(None) => view! { <p class="muted">"The first digest is being drawn; reload in a moment."</p> }.into_any(),
                    Err(e) => view! { <p class="error">{format!("Steward could not read the digest: {e}")}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DigestView(
    d: Digest,
    result: RwSignal<Option<Result<String, String>>>,
    refetch: Callback<()>,
) -> impl IntoView {
    let zone = crate::shared::zone::use_zone();
    let session = use_session();
    let admin = move || session.with(|s| s.as_ref().is_some_and(|s| s.is_admin()));
    let confirming = RwSignal::new(false);
    let send = move |_| {
        let token =
            session.with_untracked(|s| s.as_ref().map(|s| s.csrf.clone()).unwrap_or_default());
        confirming.set(false);
        result.set(Some(Ok("sending…".into())));
        leptos::task::spawn_local(async move {
            let r = post_json("/api/v1/digest/send", &token, None)
                .await
                .map(|_| "sent to every notifier".to_string());
            result.set(Some(r));
            refetch.run(());
        });
    };
    let week = format!(
        "Week ending {} — {}",
        &crate::shared::format::utc_datetime(d.week_end_ms)[..10],
        d.host
    );
    let chart = format!("/api/v1/digest.png?at={}", d.generated_ms);
    view! {
        <section class="panel digest" data-testid="digest">
            <h3>{week}</h3>
            <ul class="digest-lines">
                {d.lines.into_iter().map(|l| view! {
                    <li class=format!("digest-line {}", l.level.as_str()) data-testid="digest-line">
                        <span aria-hidden="true">{l.icon}</span>" "<strong>{l.label}</strong>": "{l.text}
                    </li>
                }).collect_view()}
            </ul>
            <p data-testid="digest-top-action"><strong>"Top action: "</strong>{d.top_action}</p>
            {d.chart.then(|| view! {
                <img class="digest-chart" data-testid="digest-chart" src=chart width="800" height="400"
                    alt="The week's health score and disk use, hour by hour"/>
            })}
            {d.chart_error.map(|e| view! { <p class="error" data-testid="digest-chart-error">{format!("Chart: {e}")}</p> })}
            <p class="muted">{format!("Figures read {}.", zone.datetime(d.generated_ms))}</p>
        </section>
        <section class="panel" data-testid="digest-schedule">
            <h3>"Sending"</h3>
            <p>
                {format!("Schedule: {} (UTC)", d.schedule)}
                {d.next_send_ms.map(|t| format!(" — next {}", zone.datetime(t)))}
            </p>
            <p data-testid="digest-last-sent">
                {match d.last_sent_ms {
                    Some(t) => format!("Last sent {}.", zone.datetime(t)),
                    None => "Not sent yet.".into(),
                }}
            </p>
            <ul>
                {d.deliveries.into_iter().map(|x| view! {
                    <li data-testid="digest-delivery">
                        {x.notifier}": "
                        {match x.result {
                            Ok(()) => view! { <span class="ok-text">"delivered"</span> }.into_any(),
                            Err(e) => view! { <span class="error">{e}</span> }.into_any(),
                        }}
                    </li>
                }).collect_view()}
            </ul>
            {move || admin().then(|| view! {
                <div class="actions">
                    {move || if confirming.get() {
                        view! {
                            <span class="confirm" data-testid="confirm-digest-send">
                                "Send this digest to every notifier now?"
                                <button class="danger" on:click=send>"Send"</button>
                                <button on:click=move |_| confirming.set(false)>"Cancel"</button>
                            </span>
                        }.into_any()
                    } else {
                        view! { <button data-testid="digest-send" on:click=move |_| confirming.set(true)>"Send now"</button> }.into_any()
                    }}
                    {move || result.get().map(|r| match r {
                        Ok(m) => view! { <span class="ok-text" data-testid="digest-send-result">{m}</span> }.into_any(),
                        Err(e) => view! { <span class="error" data-testid="digest-send-result">{e}</span> }.into_any(),
                    })}
                </div>
            })}
        </section>
    }
}

/// The route: split off the main WASM and loaded when the page is opened.
pub struct DigestRoute;

#[lazy_route]
impl LazyRoute for DigestRoute {
    fn data() -> Self {
        DigestRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <DigestPage/> }.into_any()
    }
}
