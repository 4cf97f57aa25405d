//! A fleet host's containers as its latest heartbeat listed them: name, state, health, image
//! and Docker's status words, unhealthy and stopped first. Read-only: the host's restart goes
//! through its agent (the actions panel), never from the hub into the host.

use leptos::prelude::*;

use crate::containers::row::health_class;
use crate::containers::ContainerState;
use crate::fleet::FleetHost;

#[component]
pub fn HostContainerTable(host: RwSignal<FleetHost>) -> impl IntoView {
    move || {
        host.with(|h| {
            if h.containers_error.is_some() {
                // The Docker error is said above the readout; no second line here.
                return None;
            }
            let counts = h.containers?;
            if h.container_list.is_empty() {
                let why = if counts.total == 0 {
                    "No containers on this host."
                } else {
                    "Its agent sends counts only (an agent older than the container list)."
                };
                return Some(view! { <p class="muted" data-testid="fleet-host-no-containers">{why}</p> }.into_any());
            }
            let rows = h
                .container_list
                .iter()
                .map(|c| {
                    let state_class = match c.state {
                        ContainerState::Running => "ok",
                        ContainerState::Restarting | ContainerState::Paused | ContainerState::Created => "warn",
                        ContainerState::Exited | ContainerState::Dead | ContainerState::Removing => "crit",
                        ContainerState::Unknown => "unknown",
                    };
                    view! {
                        <tr data-container=c.name.clone() data-health=c.health.as_str()>
                            <td><strong>{c.name.clone()}</strong></td>
                            <td><span class=format!("badge {state_class}")>{c.state.as_str()}</span></td>
                            <td><span class=format!("badge {}", health_class(c.health))>{c.health.as_str()}</span></td>
                            <td class="muted">{c.image.clone()}</td>
                            <td>{c.status.clone()}</td>
                        </tr>
                    }
                })
                .collect_view();
            let cut = (counts.total as usize > h.container_list.len()).then(|| {
                view! {
                    <p class="muted">{format!(
                        "{} of {} listed: the heartbeat carries at most {}, unhealthy and stopped first.",
                        h.container_list.len(), counts.total, crate::fleet::MAX_CONTAINERS
                    )}</p>
                }
            });
            Some(view! {
                <div class="table-wrap">
                    <table class="plan" data-testid="fleet-host-containers">
                        <thead>
                            <tr>
                                <th scope="col">"Container"</th><th scope="col">"State"</th><th scope="col">"Health"</th>
                                <th scope="col">"Image"</th><th scope="col">"Status"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
                {cut}
            }.into_any())
        })
    }
}
