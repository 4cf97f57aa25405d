//! Long-lived stats streams, one per running container: the engine sends a sample every tick
//! (about a second) and the collector reads the latest, so a round no longer waits for the
//! engine's next tick per container. A container without a fresh sample yet (just started, or
//! its stream broke) falls back to a one-shot call in that round.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bollard::models::ContainerStatsResponse;
use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::docker::DockerClient;
use app::shared::clock::now_ms;

/// A sample older than this is not used (the stream has stalled).
pub const FRESH_MS: i64 = 3_000;

type Latest = Arc<Mutex<HashMap<String, (ContainerStatsResponse, i64)>>>;

/// The streams and the latest sample of each.
#[derive(Default)]
pub struct StatsStreams {
    latest: Latest,
    tasks: HashMap<String, JoinHandle<()>>,
}

fn lock(
    latest: &Latest,
) -> std::sync::MutexGuard<'_, HashMap<String, (ContainerStatsResponse, i64)>> {
    latest.lock().unwrap_or_else(|p| p.into_inner())
}

impl StatsStreams {
    /// Keeps one stream per running container: starts the missing ones (and those that ended),
    /// stops those of containers that no longer run.
    pub fn sync(&mut self, client: &DockerClient, running: &[&str]) {
        self.tasks.retain(|id, task| {
            let keep = running.contains(&id.as_str()) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        lock(&self.latest).retain(|id, _| running.contains(&id.as_str()));
        for id in running {
            if self.tasks.contains_key(*id) {
                continue;
            }
            let latest = self.latest.clone();
            let mut stream = client.stats_stream(id);
            let id = id.to_string();
            let key = id.clone();
            let task = tokio::spawn(async move {
                while let Some(Ok(sample)) = stream.next().await {
                    lock(&latest).insert(key.clone(), (sample, now_ms()));
                }
                lock(&latest).remove(&key);
            });
            self.tasks.insert(id, task);
        }
    }

    /// The latest sample of a container, if it is fresh.
    pub fn latest(&self, id: &str, now: i64) -> Option<ContainerStatsResponse> {
        lock(&self.latest)
            .get(id)
            .filter(|(_, at)| now - at <= FRESH_MS)
            .map(|(s, _)| s.clone())
    }

    /// The age of every container's latest sample (for the benchmark).
    pub fn ages_ms(&self, now: i64) -> Vec<i64> {
        lock(&self.latest)
            .values()
            .map(|(_, at)| now - at)
            .collect()
    }

    /// How many streams are open (for the status and tests).
    pub fn open(&self) -> usize {
        self.tasks.values().filter(|t| !t.is_finished()).count()
    }
}

impl Drop for StatsStreams {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}
