//! The overview's container alerts: unhealthy containers, watchdog give-ups, I/O anomalies and
//! stale images, each linking to the container panel.

use leptos::prelude::*;

use crate::containers::ContainerSummary;

#[component]
pub fn ContainerAlerts(summary: Option<ContainerSummary>) -> impl IntoView {
    let Some(s) = summary else {
        return ().into_any();
    };
    let line = |class: &'static str, label: &'static str, names: Vec<String>| {
        (!names.is_empty()).then(|| {
            view! {
                <li class=class><strong>{label}</strong>" "{names.join(", ")}</li>
            }
        })
    };
    view! {
        <section class="panel" data-testid="container-alerts">
            <h3><a href="/containers">{format!("Containers: {} running of {}", s.running, s.total)}</a></h3>
            <ul class="alerts">
                {line("crit", "Watchdog gave up:", s.watchdog_gave_up.clone())}
                {line("crit", "Unhealthy:", s.unhealthy.clone())}
                {line("warn", "Writing over the daily limit:", s.io_anomalies.clone())}
                {line("warn", "Running images older than the limit:", s.stale_images.clone())}
                {(s.no_memory_limit > 0).then(|| view! {
                    <li class="muted">{format!("{} without a memory limit", s.no_memory_limit)}</li>
                })}
            </ul>
        </section>
    }
    .into_any()
}
