//! The admin's PromQL box: any query against the configured Prometheus, drawn like a trend, with
//! the same zoom and hover. The server caps the window, the points and the lines, applies the
//! proxy's timeout, and writes each run to the audit log.

use leptos::prelude::*;

use crate::shared::client::post_json;
use crate::trends::api::explore_available;
use crate::trends::chart_view::ChartView;
use crate::trends::trend_chart::source_text;
use crate::trends::Trend;

/// The explore route (a POST: admins only, with the CSRF token).
pub const EXPLORE_PATH: &str = "/api/v1/explore";

#[component]
pub fn Explore(csrf: String) -> impl IntoView {
    let query = RwSignal::new(String::from(
        "sum(rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))",
    ));
    let range = RwSignal::new(String::from("1h"));
    let result = RwSignal::new(None::<Trend>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let csrf = StoredValue::new(csrf);
    let available = Resource::new(|| (), |_| explore_available());

    let run = move |window: serde_json::Value| {
        let mut body = window;
        body["query"] = serde_json::Value::String(query.get_untracked());
        busy.set(true);
        leptos::task::spawn_local(async move {
            let answer = post_json(EXPLORE_PATH, &csrf.get_value(), Some(body.to_string())).await;
            busy.set(false);
            match answer.and_then(|text| {
                serde_json::from_str::<Trend>(&text).map_err(|e| format!("unexpected answer: {e}"))
            }) {
                Ok(t) => {
                    error.set(None);
                    result.set(Some(t));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        run(serde_json::json!({ "range": range.get_untracked() }));
    };
    let on_zoom =
        Callback::new(move |(a, b): (i64, i64)| run(serde_json::json!({ "from": a, "to": b })));

    view! {
        <section class="card explore" data-testid="explore">
            <h3>"Explore (admin)"</h3>
            <p class="muted">"Any PromQL over the configured Prometheus. Runs are audited; the window, points and lines are capped."</p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    (available.await == Ok(false)).then(|| view! {
                        <p class="warn-text" data-testid="explore-unconfigured">
                            "Prometheus is not configured, so there is nothing to explore: set "
                            <code>"prometheus.url"</code>" in the config (trends read Steward's own SQLite history without it)."
                        </p>
                    })
                })}
            </Suspense>
            <form on:submit=submit>
                <textarea rows="2" spellcheck="false" aria-label="PromQL"
                    prop:value=move || query.get()
                    on:input=move |ev| query.set(event_target_value(&ev))></textarea>
                <select aria-label="range" on:change=move |ev| range.set(event_target_value(&ev))>
                    {["1h", "6h", "24h", "7d"].into_iter().map(|r| view! { <option value=r>{r}</option> }).collect_view()}
                </select>
                <button type="submit" disabled=move || busy.get()>{move || if busy.get() { "Running…" } else { "Run" }}</button>
            </form>
            {move || error.get().map(|e| view! { <p class="error" data-testid="explore-error">{e}</p> })}
            {move || result.with(|r| r.as_ref().map(|t| view! {
                <p class="muted">{format!("{} line(s) · {}", t.series.len(), source_text(t))}</p>
            }))}
            {move || result.with(|r| r.as_ref().and_then(|t| t.note.clone())).map(|n| view! { <p class="warn-text">{n}</p> })}
            <Show when=move || result.with(Option::is_some)>
                <ChartView trend=result on_zoom name="explore"/>
            </Show>
        </section>
    }
}
