//! The status of every collector: ok / degraded / error with its message and last success.

use leptos::prelude::*;

use crate::shared::format;
use crate::vitals::CollectorStatus;

/// "12s ago", or "never".
pub fn ago(now_ms: i64, then_ms: Option<i64>) -> String {
    match then_ms {
        Some(t) => format!(
            "{} ago",
            format::duration(((now_ms - t).max(0) / 1000) as u64)
        ),
        None => "never".into(),
    }
}

#[component]
pub fn CollectorPanel(collectors: Vec<CollectorStatus>, now: ReadSignal<i64>) -> impl IntoView {
    view! {
        <section class="panel">
            <h3>"Collectors"</h3>
            <ul class="collectors">
                {collectors.into_iter().map(|c| {
                    let last = c.last_success_ms;
                    view! {
                        <li class=format!("collector {}", c.state.as_str()) data-collector=c.name.clone()>
                            <span class="badge">{c.state.as_str()}</span>
                            <strong>{c.name.clone()}</strong>
                            <span class="muted">{move || format!("last success {}", ago(now.get(), last))}</span>
                            {c.message.map(|m| view! { <p class="collector-msg">{m}</p> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
