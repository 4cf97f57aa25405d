//! Docker by events: one long-lived subscription to the engine's event stream. A container that
//! starts, dies, is OOM-killed, restarts or changes health wakes the collector at once, so the
//! change is on screen within a second instead of at the next round; OOM kills and exits are
//! written to the container's record, so they become a history (Docker keeps only the last
//! exit's flag). The stream reconnects with backoff and reports its own status.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use app::containers::ContainerEventKind;
use app::vitals::{CollectorState, CollectorStatus};
use bollard::models::EventMessage;
use futures::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::docker::collector::DockerHandle;
use crate::platform::bus::{local_host, Bus, ContainerEventRecord, Event};
use crate::store::audit::AuditLog;
use app::shared::clock::now_ms;

/// The status line of the event subscription.
pub const NAME: &str = "docker events";

/// The container actions Steward listens for.
pub const ACTIONS: [&str; 9] = [
    "start",
    "die",
    "oom",
    "restart",
    "health_status",
    "stop",
    "destroy",
    "pause",
    "unpause",
];

/// What one engine event means to Steward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineEvent {
    pub id: String,
    pub name: String,
    pub kind: EngineEventKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineEventKind {
    /// The kernel killed the container for its memory limit.
    Oom,
    /// The main process exited (with its code, if Docker said).
    Died(Option<i64>),
    /// Any other change of state or health: the collector looks again.
    Changed(String),
}

impl EngineEvent {
    /// The record to keep in the container's history, for the events that are history.
    pub fn record(&self) -> Option<ContainerEventRecord> {
        let detail = match &self.kind {
            EngineEventKind::Oom => "OOM-killed: the kernel ended it at its memory limit".into(),
            EngineEventKind::Died(Some(code)) => format!("exited with code {code}"),
            EngineEventKind::Died(None) => "exited".into(),
            EngineEventKind::Changed(_) => return None,
        };
        Some(ContainerEventRecord {
            id: self.id.clone(),
            name: self.name.clone(),
            kind: match self.kind {
                EngineEventKind::Oom => ContainerEventKind::Oom,
                _ => ContainerEventKind::Lifecycle,
            },
            detail: Some(detail),
        })
    }
}

/// Reads one message of the event stream (pure). Non-container events and actions Steward does
/// not follow (exec, attach, …) are `None`.
pub fn parse(message: &EventMessage) -> Option<EngineEvent> {
    let is_container = message
        .typ
        .as_ref()
        .is_some_and(|t| t.to_string() == "container");
    if !is_container {
        return None;
    }
    let action = message.action.as_deref()?;
    // Health changes read "health_status: unhealthy".
    let verb = action.split(':').next().unwrap_or(action).trim();
    if !ACTIONS.contains(&verb) {
        return None;
    }
    let actor = message.actor.as_ref()?;
    let id = actor.id.clone()?;
    let attributes = actor.attributes.as_ref();
    let attr = |k: &str| attributes.and_then(|a| a.get(k)).cloned();
    let name = attr("name").unwrap_or_else(|| id.chars().take(12).collect());
    let kind = match verb {
        "oom" => EngineEventKind::Oom,
        "die" => EngineEventKind::Died(attr("exitCode").and_then(|c| c.parse().ok())),
        _ => EngineEventKind::Changed(action.to_string()),
    };
    Some(EngineEvent { id, name, kind })
}

/// Backoff between reconnections: doubles from 1 s to 30 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs((1u64 << failures.min(5)).min(30))
}

