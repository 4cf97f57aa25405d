//! Control actions on containers: a single restart, and the bulk "restart all unhealthy" whose
//! list is fixed server-side when the confirmation opens (a token names that list, once, for a
//! few minutes), run as a job whose per-container progress is streamed. Every outcome is audited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::containers::{
    ContainerEventKind, Health, JobEvent, JobPhase, PlannedRestart, RestartPlan,
};
use tokio::sync::broadcast;

use crate::auth::password::random_token;
use crate::docker::collector::DockerHandle;
use crate::docker::settle;
use crate::docker::DockerError;
use crate::hub::Hub;
use crate::platform::bus::{local_host, ActionOutcome, Bus, Event};
use crate::store::audit::{Action, AuditLog, Entry, Outcome};
use app::shared::clock::now_ms;

/// The most log lines one request reads (each cut at `convert::MAX_LOG_LINE` bytes, so one
/// request holds at most about 20 MB).
pub const MAX_LOG_TAIL: u32 = 5_000;

/// How long a bulk-restart confirmation stays valid.
pub const PLAN_TTL_MS: i64 = 5 * 60 * 1000;

/// Why an action was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("Docker monitoring is off (docker.enabled = false)")]
    DockerOff,
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("this confirmation is stale (expired, already used or unknown): reopen the dialog to see the current list")]
    StalePlan,
    #[error("the confirmed list differs from the list this confirmation was issued for")]
    PlanMismatch,
    #[error("nothing to restart: no container is unhealthy")]
    NothingToDo,
    #[error("no such job: {0}")]
    UnknownJob(String),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Docker(#[from] DockerError),
}

struct Plan {
    user: String,
    containers: Vec<PlannedRestart>,
    expires_ms: i64,
}

struct Job {
    events: Vec<JobEvent>,
    tx: broadcast::Sender<JobEvent>,
    done: bool,
}

