//! Fleet actions: what an admin asks of a host's agent, how it travels and how it ends (pure).
//!
//! The hub never connects into agents. An admin's confirmed action waits on the hub (`queued`);
//! the answer to the host's next heartbeat carries it (`delivered`, sent again in every answer
//! until the agent reports, the agent running each id once); the agent runs it only if its own
//! `agent.allow_actions` names the kind, and reports progress and the result in its following
//! heartbeats (`running`, then `done`, `failed` or `refused`). An action nobody reported on
//! for [`ACTION_TTL_MS`] is `expired`: the agent was gone, or lost the order.

use serde::{Deserialize, Serialize};

use crate::fleet::Badge;

/// How long an action may go without news before it counts as expired.
pub const ACTION_TTL_MS: i64 = 10 * 60_000;
/// How long a confirmation (the fixed list) stays valid.
pub const PLAN_TTL_MS: i64 = 5 * 60_000;
/// Most unhealthy container names a heartbeat carries.
pub const MAX_UNHEALTHY: usize = 256;
/// Most action reports one heartbeat carries.
pub const MAX_REPORTS: usize = 64;
/// Most containers one action names.
pub const MAX_ACTION_CONTAINERS: usize = 256;

/// What an agent can be asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Restart the listed containers (the host's unhealthy ones when the admin confirmed).
    RestartUnhealthy,
}

impl ActionKind {
    pub fn key(self) -> &'static str {
        match self {
            ActionKind::RestartUnhealthy => "restart_unhealthy",
        }
    }
}

/// An order in the heartbeat answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionOrder {
    pub id: String,
    pub kind: ActionKind,
    /// The containers, fixed by the hub when the admin confirmed.
    pub containers: Vec<String>,
}

/// Where an action is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    /// Waiting for the host's next heartbeat.
    Queued,
    /// In a heartbeat answer; the agent has not reported yet.
    Delivered,
    /// The agent reported that it runs it.
    Running,
    /// Every container restarted.
    Done,
    /// At least one container could not be restarted.
    Failed,
    /// The agent's config does not allow the action.
    Refused,
    /// No news for [`ACTION_TTL_MS`].
    Expired,
}

impl ActionState {
    pub fn key(self) -> &'static str {
        match self {
            ActionState::Queued => "queued",
            ActionState::Delivered => "delivered",
            ActionState::Running => "running",
            ActionState::Done => "done",
            ActionState::Failed => "failed",
            ActionState::Refused => "refused",
            ActionState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ActionState::Queued,
            ActionState::Delivered,
            ActionState::Running,
            ActionState::Done,
            ActionState::Failed,
            ActionState::Refused,
            ActionState::Expired,
        ]
        .into_iter()
        .find(|k| k.key() == s)
    }

    pub fn finished(self) -> bool {
        matches!(
            self,
            ActionState::Done | ActionState::Failed | ActionState::Refused | ActionState::Expired
        )
    }
}

