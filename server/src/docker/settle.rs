//! After a restart, follow the container until it is healthy again (or running, when it has no
//! health check), fails again, or a timeout passes: a restart call that returned is not a
//! recovered service, and the bulk dialog reports the outcome, not the call.

use std::time::Duration;

use app::containers::{ContainerState, Health};
use bollard::models::ContainerInspectResponse;

use crate::docker::collector::DockerHandle;

/// What a restarted container's latest inspection says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settle {
    /// Done, and well: the words say how.
    Up(&'static str),
    /// Done, and not well: why.
    Down(String),
    /// Not decided yet (starting, restarting, created).
    Waiting,
}

/// Decides from the state and health of an inspection (pure).
pub fn settle(state: ContainerState, health: Health, exit_code: Option<i64>) -> Settle {
    match (state, health) {
        (ContainerState::Running, Health::Healthy) => Settle::Up("healthy again"),
        (ContainerState::Running, Health::None) => Settle::Up("running (no health check)"),
        // Docker turns a restarted container unhealthy only after its retries failed again.
        (ContainerState::Running, Health::Unhealthy) => {
            Settle::Down("unhealthy again after the restart".into())
        }
        (ContainerState::Exited | ContainerState::Dead, _) => Settle::Down(format!(
            "{} after the restart{}",
            state.as_str(),
            exit_code
                .map(|c| format!(" (exit code {c})"))
                .unwrap_or_default()
        )),
        _ => Settle::Waiting,
    }
}

/// State, health and exit code of an inspection.
fn observe(inspect: &ContainerInspectResponse) -> (ContainerState, Health, Option<i64>) {
    let state = inspect.state.as_ref();
    let status = state
        .and_then(|s| s.status)
        .map_or(ContainerState::Unknown, |s| {
            ContainerState::parse(s.as_ref())
        });
    let health = state
        .and_then(|s| s.health.as_ref())
        .and_then(|h| h.status)
        .map_or(Health::None, |h| Health::parse(h.as_ref()));
    (status, health, state.and_then(|s| s.exit_code))
}

/// How often a followed container is inspected.
const POLL: Duration = Duration::from_secs(1);

/// Follows a restarted container for at most `timeout`: `Ok` with how it came up, or `Err` with
/// why it did not (including the last state seen when the time ran out).
pub async fn follow(docker: &DockerHandle, id: &str, timeout: Duration) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last;
        match docker.get().await {
            Ok(client) => match client.inspect(id).await {
                Ok(inspect) => {
                    let (state, health, code) = observe(&inspect);
                    match settle(state, health, code) {
                        Settle::Up(how) => return Ok(how.to_string()),
                        Settle::Down(why) => return Err(why),
                        Settle::Waiting => {
                            last = format!("{}, health {}", state.as_str(), health.as_str());
                        }
                    }
                }
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        if tokio::time::Instant::now() + POLL > deadline {
            return Err(format!(
                "not healthy within {} s (last seen: {last})",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_or_running_without_a_check_is_up() {
        use ContainerState::*;
        assert_eq!(
            settle(Running, Health::Healthy, None),
            Settle::Up("healthy again")
        );
        assert!(matches!(settle(Running, Health::None, None), Settle::Up(_)));
    }

    #[test]
    fn starting_and_restarting_wait() {
        use ContainerState::*;
        for (s, h) in [
            (Running, Health::Starting),
            (Restarting, Health::None),
            (Created, Health::None),
        ] {
            assert_eq!(settle(s, h, None), Settle::Waiting, "{s:?} {h:?}");
        }
    }

    #[test]
    fn unhealthy_again_or_exited_is_down_with_the_reason() {
        use ContainerState::*;
        assert!(matches!(
            settle(Running, Health::Unhealthy, None),
            Settle::Down(_)
        ));
        assert_eq!(
            settle(Exited, Health::Unhealthy, Some(137)),
            Settle::Down("exited after the restart (exit code 137)".into())
        );
    }
}
