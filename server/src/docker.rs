//! The only place Steward talks to Docker: a bollard client with a timeout on every call and
//! errors that say what went wrong (socket missing, permission denied, timeout, API error).

pub mod actions;
pub mod collector;
pub mod convert;
pub mod disk;
pub mod events;
pub mod settle;
pub mod stats;
pub mod watchdog;

use std::collections::HashMap;
use std::time::Duration;

use app::containers::logs::{LogLine, LogStream};
use bollard::container::LogOutput;
use bollard::models::{ContainerInspectResponse, ContainerStatsResponse, ContainerSummary};
use bollard::query_parameters::{
    EventsOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RestartContainerOptionsBuilder, StatsOptionsBuilder,
};
use bollard::Docker;
use futures::{Stream, StreamExt};

/// Why a Docker call failed, in words an operator can act on.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DockerError {
    #[error("Docker socket {0} not found: is Docker running, and is docker.host right?")]
    SocketMissing(String),
    #[error(
        "permission denied on the Docker socket {0}: run Steward as a member of the docker group"
    )]
    PermissionDenied(String),
    #[error("Docker did not answer {what} within {secs} s")]
    Timeout { what: String, secs: u64 },
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("Docker refused {what}: {message}")]
    Api { what: String, message: String },
    #[error("cannot reach Docker at {host}: {message}")]
    Connect { host: String, message: String },
}

/// Container counts from one container list (what a fleet agent reports). Health comes from
/// the list's status words, which Docker writes as "Up 5 minutes (unhealthy)"; the list has no
/// health field, and inspecting every container each heartbeat would cost an agent far more.
pub fn parse_counts(list: &[ContainerSummary]) -> app::fleet::ContainerCounts {
    app::fleet::ContainerCounts {
        total: list.len() as u32,
        running: list.iter().filter(|c| is_running(c)).count() as u32,
        unhealthy: list.iter().filter(|c| is_unhealthy(c)).count() as u32,
    }
}

/// The names of the running containers whose health check fails, sorted (what a fleet
/// restart of the host's unhealthy containers names).
pub fn parse_unhealthy(list: &[ContainerSummary]) -> Vec<String> {
    let mut names: Vec<String> = list
        .iter()
        .filter(|c| is_unhealthy(c))
        .filter_map(|c| {
            let name = c.names.as_ref()?.first()?;
            Some(name.trim_start_matches('/').to_string())
        })
        .collect();
    names.sort();
    names
}

/// The host page's container rows from one container list: name, image, state, health from
/// the status words (running containers only), the status words; unhealthy and stopped first,
/// at most [`app::fleet::MAX_CONTAINERS`].
pub fn parse_list(list: &[ContainerSummary]) -> Vec<app::fleet::HostContainer> {
    use app::containers::{ContainerState, Health};
    let mut rows: Vec<app::fleet::HostContainer> = list
        .iter()
        .filter_map(|c| {
            let name = c
                .names
                .as_ref()?
                .first()?
                .trim_start_matches('/')
                .to_string();
            let status = c.status.clone().unwrap_or_default();
            let health = if !is_running(c) {
                Health::None
            } else if status.contains("(unhealthy)") {
                Health::Unhealthy
            } else if status.contains("(healthy)") {
                Health::Healthy
            } else if status.contains("(health: starting)") {
                Health::Starting
            } else {
                Health::None
            };
            Some(app::fleet::HostContainer {
                name,
                image: c.image.clone().unwrap_or_default(),
                state: c.state.map_or(ContainerState::Unknown, |s| {
                    ContainerState::parse(s.as_ref())
                }),
                health,
                status,
            })
        })
        .collect();
    app::fleet::HostContainer::sort(&mut rows);
    rows.truncate(app::fleet::MAX_CONTAINERS);
    rows
}

fn is_running(c: &ContainerSummary) -> bool {
    c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING)
}

fn is_unhealthy(c: &ContainerSummary) -> bool {
    is_running(c)
        && c.status
            .as_deref()
            .is_some_and(|s| s.contains("(unhealthy)"))
}

/// A connected Docker client.
#[derive(Clone)]
pub struct DockerClient {
    docker: Docker,
    host: String,
    timeout: Duration,
}

/// What `docker.host` (or `DOCKER_HOST`, or the default socket) resolves to.
pub fn resolve_host(configured: &str) -> String {
    if !configured.is_empty() {
        return configured.to_string();
    }
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string())
}

