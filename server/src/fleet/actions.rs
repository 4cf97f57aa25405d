//! Fleet actions on the hub: an admin's confirmation fixes, per host, the containers to restart
//! (from the host's latest heartbeat); confirmed, each host gets an action that waits for its
//! next heartbeat, travels in the answer, and is settled by the agent's reports in the
//! heartbeats after it (the rules are in [`app::fleet::action`]). State changes are written in
//! the same transaction as the heartbeat that brought them, so an acked report is never lost.

use std::collections::{BTreeMap, HashMap};

use app::fleet::action::{
    plan_host, ActionBatch, ActionKind, ActionOrder, ActionState, Candidate, FleetAction,
    FleetPlan, PlannedHost, SkippedHost, PLAN_TTL_MS,
};
use app::fleet::{AgentStatus, Badge};

use super::store::{FleetError, RECENT_ACTIONS};
use super::{Fleet, HostEntry, Pending};
use crate::auth::password::random_token;
use crate::store::audit::{Action, Entry, Outcome};

/// Most confirmations waiting at once (each lives 5 minutes); past it planning is refused.
const MAX_PLANS: usize = 1024;

/// A confirmation waiting to be used.
pub struct StoredPlan {
    user: String,
    plan: FleetPlan,
}

/// What a fleet action is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanTarget {
    Host(String),
    Group(String),
}

#[derive(Debug, thiserror::Error)]
pub enum FleetActionError {
    #[error("no host {0}")]
    NoHost(String),
    #[error("no group {0}")]
    NoGroup(String),
    #[error("nothing to restart: {0}")]
    NothingToDo(String),
    #[error("this confirmation is stale (expired, already used or unknown): reopen the dialog to see the current list")]
    StalePlan,
    #[error("the confirmed hosts differ from the list this confirmation was issued for")]
    PlanMismatch,
    #[error("too many confirmations are open ({MAX_PLANS}); use or let some expire first")]
    TooManyPlans,
    #[error(transparent)]
    Store(#[from] FleetError),
}

impl Fleet {
    /// Fixes the list for a restart of the unhealthy containers of one host or a group: who
    /// takes part with which containers, who is left out and why.
    pub fn plan_restart(
        &self,
        user: &str,
        target: PlanTarget,
        now: i64,
    ) -> Result<FleetPlan, FleetActionError> {
        let kind = ActionKind::RestartUnhealthy;
        let (planned, skipped) = {
            let hosts = self.lock();
            let members: Vec<&HostEntry> = match &target {
                PlanTarget::Host(name) => vec![hosts
                    .get(name)
                    .ok_or_else(|| FleetActionError::NoHost(name.clone()))?],
                PlanTarget::Group(g) => {
                    if !self.lock_groups().contains(g) {
                        return Err(FleetActionError::NoGroup(g.clone()));
                    }
                    hosts
                        .values()
                        .filter(|h| h.row.group.as_ref() == Some(g))
                        .collect()
                }
            };
            let mut planned = Vec::new();
            let mut skipped = Vec::new();
            for h in members {
                let candidate = Candidate {
                    host: &h.row.host,
                    badge: Badge::of(h.row.last_heartbeat_ms, now),
                    unhealthy: &h.unhealthy,
                    allowed: &h.allowed,
                    open: h.actions.iter().any(|a| !a.state_at(now).finished()),
                };
                match plan_host(&candidate, kind) {
                    Ok(p) => planned.push(p),
                    Err(reason) => skipped.push(SkippedHost {
                        host: h.row.host.clone(),
                        reason,
                    }),
                }
            }
            (planned, skipped)
        };
        let name = match &target {
            PlanTarget::Host(h) => h.clone(),
            PlanTarget::Group(g) => format!("group {g}"),
        };
        if planned.is_empty() {
            let why = match skipped.as_slice() {
                [] => format!("{name} has no hosts"),
                [one] => format!("{}: {}", one.host, one.reason),
                many => format!("none of the {} hosts of {name} can take it", many.len()),
            };
            return Err(FleetActionError::NothingToDo(why));
        }
        let plan = FleetPlan {
            token: random_token(),
            kind,
            target: name,
            hosts: planned,
            skipped,
            expires_ms: now + PLAN_TTL_MS,
        };
        let mut plans = self.lock_plans();
        plans.retain(|_, p| p.plan.expires_ms > now);
        if plans.len() >= MAX_PLANS {
            return Err(FleetActionError::TooManyPlans);
        }
        plans.insert(
            plan.token.clone(),
            StoredPlan {
                user: user.to_string(),
                plan: plan.clone(),
            },
        );
        Ok(plan)
    }

