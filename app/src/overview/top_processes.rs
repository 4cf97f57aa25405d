//! Top consumers: the processes using the most memory and CPU.

use leptos::prelude::*;

use crate::shared::format;
use crate::vitals::ProcessInfo;

#[component]
pub fn TopProcesses(title: &'static str, processes: Vec<ProcessInfo>) -> impl IntoView {
    let empty = processes.is_empty();
    view! {
        <section class="panel">
            <h3>{title}</h3>
            {empty.then(|| view! { <p class="muted">"Needs a second sample; shown after the next round."</p> })}
            <table class="procs">
                <thead><tr><th>"PID"</th><th>"Name"</th><th>"RSS"</th><th>"CPU"</th><th>"Runtime"</th></tr></thead>
                <tbody>
                    {processes.into_iter().map(|p| view! {
                        <tr>
                            <td>{p.pid}</td>
                            <td class="name">{p.name}</td>
                            <td>{format::bytes_binary(p.rss_bytes as f64)}</td>
                            <td>{p.cpu_pct.map(|c| format!("{c:.1} %")).unwrap_or_else(|| "–".into())}</td>
                            <td>{format::duration(p.runtime_secs)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