impl DockerClient {
    /// Connects and negotiates the API version (Docker 20.10 needs it; bollard would otherwise
    /// speak a newer version than the engine knows).
    pub async fn connect(host: &str, timeout: Duration) -> Result<Self, DockerError> {
        let secs = timeout.as_secs().max(1);
        let docker = if let Some(path) = host.strip_prefix("unix://") {
            match std::fs::metadata(path) {
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    return Err(DockerError::PermissionDenied(path.to_string()))
                }
                Err(_) => return Err(DockerError::SocketMissing(path.to_string())),
                Ok(_) => {}
            }
            Docker::connect_with_unix(path, secs, bollard::API_DEFAULT_VERSION)
        } else {
            Docker::connect_with_http(host, secs, bollard::API_DEFAULT_VERSION)
        }
        .map_err(|e| DockerError::Connect {
            host: host.to_string(),
            message: e.to_string(),
        })?;
        let negotiate = tokio::time::timeout(timeout, docker.negotiate_version());
        let docker = match negotiate.await {
            Err(_) => {
                return Err(DockerError::Timeout {
                    what: "the version check".into(),
                    secs,
                })
            }
            Ok(r) => r.map_err(|e| classify(host, "the version check", secs, e))?,
        };
        Ok(Self {
            docker,
            host: host.to_string(),
            timeout,
        })
    }

    async fn call<T>(
        &self,
        what: impl Into<String>,
        fut: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, DockerError> {
        let what = what.into();
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(DockerError::Timeout {
                what,
                secs: self.timeout.as_secs().max(1),
            }),
            Ok(r) => r.map_err(|e| classify(&self.host, &what, self.timeout.as_secs().max(1), e)),
        }
    }

    /// Every container, running or not.
    pub async fn list(&self) -> Result<Vec<ContainerSummary>, DockerError> {
        let options = ListContainersOptionsBuilder::new().all(true).build();
        self.call(
            "the container list",
            self.docker.list_containers(Some(options)),
        )
        .await
    }

    pub async fn inspect(&self, id: &str) -> Result<ContainerInspectResponse, DockerError> {
        self.call(
            format!("inspect of {id}"),
            self.docker.inspect_container(id, None),
        )
        .await
    }

    /// One stats sample without Docker's own second sample (one-shot), so the call is fast; CPU %
    /// comes from the difference to the previous round.
    pub async fn stats(&self, id: &str) -> Result<ContainerStatsResponse, DockerError> {
        let options = StatsOptionsBuilder::new()
            .stream(false)
            .one_shot(true)
            .build();
        let mut stream = self.docker.stats(id, Some(options));
        self.call(format!("stats of {id}"), async move {
            match stream.next().await {
                Some(r) => r,
                None => Err(bollard::errors::Error::DockerStreamError {
                    error: "empty stats stream".into(),
                }),
            }
        })
        .await
    }

    /// When an image was built (ms since the epoch), if Docker says.
    pub async fn image_created_ms(&self, image_id: &str) -> Result<Option<i64>, DockerError> {
        let image = self
            .call(
                format!("inspect of image {image_id}"),
                self.docker.inspect_image(image_id),
            )
            .await?;
        Ok(image.created.as_deref().and_then(convert::parse_time_ms))
    }

    /// Restarts a container, giving it `stop_timeout` to stop before Docker kills it.
    pub async fn restart(&self, id: &str, stop_timeout: Duration) -> Result<(), DockerError> {
        let options = RestartContainerOptionsBuilder::new()
            .t(stop_timeout.as_secs().min(600) as i32)
            .build();
        // The call lasts as long as the stop does, so its deadline is the stop timeout plus ours.
        let deadline = stop_timeout + self.timeout;
        match tokio::time::timeout(deadline, self.docker.restart_container(id, Some(options))).await
        {
            Err(_) => Err(DockerError::Timeout {
                what: format!("the restart of {id}"),
                secs: deadline.as_secs(),
            }),
            Ok(r) => r.map_err(|e| {
                classify(
                    &self.host,
                    &format!("the restart of {id}"),
                    deadline.as_secs(),
                    e,
                )
            }),
        }
    }

    /// The last `tail` log lines (stdout and stderr, each with Docker's timestamp).
    pub async fn logs(&self, id: &str, tail: u32) -> Result<Vec<LogLine>, DockerError> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .tail(&tail.to_string())
            .build();
        let mut stream = self.docker.logs(id, Some(options));
        // Lines are split (and long ones cut) as the chunks arrive, so memory is bounded by the
        // lines kept, not by what the container wrote.
        self.call(format!("the logs of {id}"), async move {
            let mut splitter = convert::LineSplitter::default();
            let mut lines = Vec::new();
            while let Some(c) = stream.next().await {
                let (stream, text) = chunk(c?);
                lines.extend(splitter.push(stream, &text));
            }
            lines.extend(splitter.finish());
            Ok(lines)
        })
        .await
    }

    /// New log lines as they are written (the last `tail` first); ends when the container stops.
    pub fn follow_logs(
        &self,
        id: &str,
        tail: u32,
    ) -> impl Stream<Item = Result<(LogStream, String), DockerError>> + Send + 'static {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .follow(true)
            .tail(&tail.to_string())
            .build();
        let host = self.host.clone();
        let what = format!("the logs of {id}");
        let secs = self.timeout.as_secs().max(1);
        self.docker
            .logs(id, Some(options))
            .map(move |r| r.map(chunk).map_err(|e| classify(&host, &what, secs, e)))
    }

    /// The engine's container events with these actions, from now on, for as long as the
    /// connection lasts (no timeout: a quiet engine sends nothing for hours).
    pub fn events(
        &self,
        actions: &[&str],
    ) -> impl Stream<Item = Result<bollard::models::EventMessage, DockerError>> + Send + 'static
    {
        let options = EventsOptionsBuilder::new()
            .filters(&events::filters(actions))
            .build();
        let host = self.host.clone();
        let secs = self.timeout.as_secs().max(1);
        self.docker
            .events(Some(options))
            .map(move |r| r.map_err(|e| classify(&host, "the event stream", secs, e)))
    }

    /// One stats sample per engine tick for as long as the container runs (what `docker stats`
    /// reads): the collector keeps the latest instead of waiting for a tick every round.
    pub fn stats_stream(
        &self,
        id: &str,
    ) -> impl Stream<Item = Result<ContainerStatsResponse, DockerError>> + Send + 'static {
        let options = StatsOptionsBuilder::new().stream(true).build();
        let host = self.host.clone();
        let what = format!("stats of {id}");
        let secs = self.timeout.as_secs().max(1);
        self.docker
            .stats(id, Some(options))
            .map(move |r| r.map_err(|e| classify(&host, &what, secs, e)))
    }

    /// Labels of a container keyed by name, for tests and the watchdog's opt-out.
    pub fn labels(inspect: &ContainerInspectResponse) -> HashMap<String, String> {
        inspect
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default()
    }
}

