//! Containers recorded from a real Docker round (`cargo bench -p steward-tests --bench containers
//! -- round` with `RECORD=1`), for tests and benchmarks that need many realistic containers
//! without running them.

use std::path::PathBuf;

use app::containers::{Container, Health};
use app::vitals::{CollectorState, CollectorStatus};

/// The recorded snapshot repeated to `n` containers with distinct ids and names, and every 50th
/// (from the 8th) unhealthy on top of those that were when recorded.
pub fn containers(n: usize) -> Vec<Container> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/containers-snapshot.json");
    let text = std::fs::read_to_string(&path)
        .expect("tests/fixtures/containers-snapshot.json (record it with RECORD=1 ... round)");
    let recorded: Vec<Container> = serde_json::from_str(&text).expect("a valid snapshot");
    (0..n)
        .map(|i| {
            let mut c = recorded[i % recorded.len()].clone();
            c.id = format!("{i:064x}");
            c.name = format!("{}-{}", c.name, i / recorded.len());
            if i % 50 == 7 {
                c.health = Health::Unhealthy;
            }
            c
        })
        .collect()
}

/// The same containers with every 50th (from the 8th) unhealthy and all others healthy: the
/// recorded test image failed its checks, so most of the raw snapshot is unhealthy.
pub fn mostly_healthy(n: usize) -> Vec<Container> {
    let mut items = containers(n);
    for (i, c) in items.iter_mut().enumerate() {
        c.health = if i % 50 == 7 {
            Health::Unhealthy
        } else {
            Health::Healthy
        };
    }
    items
}

/// A Docker collector status that says the round just succeeded, to publish with a snapshot.
pub fn docker_ok() -> CollectorStatus {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let mut status = CollectorStatus::starting("docker");
    status.state = CollectorState::Ok;
    status.last_success_ms = Some(now_ms);
    status
}
