//! Hub replicas on one PostgreSQL: each keeps the fleet's read model in memory (pages never
//! wait for the database), so each reloads the shared registry every few seconds — hosts added,
//! edited or deleted through another replica, heartbeats that went to another replica, the
//! health the sweep's leader stored. A periodic collector, so a database it cannot read shows
//! as its status line, not as a silently stale fleet.

use std::sync::Arc;
use std::time::Duration;

use super::Fleet;
use crate::platform::bus::{local_host, Bus, Event};
use crate::platform::periodic::{self, Collected, Collector};

/// Between reloads: the agents' default heartbeat interval, so a host whose heartbeats go to
/// another replica looks as live here as there.
pub const INTERVAL: Duration = Duration::from_secs(5);

struct ReplicaSync(Arc<Fleet>);

impl Collector for ReplicaSync {
    type Data = ();

    fn name(&self) -> &'static str {
        "fleet_replica_sync"
    }

    async fn collect(&mut self) -> Result<Collected<()>, String> {
        let problems = self
            .0
            .refresh()
            .await
            .map_err(|e| format!("cannot reload the shared fleet registry: {e}"))?;
        Ok(Collected { data: (), problems })
    }
}

/// Reloads the registry every [`INTERVAL`] until `shutdown`.
pub async fn run(fleet: Arc<Fleet>, bus: Arc<Bus>, shutdown: tokio_util::sync::CancellationToken) {
    periodic::run(
        ReplicaSync(fleet),
        INTERVAL,
        INTERVAL * 2,
        shutdown,
        move |_, status| {
            bus.publish(Event::Status {
                host: local_host(),
                status,
            })
        },
    )
    .await
}