    /// Uses a confirmation: one action per host of its list (`hosts` must repeat that list),
    /// stored, audited, and queued for each host's next heartbeat.
    pub async fn confirm_restart(
        &self,
        user: &str,
        token: &str,
        hosts: &[String],
        now: i64,
    ) -> Result<ActionBatch, FleetActionError> {
        // A list that differs from the plan's leaves the plan usable (the page may be stale);
        // a plan is used up only by the request that runs it.
        let stored = {
            let mut plans = self.lock_plans();
            match plans.get(token) {
                Some(p) if p.user == user && p.plan.expires_ms > now => {
                    let planned = p.plan.hosts.iter().map(|h| h.host.as_str());
                    if !planned.eq(hosts.iter().map(String::as_str)) {
                        return Err(FleetActionError::PlanMismatch);
                    }
                }
                _ => return Err(FleetActionError::StalePlan),
            }
            plans.remove(token).ok_or(FleetActionError::StalePlan)?
        };
        let batch = random_token()[..16].to_string();
        let actions: Vec<FleetAction> = stored
            .plan
            .hosts
            .iter()
            .map(|PlannedHost { host, containers }| FleetAction {
                id: random_token()[..16].to_string(),
                batch: batch.clone(),
                host: host.clone(),
                kind: stored.plan.kind,
                containers: containers.clone(),
                requested_by: user.to_string(),
                requested_ms: now,
                state: ActionState::Queued,
                delivered_ms: None,
                updated_ms: now,
                finished_ms: None,
                results: Vec::new(),
                message: None,
            })
            .collect();
        let stored_ok = self.store.insert_actions(&actions).await;
        for a in &actions {
            let detail = format!("{}: {}", a.kind.key(), a.containers.join(", "));
            let error = stored_ok.as_ref().err().map(|e| e.to_string());
            self.audit
                .record(Entry {
                    actor: user,
                    action: Action::FleetRestart,
                    target: &a.host,
                    outcome: if error.is_none() {
                        Outcome::Ok
                    } else {
                        Outcome::Failed
                    },
                    detail: Some(error.as_deref().unwrap_or(&detail)),
                })
                .await;
        }
        stored_ok?;
        {
            let mut hosts = self.lock();
            for a in &actions {
                if let Some(h) = hosts.get_mut(&a.host) {
                    h.actions.push_front(a.clone());
                    h.actions.truncate(RECENT_ACTIONS as usize);
                }
            }
        }
        self.changed();
        Ok(ActionBatch {
            batch,
            actions,
            finished: false,
        })
    }

    /// One confirmation's actions as the hub holds them (`None`: not among the hosts' recent
    /// actions; the database may still have it).
    pub fn batch(&self, batch: &str, now: i64) -> Option<ActionBatch> {
        let hosts = self.lock();
        let actions: Vec<FleetAction> = hosts
            .values()
            .flat_map(|h| h.actions.iter())
            .filter(|a| a.batch == batch)
            .map(|a| shown(a, now))
            .collect();
        (!actions.is_empty()).then(|| finish_batch(batch.to_string(), actions))
    }

