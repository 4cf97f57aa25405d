//! The agent's side of fleet actions: runs the orders that come in heartbeat answers, each id
//! once, only the kinds `agent.allow_actions` names, and keeps a report of each for the next
//! heartbeats (progress while it runs, then the result).
//!
//! The ids already run are kept in `actions-seen` beside the buffer, so an order the hub sends
//! again (it does until a report arrives) or an agent restart never runs an action twice. A
//! finished report leaves the list once a heartbeat carrying it is in the disk buffer: from
//! there the buffer's own rules deliver it.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::fleet::action::{
    ActionKind, ActionOrder, ActionReport, ActionState, ContainerOutcome, ContainerResult,
};
use tokio::sync::mpsc;

use crate::docker::DockerClient;

/// Ids remembered as run.
const KEEP_SEEN: usize = 256;
/// Reports kept while the hub cannot be reached (older finished ones are dropped first).
const KEEP_REPORTS: usize = 64;

/// The reports the next heartbeat carries.
#[derive(Clone, Default)]
pub struct Reports(Arc<Mutex<Vec<ActionReport>>>);

impl Reports {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ActionReport>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the next heartbeat says.
    pub fn snapshot(&self) -> Vec<ActionReport> {
        self.lock().clone()
    }

    /// Forgets the finished reports a buffered heartbeat carries (`sent`); a report that
    /// changed since stays.
    pub fn buffered(&self, sent: &[ActionReport]) {
        self.lock()
            .retain(|r| !(r.state.finished() && sent.contains(r)));
    }

    fn set(&self, report: ActionReport) {
        let mut list = self.lock();
        match list.iter_mut().find(|r| r.id == report.id) {
            Some(slot) => *slot = report,
            None => list.push(report),
        }
        while list.len() > KEEP_REPORTS {
            let Some(i) = list.iter().position(|r| r.state.finished()) else {
                break;
            };
            list.remove(i);
        }
    }
}

/// How the runner reaches Docker and what it may do.
pub struct RunnerConfig {
    pub allowed: Vec<ActionKind>,
    pub docker_enabled: bool,
    pub docker_host: String,
    pub call_timeout: Duration,
    pub stop_timeout: Duration,
    /// The `actions-seen` file.
    pub seen_file: PathBuf,
}

/// Runs orders from `orders` until the channel closes.
pub async fn run(config: RunnerConfig, reports: Reports, mut orders: mpsc::Receiver<ActionOrder>) {
    let mut seen = load_seen(&config.seen_file);
    while let Some(order) = orders.recv().await {
        if seen.contains(&order.id) {
            continue;
        }
        seen.push_back(order.id.clone());
        while seen.len() > KEEP_SEEN {
            seen.pop_front();
        }
        if let Err(e) = save_seen(&config.seen_file, &seen) {
            // Running it is still right; only a restart before its report could repeat it.
            tracing::warn!(
                "agent: cannot record action {} as run in {}: {e}",
                order.id,
                config.seen_file.display()
            );
        }
        execute(&config, &reports, order).await;
    }
}