/// Control actions and their jobs.
pub struct Actions {
    hub: Arc<Hub>,
    bus: Arc<Bus>,
    docker: Option<Arc<DockerHandle>>,
    audit: AuditLog,
    stop_timeout: Duration,
    /// How long a bulk restart follows each container until it is healthy again.
    settle_timeout: Duration,
    plans: Mutex<HashMap<String, Plan>>,
    jobs: Arc<Mutex<HashMap<String, Job>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Actions {
    pub fn new(
        hub: Arc<Hub>,
        bus: Arc<Bus>,
        docker: Option<Arc<DockerHandle>>,
        audit: AuditLog,
        stop_timeout: Duration,
        settle_timeout: Duration,
    ) -> Self {
        Self {
            hub,
            bus,
            docker,
            audit,
            stop_timeout,
            settle_timeout,
            plans: Mutex::new(HashMap::new()),
            jobs: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn find(&self, id_or_name: &str) -> Result<PlannedRestart, ActionError> {
        self.hub
            .container_list()
            .and_then(|list| {
                list.iter()
                    .find(|c| c.id == id_or_name || c.name == id_or_name)
                    .map(|c| PlannedRestart {
                        id: c.id.clone(),
                        name: c.name.clone(),
                    })
            })
            .ok_or_else(|| ActionError::NotFound(id_or_name.to_string()))
    }

    /// Restarts one container (by id or name) for `user`; audited either way.
    pub async fn restart(&self, user: &str, id_or_name: &str) -> Result<(), ActionError> {
        let docker = self.docker.as_ref().ok_or(ActionError::DockerOff)?;
        let target = match self.find(id_or_name) {
            Ok(t) => t,
            Err(e) => {
                self.audit
                    .record(Entry {
                        actor: user,
                        action: Action::Restart,
                        target: id_or_name,
                        outcome: Outcome::Refused,
                        detail: Some(&e.to_string()),
                    })
                    .await;
                return Err(e);
            }
        };
        let result = restart_recorded(
            docker,
            &self.audit,
            &self.bus,
            &target,
            user,
            Action::Restart,
            self.stop_timeout,
        )
        .await;
        result.map_err(Into::into)
    }

    /// Fixes the list of unhealthy containers for a bulk restart and returns it with its token.
    pub fn plan(&self, user: &str) -> Result<RestartPlan, ActionError> {
        if self.docker.is_none() {
            return Err(ActionError::DockerOff);
        }
        let containers: Vec<PlannedRestart> = self
            .hub
            .container_list()
            .map(|list| {
                list.iter()
                    .filter(|c| c.health == Health::Unhealthy)
                    .map(|c| PlannedRestart {
                        id: c.id.clone(),
                        name: c.name.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if containers.is_empty() {
            return Err(ActionError::NothingToDo);
        }
        // By name, as the panel lists them (Docker lists newest first).
        let mut containers = containers;
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        let now = now_ms();
        let token = random_token();
        let mut plans = lock(&self.plans);
        plans.retain(|_, p| p.expires_ms > now);
        plans.insert(
            token.clone(),
            Plan {
                user: user.to_string(),
                containers: containers.clone(),
                expires_ms: now + PLAN_TTL_MS,
            },
        );
        Ok(RestartPlan {
            token,
            containers,
            expires_ms: now + PLAN_TTL_MS,
        })
    }

    /// Runs a confirmed plan: only with its token (once, before it expires, by the user it was
    /// issued to) and only if the confirmed ids are exactly the planned ones. Returns the job id.
    pub async fn execute(
        &self,
        user: &str,
        token: &str,
        confirmed_ids: &[String],
    ) -> Result<String, ActionError> {
        let plan = {
            let mut plans = lock(&self.plans);
            let found = plans
                .iter()
                .find(|(t, _)| crate::auth::password::same_secret(t, token))
                .map(|(t, _)| t.clone());
            found.and_then(|t| plans.remove(&t))
        };
        let plan = match plan {
            Some(p) if p.expires_ms > now_ms() && p.user == user => p,
            _ => return Err(self.refuse_bulk(user, ActionError::StalePlan).await),
        };
        let planned: Vec<&str> = plan.containers.iter().map(|c| c.id.as_str()).collect();
        if planned != confirmed_ids.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(self.refuse_bulk(user, ActionError::PlanMismatch).await);
        }
        let docker = self.docker.clone().ok_or(ActionError::DockerOff)?;
        let job_id = random_token()[..16].to_string();
        let (tx, _) = broadcast::channel(256);
        lock(&self.jobs).insert(
            job_id.clone(),
            Job {
                events: Vec::new(),
                tx,
                done: false,
            },
        );
        let jobs = self.jobs.clone();
        let audit = self.audit.clone();
        let bus = self.bus.clone();
        let stop_timeout = self.stop_timeout;
        let settle_timeout = self.settle_timeout;
        let user = user.to_string();
        let id = job_id.clone();
        tokio::spawn(async move {
            let (jobs_for_emit, id_for_emit) = (jobs.clone(), id.clone());
            let emit = move |target: &str, phase: JobPhase, message: Option<String>| {
                let (jobs, id) = (&jobs_for_emit, &id_for_emit);
                let event = JobEvent {
                    target: target.to_string(),
                    phase,
                    message,
                    ts_ms: now_ms(),
                };
                let mut jobs = lock(jobs);
                if let Some(job) = jobs.get_mut(id) {
                    job.events.push(event.clone());
                    job.done = phase == JobPhase::Done;
                    let _ = job.tx.send(event);
                }
            };
            // Restarts one after another; each restarted container is then followed in
            // parallel until it is healthy again, so the report is the outcome, not the call.
            let mut following = tokio::task::JoinSet::new();
            let mut restart_failed = 0;
            for c in &plan.containers {
                emit(&c.name, JobPhase::Restarting, None);
                let result = restart_recorded(
                    &docker,
                    &audit,
                    &bus,
                    c,
                    &user,
                    Action::RestartUnhealthy,
                    stop_timeout,
                )
                .await;
                match result {
                    Ok(()) => {
                        emit(
                            &c.name,
                            JobPhase::Settling,
                            Some(format!(
                                "restarted; waiting up to {} s until it is healthy",
                                settle_timeout.as_secs()
                            )),
                        );
                        let (docker, c, emit) = (docker.clone(), c.clone(), emit.clone());
                        following.spawn(async move {
                            let started = std::time::Instant::now();
                            let outcome = settle::follow(&docker, &c.id, settle_timeout).await;
                            let secs = started.elapsed().as_secs();
                            match outcome {
                                Ok(how) => {
                                    emit(
                                        &c.name,
                                        JobPhase::Ok,
                                        Some(format!("{how} after {secs} s")),
                                    );
                                    true
                                }
                                Err(why) => {
                                    emit(&c.name, JobPhase::Failed, Some(why));
                                    false
                                }
                            }
                        });
                    }
                    Err(e) => {
                        restart_failed += 1;
                        emit(&c.name, JobPhase::Failed, Some(e.to_string()));
                    }
                }
            }
            let (mut up, mut down) = (0, 0);
            while let Some(came_up) = following.join_next().await {
                match came_up {
                    Ok(true) => up += 1,
                    _ => down += 1,
                }
            }
            emit(
                "",
                JobPhase::Done,
                Some(format!(
                    "{up} back up, {down} not healthy after the restart, {restart_failed} restart failed"
                )),
            );
            // Keep finished jobs a while for late subscribers, then forget them.
            tokio::time::sleep(Duration::from_secs(600)).await;
            lock(&jobs).remove(&id);
        });
        Ok(job_id)
    }

    /// Audits a refused bulk restart and hands back why.
    async fn refuse_bulk(&self, user: &str, why: ActionError) -> ActionError {
        let detail = match why {
            ActionError::StalePlan => "stale confirmation",
            _ => "confirmed list differs",
        };
        self.audit
            .record(Entry {
                actor: user,
                action: Action::RestartUnhealthy,
                target: "bulk",
                outcome: Outcome::Refused,
                detail: Some(detail),
            })
            .await;
        why
    }

    /// A job's events so far and a receiver for the rest (`None` once it is done).
    pub fn subscribe(
        &self,
        job_id: &str,
    ) -> Result<(Vec<JobEvent>, Option<broadcast::Receiver<JobEvent>>), ActionError> {
        let jobs = lock(&self.jobs);
        let job = jobs
            .get(job_id)
            .ok_or_else(|| ActionError::UnknownJob(job_id.to_string()))?;
        Ok((job.events.clone(), (!job.done).then(|| job.tx.subscribe())))
    }

    /// The last log lines of a container, and Steward's events for it.
    pub async fn detail(
        &self,
        id_or_name: &str,
        tail: u32,
    ) -> Result<app::containers::ContainerDetail, ActionError> {
        let docker = self.docker.as_ref().ok_or(ActionError::DockerOff)?;
        let target = self.find(id_or_name)?;
        let logs = match docker.get().await {
            Ok(client) => client.logs(&target.id, tail.clamp(1, MAX_LOG_TAIL)).await,
            Err(e) => Err(e),
        };
        let events = self
            .audit
            .container_events(&target.name, 50)
            .await
            .unwrap_or_default();
        Ok(app::containers::ContainerDetail {
            logs: logs.map_err(|e| e.to_string()),
            events,
        })
    }

    pub fn docker(&self) -> Option<&Arc<DockerHandle>> {
        self.docker.as_ref()
    }

    /// The id and name of a collected container, found by either.
    pub fn resolve(&self, id_or_name: &str) -> Result<PlannedRestart, ActionError> {
        self.find(id_or_name)
    }
}

/// Restarts one container and records the outcome in the audit log and the container's own
/// record (the single and the bulk restart share it, so both are recorded alike), and tells the
/// bus.
async fn restart_recorded(
    docker: &DockerHandle,
    audit: &AuditLog,
    bus: &Bus,
    target: &PlannedRestart,
    user: &str,
    action: Action,
    stop_timeout: Duration,
) -> Result<(), DockerError> {
    let result = match docker.get().await {
        Ok(client) => client.restart(&target.id, stop_timeout).await,
        Err(e) => Err(e),
    };
    let (outcome, detail) = match &result {
        Ok(()) => (Outcome::Ok, None),
        Err(e) => (Outcome::Failed, Some(e.to_string())),
    };
    audit
        .record(Entry {
            actor: user,
            action,
            target: &target.name,
            outcome,
            detail: detail.as_deref(),
        })
        .await;
    audit
        .container_event(
            &target.id,
            &target.name,
            ContainerEventKind::Action,
            Some(&format!(
                "{} by {user}: {}",
                action.as_str(),
                outcome.as_str()
            )),
        )
        .await;
    bus.publish(Event::Action {
        host: local_host(),
        outcome: ActionOutcome {
            actor: user.to_string(),
            action: action.as_str().to_string(),
            target: target.name.clone(),
            ok: result.is_ok(),
            detail,
        },
    });
    result
}