    /// The same, looking only at the batch's own hosts (its stream knows them from the first
    /// answer, so a change of a 10,000-host fleet does not walk every host).
    pub fn batch_of(&self, batch: &str, members: &[String], now: i64) -> Option<ActionBatch> {
        let hosts = self.lock();
        let actions: Vec<FleetAction> = members
            .iter()
            .filter_map(|m| hosts.get(m))
            .flat_map(|h| h.actions.iter())
            .filter(|a| a.batch == batch)
            .map(|a| shown(a, now))
            .collect();
        (!actions.is_empty()).then(|| finish_batch(batch.to_string(), actions))
    }

    /// For one commit: the actions whose state the batch's heartbeats change (reports, first
    /// deliveries), and each heartbeat's orders. Nothing changes in memory until the commit
    /// succeeds ([`keep`]).
    pub(super) fn action_changes(
        &self,
        batch: &[Pending],
        now: i64,
    ) -> (Vec<FleetAction>, Vec<Vec<ActionOrder>>) {
        let hosts = self.lock();
        let mut changed: BTreeMap<String, FleetAction> = BTreeMap::new();
        let mut orders = Vec::with_capacity(batch.len());
        for p in batch {
            let Some(h) = hosts.get(&p.host) else {
                orders.push(Vec::new());
                continue;
            };
            if h.actions.is_empty() {
                orders.push(Vec::new());
                continue;
            }
            let current = |changed: &BTreeMap<String, FleetAction>, a: &FleetAction| {
                changed.get(&a.id).cloned().unwrap_or_else(|| a.clone())
            };
            for report in &p.accepted.news.reports {
                // Only this host's own actions: an agent cannot report on another host's.
                match h.actions.iter().find(|a| a.id == report.id) {
                    Some(a) => {
                        let mut a = current(&changed, a);
                        if a.apply(report, now) {
                            changed.insert(a.id.clone(), a);
                        }
                    }
                    // Older than the host's recent actions, or another host's: not applied.
                    None => tracing::debug!(
                        "fleet: {} reported on action {}, not one of its recent actions",
                        p.host,
                        report.id
                    ),
                }
            }
            let mut mine = Vec::new();
            // A stopping agent would not get to run it; the next start's first answer brings it.
            if p.accepted.status != AgentStatus::Draining {
                for a in &h.actions {
                    let mut a = current(&changed, a);
                    if a.to_deliver(now) {
                        mine.push(ActionOrder {
                            id: a.id.clone(),
                            kind: a.kind,
                            containers: a.containers.clone(),
                        });
                        if a.state == ActionState::Queued {
                            a.state = ActionState::Delivered;
                            a.delivered_ms = Some(now);
                            changed.insert(a.id.clone(), a);
                        }
                    }
                }
            }
            orders.push(mine);
        }
        (changed.into_values().collect(), orders)
    }

    /// Audits the actions that just ended, as their agents reported them.
    pub(super) fn audit_finished(&self, changed: &[FleetAction]) {
        for a in changed.iter().filter(|a| a.state.finished()) {
            let audit = self.audit.clone();
            let a = a.clone();
            tokio::spawn(async move {
                let detail = summary(&a);
                audit
                    .record(Entry {
                        actor: &format!("agent:{}", a.host),
                        action: Action::FleetRestartResult,
                        target: &a.host,
                        outcome: match a.state {
                            ActionState::Done => Outcome::Ok,
                            ActionState::Refused => Outcome::Refused,
                            _ => Outcome::Failed,
                        },
                        detail: Some(&detail),
                    })
                    .await;
            });
        }
    }