/// A log chunk's stream and text (a TTY container's console output counts as stdout).
fn chunk(output: LogOutput) -> (LogStream, String) {
    let stream = match output {
        LogOutput::StdErr { .. } => LogStream::Stderr,
        _ => LogStream::Stdout,
    };
    (stream, output.to_string())
}

/// Turns a bollard error into one an operator can act on.
pub(crate) fn classify(
    host: &str,
    what: &str,
    secs: u64,
    e: bollard::errors::Error,
) -> DockerError {
    use bollard::errors::Error as E;
    match &e {
        E::SocketNotFoundError(path) => return DockerError::SocketMissing(path.clone()),
        E::DockerResponseServerError {
            status_code: 404,
            message,
        } => return DockerError::NotFound(message.clone()),
        E::DockerResponseServerError { message, .. } => {
            return DockerError::Api {
                what: what.to_string(),
                message: message.clone(),
            }
        }
        E::RequestTimeoutError => {
            return DockerError::Timeout {
                what: what.to_string(),
                secs,
            }
        }
        _ => {}
    }
    // Look for the I/O error underneath (permission denied, connection refused): the layers
    // above it only say "client error (Connect)".
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut innermost = e.to_string();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            let message = match io.kind() {
                K::PermissionDenied => {
                    return DockerError::PermissionDenied(host.trim_start_matches("unix://").into())
                }
                K::ConnectionRefused => {
                    "connection refused: nothing listens there (is Docker running, and is \
                     docker.host right?)"
                        .to_string()
                }
                K::TimedOut => format!("no answer within {secs} s"),
                _ => io.to_string(),
            };
            return DockerError::Connect {
                host: host.to_string(),
                message,
            };
        }
        innermost = s.to_string();
        source = s.source();
    }
    DockerError::Connect {
        host: host.to_string(),
        message: innermost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_state_and_the_status_words() {
        use bollard::models::ContainerSummaryStateEnum as State;
        let c = |state: State, status: &str| ContainerSummary {
            state: Some(state),
            status: Some(status.to_string()),
            names: Some(vec![format!("/c{}", status.len())]),
            ..Default::default()
        };
        let list = [
            c(State::RUNNING, "Up 5 minutes (unhealthy)"),
            c(State::RUNNING, "Up 2 hours (healthy)"),
            c(State::RUNNING, "Up 3 seconds (health: starting)"),
            c(State::RUNNING, "Up 1 day"),
            c(State::EXITED, "Exited (137) 2 minutes ago"),
            c(State::PAUSED, "Up 4 minutes (Paused)"),
        ];
        let n = parse_counts(&list);
        assert_eq!((n.total, n.running, n.unhealthy), (6, 4, 1));
        assert_eq!(
            parse_unhealthy(&list),
            vec!["c24"],
            "the name without its slash"
        );
        let none = parse_counts(&[]);
        assert_eq!((none.total, none.running, none.unhealthy), (0, 0, 0));

        use app::containers::{ContainerState, Health};
        let rows: Vec<_> = parse_list(&list)
            .into_iter()
            .map(|r| (r.name, r.state, r.health))
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "c24".to_string(),
                    ContainerState::Running,
                    Health::Unhealthy
                ),
                ("c21".to_string(), ContainerState::Paused, Health::None),
                ("c26".to_string(), ContainerState::Exited, Health::None),
                ("c20".to_string(), ContainerState::Running, Health::Healthy),
                ("c31".to_string(), ContainerState::Running, Health::Starting),
                ("c8".to_string(), ContainerState::Running, Health::None),
            ],
            "unhealthy first, then not running, then running, each by name"
        );
        let many: Vec<_> = (0..300)
            .map(|i| ContainerSummary {
                names: Some(vec![format!("/n{i:03}")]),
                ..c(State::RUNNING, "Up 1 day")
            })
            .collect();
        assert_eq!(parse_list(&many).len(), app::fleet::MAX_CONTAINERS);
    }
}