/// Subscribes to the engine's events until cancelled: records OOM kills and exits, wakes the
/// collector on every change, and publishes its own status on the bus.
pub async fn run(
    handle: Arc<DockerHandle>,
    wake: Arc<Notify>,
    audit: AuditLog,
    bus: Arc<Bus>,
    cancel: CancellationToken,
) {
    let mut status = CollectorStatus::starting(NAME);
    let publish = |status: &CollectorStatus| {
        bus.publish(Event::Status {
            host: local_host(),
            status: status.clone(),
        })
    };
    let mut failures = 0u32;
    loop {
        status.rounds_total += 1;
        status.last_attempt_ms = Some(now_ms());
        let stream = match handle.get().await {
            Ok(client) => Ok(client.events(&ACTIONS)),
            Err(e) => Err(e.to_string()),
        };
        let why = match stream {
            Ok(mut stream) => {
                status.state = CollectorState::Ok;
                status.message = None;
                status.last_success_ms = Some(now_ms());
                publish(&status);
                // The subscription may have missed changes while it was down.
                wake.notify_one();
                failures = 0;
                loop {
                    let next = tokio::select! {
                        _ = cancel.cancelled() => return,
                        next = stream.next() => next,
                    };
                    match next {
                        Some(Ok(message)) => {
                            let Some(event) = parse(&message) else {
                                continue;
                            };
                            wake.notify_one();
                            if let Some(record) = event.record() {
                                if event.kind == EngineEventKind::Oom {
                                    tracing::warn!(container = %event.name, "OOM kill");
                                }
                                audit
                                    .container_events_batch(std::slice::from_ref(&record))
                                    .await;
                                bus.publish(Event::ContainerEvents {
                                    host: local_host(),
                                    events: Arc::new(vec![record]),
                                });
                            }
                        }
                        Some(Err(e)) => break e.to_string(),
                        None => break "the engine closed the event stream".to_string(),
                    }
                }
            }
            Err(e) => e,
        };
        failures += 1;
        status.state = CollectorState::Error;
        status.errors_total += 1;
        let wait = backoff(failures);
        status.message = Some(format!("{why}; reconnecting in {} s", wait.as_secs()));
        publish(&status);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The filter for the subscription: container events with these actions.
pub fn filters(actions: &[&str]) -> HashMap<String, Vec<String>> {
    HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        (
            "event".to_string(),
            actions.iter().map(|a| a.to_string()).collect(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages as the engine sends them (Docker's API reference, `/events`).
    fn message(json: serde_json::Value) -> EventMessage {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn oom_die_and_health_events_are_read() {
        let oom = message(serde_json::json!({
            "Type": "container", "Action": "oom",
            "Actor": { "ID": "abc123", "Attributes": { "name": "hog", "image": "x" } },
            "time": 1, "timeNano": 1_000_000_000
        }));
        let e = parse(&oom).unwrap();
        assert_eq!((e.name.as_str(), &e.kind), ("hog", &EngineEventKind::Oom));
        assert_eq!(e.record().unwrap().kind, ContainerEventKind::Oom);

        let die = message(serde_json::json!({
            "Type": "container", "Action": "die",
            "Actor": { "ID": "abc123", "Attributes": { "name": "hog", "exitCode": "137" } }
        }));
        let e = parse(&die).unwrap();
        assert_eq!(e.kind, EngineEventKind::Died(Some(137)));
        assert_eq!(
            e.record().unwrap().detail.as_deref(),
            Some("exited with code 137")
        );

        let health = message(serde_json::json!({
            "Type": "container", "Action": "health_status: unhealthy",
            "Actor": { "ID": "abc123", "Attributes": { "name": "web" } }
        }));
        let e = parse(&health).unwrap();
        assert!(matches!(e.kind, EngineEventKind::Changed(_)));
        assert!(
            e.record().is_none(),
            "health transitions are recorded by the collector"
        );
    }

    #[test]
    fn other_events_are_ignored() {
        for json in [
            serde_json::json!({ "Type": "network", "Action": "connect", "Actor": { "ID": "n" } }),
            serde_json::json!({ "Type": "container", "Action": "exec_start: sh", "Actor": { "ID": "c" } }),
            serde_json::json!({ "Type": "container", "Action": "start" }),
        ] {
            assert_eq!(parse(&message(json.clone())), None, "{json}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_half_a_minute() {
        let waits: Vec<u64> = (1..8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 30, 30, 30]);
    }
}
