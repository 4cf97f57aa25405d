//! A container's logs as an operator reads them: one timestamp per line, stderr and levels
//! coloured, a search that highlights and counts matches, and a download of the last N lines.
//! The box is focusable, so a keyboard can scroll it.

use leptos::prelude::*;

use crate::containers::logs::{find_matches, highlight, LogLine};
use crate::shared::zone::use_zone;

/// The tails a download offers.
pub const DOWNLOAD_TAILS: [u32; 3] = [100, 1000, 5_000];

#[component]
pub fn LogView(
    /// The container's id or name, for the download link.
    id: String,
    name: String,
    #[prop(into)] lines: Signal<Vec<LogLine>>,
) -> impl IntoView {
    let zone = use_zone();
    let query = RwSignal::new(String::new());
    let only_matches = RwSignal::new(false);
    let count = move || {
        query.with(|q| {
            lines.with(|ls| {
                ls.iter()
                    .filter(|l| !find_matches(&l.text, q).is_empty())
                    .count()
            })
        })
    };
    let download_tail = RwSignal::new(DOWNLOAD_TAILS[1]);
    let download = move || {
        format!(
            "/api/v1/containers/{id}/logs?tail={}&format=text",
            download_tail.get()
        )
    };
    let label = format!("Logs of {name}");
    view! {
        <div class="logview">
            <div class="log-tools">
                <input type="search" placeholder="Search logs" aria-label="Search logs" data-testid="log-search"
                    prop:value=move || query.get()
                    on:input=move |ev| query.set(event_target_value(&ev))/>
                <label class="muted"><input type="checkbox" prop:checked=move || only_matches.get()
                    on:change=move |ev| only_matches.set(event_target_checked(&ev))/>" matching lines only"</label>
                <span class="muted" data-testid="log-matches" aria-live="polite">
                    {move || (!query.with(|q| q.trim().is_empty())).then(|| format!("{} matching lines", count()))}
                </span>
                <span class="download">
                    <select aria-label="Lines to download" on:change=move |ev| {
                        if let Ok(n) = event_target_value(&ev).parse() { download_tail.set(n) }
                    }>
                        {DOWNLOAD_TAILS.iter().map(|n| view! {
                            <option value=n.to_string() selected=*n == DOWNLOAD_TAILS[1]>{format!("last {n}")}</option>
                        }).collect_view()}
                    </select>
                    <a href=download download=format!("{name}-logs.txt") data-testid="log-download">"Download"</a>
                </span>
            </div>
            <div class="logs" tabindex="0" role="log" aria-label=label data-testid="logs">
                {move || {
                    let q = query.get();
                    let only = only_matches.get() && !q.trim().is_empty();
                    lines.with(|ls| ls.iter().filter(|l| !only || !find_matches(&l.text, &q).is_empty()).map(|l| {
                        let class = format!(
                            "logline {} {}",
                            l.stream.as_str(),
                            l.level.map(|v| v.as_str()).unwrap_or("")
                        );
                        let (time, title) = match l.ts_ms {
                            Some(t) => (zone.time_ms(t), zone.datetime(t)),
                            None => ("--:--:--.---".to_string(), "no timestamp".to_string()),
                        };
                        view! {
                            <div class=class>
                                <time title=title>{time}</time>
                                <span class="logtext">
                                    {highlight(&l.text, &q).into_iter().map(|(part, hit)| {
                                        let part = part.to_string();
                                        if hit { view! { <mark>{part}</mark> }.into_any() } else { part.into_any() }
                                    }).collect_view()}
                                </span>
                            </div>
                        }
                    }).collect_view())
                }}
            </div>
        </div>
    }
}