/// What became of one container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerOutcome {
    Restarted,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerResult {
    pub name: String,
    pub outcome: ContainerOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What the agent says about an action (in a heartbeat).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionReport {
    pub id: String,
    /// `running`, `done`, `failed` or `refused` (the hub's own states are refused here).
    pub state: ActionState,
    /// The containers handled so far, in order.
    #[serde(default)]
    pub results: Vec<ContainerResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ActionReport {
    /// The state a finished run ends in, from its results.
    pub fn finished_state(results: &[ContainerResult]) -> ActionState {
        if results
            .iter()
            .all(|r| r.outcome == ContainerOutcome::Restarted)
        {
            ActionState::Done
        } else {
            ActionState::Failed
        }
    }
}

/// One action as the hub keeps and shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetAction {
    pub id: String,
    /// The confirmation it came from (one per host of a group).
    pub batch: String,
    pub host: String,
    pub kind: ActionKind,
    pub containers: Vec<String>,
    pub requested_by: String,
    pub requested_ms: i64,
    pub state: ActionState,
    pub delivered_ms: Option<i64>,
    /// The last report's time (or the request's, before any).
    pub updated_ms: i64,
    pub finished_ms: Option<i64>,
    pub results: Vec<ContainerResult>,
    pub message: Option<String>,
}

impl FleetAction {
    /// The state to show at `now`: an unfinished action without news for the TTL is expired.
    pub fn state_at(&self, now: i64) -> ActionState {
        if !self.state.finished() && now - self.updated_ms > ACTION_TTL_MS {
            ActionState::Expired
        } else {
            self.state
        }
    }

    /// Whether the next heartbeat answer carries it.
    pub fn to_deliver(&self, now: i64) -> bool {
        matches!(
            self.state_at(now),
            ActionState::Queued | ActionState::Delivered
        )
    }

    /// Applies an agent's report; `false` when the report is refused (a hub-only state, or
    /// news about an action that already ended).
    pub fn apply(&mut self, report: &ActionReport, now: i64) -> bool {
        if self.state.finished()
            || matches!(
                report.state,
                ActionState::Queued | ActionState::Delivered | ActionState::Expired
            )
        {
            return false;
        }
        self.state = report.state;
        self.results = report.results.clone();
        self.message = report.message.clone();
        self.updated_ms = now;
        if report.state.finished() {
            self.finished_ms = Some(now);
        }
        true
    }
}

/// One host of a confirmation: the containers the action will name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedHost {
    pub host: String,
    pub containers: Vec<String>,
}

/// A host the confirmation leaves out, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedHost {
    pub host: String,
    pub reason: String,
}

/// `POST /api/v1/fleet/actions/plan`: the fixed list to confirm, with its token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetPlan {
    pub token: String,
    pub kind: ActionKind,
    /// The host or group asked for.
    pub target: String,
    pub hosts: Vec<PlannedHost>,
    pub skipped: Vec<SkippedHost>,
    pub expires_ms: i64,
}

/// `GET /api/v1/fleet/actions/{batch}`: the actions one confirmation started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionBatch {
    pub batch: String,
    pub actions: Vec<FleetAction>,
    /// Every action has ended (the stream then stops).
    pub finished: bool,
}

/// What the hub knows of a host when planning.
pub struct Candidate<'a> {
    pub host: &'a str,
    pub badge: Badge,
    pub unhealthy: &'a [String],
    pub allowed: &'a [ActionKind],
    /// An unfinished action of the host, if any.
    pub open: bool,
}

/// Whether a host takes part in a restart of its unhealthy containers, or why not.
pub fn plan_host(c: &Candidate<'_>, kind: ActionKind) -> Result<PlannedHost, String> {
    if c.badge != Badge::Live {
        return Err(format!(
            "not live ({}): its agent would not receive the action",
            c.badge.as_str()
        ));
    }
    if !c.allowed.contains(&kind) {
        return Err(format!(
            "its agent does not allow {} (agent.allow_actions)",
            kind.key()
        ));
    }
    if c.open {
        return Err("an earlier action has not finished".into());
    }
    if c.unhealthy.is_empty() {
        return Err("no unhealthy container".into());
    }
    Ok(PlannedHost {
        host: c.host.to_string(),
        containers: c.unhealthy.to_vec(),
    })
}