    fn lock_plans(&self) -> std::sync::MutexGuard<'_, HashMap<String, StoredPlan>> {
        self.plans.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Puts committed action changes into the hosts' memory.
pub(super) fn keep(hosts: &mut BTreeMap<String, HostEntry>, changed: &[FleetAction]) {
    for a in changed {
        if let Some(slot) = hosts
            .get_mut(&a.host)
            .and_then(|h| h.actions.iter_mut().find(|x| x.id == a.id))
        {
            *slot = a.clone();
        }
    }
}

/// Takes in an action another replica stored: a newer report replaces the one in memory, an
/// action not yet known goes in its place by request time (newest first, at most
/// [`RECENT_ACTIONS`]). True when the list changed.
pub(super) fn merge(list: &mut std::collections::VecDeque<FleetAction>, a: FleetAction) -> bool {
    if let Some(known) = list.iter_mut().find(|x| x.id == a.id) {
        let newer =
            a.updated_ms > known.updated_ms || (a.state.finished() && !known.state.finished());
        if newer {
            *known = a;
        }
        return newer;
    }
    let at = list
        .iter()
        .position(|x| x.requested_ms < a.requested_ms)
        .unwrap_or(list.len());
    if at >= RECENT_ACTIONS as usize {
        // Older than every action kept: it would be cut at once.
        return false;
    }
    list.insert(at, a);
    list.truncate(RECENT_ACTIONS as usize);
    true
}

/// An action as shown at `now` (an unfinished one without news for the TTL shows as expired).
pub(super) fn shown(a: &FleetAction, now: i64) -> FleetAction {
    FleetAction {
        state: a.state_at(now),
        ..a.clone()
    }
}

/// A batch's answer; `finished` once every action has ended.
pub fn finish_batch(batch: String, actions: Vec<FleetAction>) -> ActionBatch {
    ActionBatch {
        finished: actions.iter().all(|a| a.state.finished()),
        batch,
        actions,
    }
}

/// One line for the audit log: the state and each container's outcome.
fn summary(a: &FleetAction) -> String {
    let mut s = a.state.key().to_string();
    if let Some(m) = &a.message {
        s.push_str(": ");
        s.push_str(m);
    }
    for r in &a.results {
        let outcome = match r.outcome {
            app::fleet::action::ContainerOutcome::Restarted => "restarted",
            app::fleet::action::ContainerOutcome::Failed => "failed",
        };
        s.push_str(&format!("; {} {outcome}", r.name));
        if let Some(m) = &r.message {
            s.push_str(&format!(" ({m})"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::fleet::action::{ActionKind, ActionState};
    use std::collections::VecDeque;

    fn action(id: &str, requested_ms: i64, updated_ms: i64, state: ActionState) -> FleetAction {
        FleetAction {
            id: id.into(),
            batch: "b".into(),
            host: "h".into(),
            kind: ActionKind::RestartUnhealthy,
            containers: Vec::new(),
            requested_by: "admin".into(),
            requested_ms,
            state,
            delivered_ms: None,
            updated_ms,
            finished_ms: None,
            results: Vec::new(),
            message: None,
        }
    }

    #[test]
    fn another_replicas_actions_merge_by_news_and_request_time() {
        let mut list = VecDeque::from([
            action("c", 30, 30, ActionState::Queued),
            action("a", 10, 10, ActionState::Running),
        ]);
        assert!(merge(&mut list, action("b", 20, 20, ActionState::Queued)));
        let ids: Vec<&str> = list.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "a"], "in its place, newest first");
        merge(&mut list, action("a", 10, 50, ActionState::Done));
        assert_eq!(list[2].state, ActionState::Done, "newer news wins");
        assert!(!merge(&mut list, action("a", 10, 5, ActionState::Running)));
        assert_eq!(list[2].state, ActionState::Done, "older news is ignored");
        for i in 0..20 {
            merge(
                &mut list,
                action(&format!("n{i}"), 100 + i, 100, ActionState::Queued),
            );
        }
        assert_eq!(list.len(), RECENT_ACTIONS as usize);
        assert_eq!(list[0].id, "n19");
        assert!(
            !merge(&mut list, action("old", 1, 1, ActionState::Queued)),
            "older than all kept: not taken in"
        );
    }
}