async fn execute(config: &RunnerConfig, reports: &Reports, order: ActionOrder) {
    let refuse = |message: String| {
        tracing::warn!("agent: action {} refused: {message}", order.id);
        reports.set(ActionReport {
            id: order.id.clone(),
            state: ActionState::Refused,
            results: Vec::new(),
            message: Some(message),
        });
    };
    if !config.allowed.contains(&order.kind) {
        return refuse(format!(
            "this agent's config does not allow {} (agent.allow_actions)",
            order.kind.key()
        ));
    }
    if !config.docker_enabled {
        return refuse("Docker is off on this host (docker.enabled = false)".into());
    }
    tracing::info!(
        "agent: action {}: restarting {}",
        order.id,
        order.containers.join(", ")
    );
    let mut report = ActionReport {
        id: order.id.clone(),
        state: ActionState::Running,
        results: Vec::new(),
        message: None,
    };
    reports.set(report.clone());
    let client = DockerClient::connect(&config.docker_host, config.call_timeout).await;
    for name in &order.containers {
        let outcome = match &client {
            Ok(c) => c
                .restart(name, config.stop_timeout)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        report.results.push(match outcome {
            Ok(()) => ContainerResult {
                name: name.clone(),
                outcome: ContainerOutcome::Restarted,
                message: None,
            },
            Err(e) => {
                tracing::warn!("agent: action {}: {name}: {e}", order.id);
                ContainerResult {
                    name: name.clone(),
                    outcome: ContainerOutcome::Failed,
                    message: Some(e),
                }
            }
        });
        reports.set(report.clone());
    }
    report.state = ActionReport::finished_state(&report.results);
    tracing::info!("agent: action {} {}", order.id, report.state.key());
    reports.set(report);
}

fn load_seen(path: &PathBuf) -> VecDeque<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Rewrites the file through a temporary one, so a crash leaves the old list or the new.
fn save_seen(path: &PathBuf, seen: &VecDeque<String>) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut text = String::new();
    for id in seen {
        text.push_str(id);
        text.push('\n');
    }
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str, state: ActionState) -> ActionReport {
        ActionReport {
            id: id.into(),
            state,
            results: vec![],
            message: None,
        }
    }

    #[test]
    fn a_finished_report_leaves_once_buffered_and_a_running_one_stays() {
        let r = Reports::default();
        r.set(report("a", ActionState::Running));
        r.set(report("b", ActionState::Done));
        let sent = r.snapshot();
        r.buffered(&sent);
        assert_eq!(r.snapshot(), vec![report("a", ActionState::Running)]);
        r.set(report("a", ActionState::Failed));
        r.buffered(&sent);
        assert_eq!(
            r.snapshot().len(),
            1,
            "changed since the snapshot: it stays for the next heartbeat"
        );
        let sent = r.snapshot();
        r.buffered(&sent);
        assert!(r.snapshot().is_empty());
    }

    #[test]
    fn too_many_reports_drop_the_oldest_finished_first() {
        let r = Reports::default();
        r.set(report("run", ActionState::Running));
        for i in 0..KEEP_REPORTS + 5 {
            r.set(report(&format!("d{i}"), ActionState::Done));
        }
        let list = r.snapshot();
        assert_eq!(list.len(), KEEP_REPORTS);
        assert_eq!(list[0].id, "run", "a running report is never dropped");
        // 69 finished ones for 63 places: d0…d5 went.
        assert_eq!(list[1].id, "d6");
    }

    #[tokio::test]
    async fn an_order_runs_once_and_a_kind_not_allowed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let seen_file = dir.path().join("actions-seen");
        let config = RunnerConfig {
            allowed: vec![],
            docker_enabled: true,
            docker_host: "unix:///nonexistent.sock".into(),
            call_timeout: Duration::from_secs(1),
            stop_timeout: Duration::from_secs(1),
            seen_file: seen_file.clone(),
        };
        let reports = Reports::default();
        let (tx, rx) = mpsc::channel(4);
        let order = ActionOrder {
            id: "x1".into(),
            kind: ActionKind::RestartUnhealthy,
            containers: vec!["api".into()],
        };
        tx.send(order.clone()).await.unwrap();
        tx.send(order).await.unwrap();
        drop(tx);
        run(config, reports.clone(), rx).await;
        let list = reports.snapshot();
        assert_eq!(list.len(), 1, "the repeated order did not run again");
        assert_eq!(list[0].state, ActionState::Refused);
        assert!(list[0]
            .message
            .as_deref()
            .unwrap()
            .contains("agent.allow_actions"));
        assert_eq!(std::fs::read_to_string(&seen_file).unwrap(), "x1\n");
        assert_eq!(load_seen(&seen_file), ["x1"], "kept for the next start");
    }
}