/// A container name as Docker allows it (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 bytes).
pub fn valid_container_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action() -> FleetAction {
        FleetAction {
            id: "a1".into(),
            batch: "b1".into(),
            host: "web-1".into(),
            kind: ActionKind::RestartUnhealthy,
            containers: vec!["api".into()],
            requested_by: "admin".into(),
            requested_ms: 1_000,
            state: ActionState::Queued,
            delivered_ms: None,
            updated_ms: 1_000,
            finished_ms: None,
            results: vec![],
            message: None,
        }
    }

    fn report(state: ActionState) -> ActionReport {
        ActionReport {
            id: "a1".into(),
            state,
            results: vec![ContainerResult {
                name: "api".into(),
                outcome: ContainerOutcome::Restarted,
                message: None,
            }],
            message: None,
        }
    }

    #[test]
    fn an_action_is_delivered_until_the_agent_reports_and_expires_without_news() {
        let mut a = action();
        assert!(a.to_deliver(2_000));
        a.state = ActionState::Delivered;
        assert!(a.to_deliver(2_000), "sent again until the agent reports");
        assert!(a.apply(&report(ActionState::Running), 3_000));
        assert!(!a.to_deliver(3_000), "a running action is not sent again");
        assert_eq!(a.state_at(3_000 + ACTION_TTL_MS), ActionState::Running);
        assert_eq!(
            a.state_at(3_001 + ACTION_TTL_MS),
            ActionState::Expired,
            "no news for the TTL"
        );
        let mut q = action();
        assert!(!q.to_deliver(1_001 + ACTION_TTL_MS), "expired: not sent");
        q.state = ActionState::Done;
        assert_eq!(
            q.state_at(i64::MAX / 2),
            ActionState::Done,
            "finished stays"
        );
    }

    #[test]
    fn reports_finish_an_action_once_and_cannot_claim_hub_states() {
        let mut a = action();
        assert!(!a.apply(&report(ActionState::Queued), 2_000));
        assert!(!a.apply(&report(ActionState::Expired), 2_000));
        assert_eq!(a.state, ActionState::Queued);
        assert!(a.apply(&report(ActionState::Done), 2_000));
        assert_eq!(a.finished_ms, Some(2_000));
        assert_eq!(a.results.len(), 1);
        assert!(
            !a.apply(&report(ActionState::Running), 3_000),
            "a replayed older report does not reopen it"
        );
        assert_eq!(a.state, ActionState::Done);
    }

    #[test]
    fn a_finished_run_is_done_only_when_every_container_restarted() {
        let ok = ContainerResult {
            name: "a".into(),
            outcome: ContainerOutcome::Restarted,
            message: None,
        };
        let bad = ContainerResult {
            name: "b".into(),
            outcome: ContainerOutcome::Failed,
            message: Some("no such container".into()),
        };
        assert_eq!(
            ActionReport::finished_state(std::slice::from_ref(&ok)),
            ActionState::Done
        );
        assert_eq!(
            ActionReport::finished_state(&[ok, bad]),
            ActionState::Failed
        );
    }

    #[test]
    fn planning_says_why_a_host_is_left_out() {
        let names = vec!["api".to_string()];
        let allowed = [ActionKind::RestartUnhealthy];
        let base = Candidate {
            host: "web-1",
            badge: Badge::Live,
            unhealthy: &names,
            allowed: &allowed,
            open: false,
        };
        let kind = ActionKind::RestartUnhealthy;
        assert_eq!(plan_host(&base, kind).unwrap().containers, names);
        let stale = Candidate {
            badge: Badge::Stale,
            ..base
        };
        assert!(plan_host(&stale, kind).unwrap_err().contains("not live"));
        let closed = Candidate {
            allowed: &[],
            ..base
        };
        assert!(plan_host(&closed, kind)
            .unwrap_err()
            .contains("agent.allow_actions"));
        let busy = Candidate { open: true, ..base };
        assert!(plan_host(&busy, kind).unwrap_err().contains("not finished"));
        let fine = Candidate {
            unhealthy: &[],
            ..base
        };
        assert_eq!(
            plan_host(&fine, kind).unwrap_err(),
            "no unhealthy container"
        );
    }

    #[test]
    fn container_names_follow_dockers_rule() {
        assert!(valid_container_name("api"));
        assert!(valid_container_name("web_1.blue-2"));
        assert!(!valid_container_name(""));
        assert!(!valid_container_name("-x"));
        assert!(!valid_container_name("a b"));
        assert!(!valid_container_name("/api"));
        assert!(!valid_container_name(&"a".repeat(129)));
    }
}
