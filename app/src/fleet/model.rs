//! The fleet's shared types and the badge rule (pure).

use serde::{Deserialize, Serialize};

use crate::overview::score::Score;
use crate::vitals::Vitals;

/// A heartbeat newer than this keeps a host live (seed 002: "stale badge after 30 s").
pub const STALE_AFTER_MS: i64 = 30_000;
/// Past this a host is missing, not merely late.
pub const MISSING_AFTER_MS: i64 = 5 * 60_000;

/// Hosts on one page of the fleet panel.
pub const PAGE_ROWS: usize = 50;

/// How fresh a host's last heartbeat is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Badge {
    Live,
    /// Older than [`STALE_AFTER_MS`].
    Stale,
    /// Older than [`MISSING_AFTER_MS`].
    Missing,
    /// Registered, never heard from.
    NeverSeen,
}

impl Badge {
    /// The badge of a host whose last heartbeat arrived at `last_ms` (hub clock).
    pub fn of(last_ms: Option<i64>, now_ms: i64) -> Badge {
        match last_ms {
            None => Badge::NeverSeen,
            Some(t) if now_ms - t > MISSING_AFTER_MS => Badge::Missing,
            Some(t) if now_ms - t > STALE_AFTER_MS => Badge::Stale,
            Some(_) => Badge::Live,
        }
    }

    /// The badge named as the API writes it (`live`, `stale`, `missing`, `never_seen`).
    pub fn parse(s: &str) -> Option<Badge> {
        Some(match s {
            "live" => Badge::Live,
            "stale" => Badge::Stale,
            "missing" => Badge::Missing,
            "never_seen" => Badge::NeverSeen,
            _ => return None,
        })
    }

    /// Its name in the API and CSS classes.
    pub fn key(self) -> &'static str {
        match self {
            Badge::Live => "live",
            Badge::Stale => "stale",
            Badge::Missing => "missing",
            Badge::NeverSeen => "never_seen",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Badge::Live => "live",
            Badge::Stale => "stale",
            Badge::Missing => "missing",
            Badge::NeverSeen => "never seen",
        }
    }
}

/// What an agent says it is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    #[default]
    Ready,
    Busy,
    Draining,
}

/// One agent token as the hub shows it (never the token itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenView {
    /// The first 8 hex digits of the token's SHA-256, to tell tokens apart.
    pub id: String,
    pub created_ms: i64,
    /// Set on a rotated token: it works until then (the grace period).
    pub expires_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

/// One host of the fleet, as `GET /api/v1/fleet/hosts` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetHost {
    pub host: String,
    pub badge: Badge,
    pub created_ms: i64,
    /// When the hub received the last accepted heartbeat.
    pub last_heartbeat_ms: Option<i64>,
    pub agent_version: Option<String>,
    pub status: Option<AgentStatus>,
    /// The latest vitals the agent sent (levels judged by the hub's thresholds).
    pub vitals: Option<Vitals>,
    /// Scored with the same code as the local host's score.
    pub score: Option<Score>,
    pub containers: Option<ContainerCounts>,
    /// Heartbeats accepted since the host was added.
    pub heartbeats_total: u64,
    /// Fields dropped by the validation rules, and fields brought into range.
    pub rejected_fields: u64,
    pub clamped_fields: u64,
    /// The last few reasons, newest first.
    pub last_rejections: Vec<String>,
    /// Uses of a revoked or expired token of this host.
    pub refused_tokens: u64,
    /// Heartbeats the agent dropped from its own buffer (oldest first, when it was full).
    pub agent_dropped: u64,
    pub tokens: Vec<TokenView>,
}

/// A host's container counts, as its agent reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ContainerCounts {
    pub total: u32,
    pub running: u32,
    pub unhealthy: u32,
}

/// Hosts per badge, for the counts at the top of the fleet panel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BadgeCounts {
    pub live: u32,
    pub stale: u32,
    pub missing: u32,
    pub never_seen: u32,
}

impl BadgeCounts {
    pub fn add(&mut self, badge: Badge) {
        match badge {
            Badge::Live => self.live += 1,
            Badge::Stale => self.stale += 1,
            Badge::Missing => self.missing += 1,
            Badge::NeverSeen => self.never_seen += 1,
        }
    }
}

/// `GET /api/v1/fleet/hosts`: a page of hosts and the counts over the whole fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetPage {
    pub counts: BadgeCounts,
    /// Hosts matching the filter (before paging).
    pub matched: u32,
    pub hosts: Vec<FleetHost>,
    /// Heartbeats that came with a token no host ever had (they cannot be filed under one).
    pub unknown_tokens: u64,
    pub now_ms: i64,
}

/// What an operator runs on a new host: the install lines and a systemd unit for its agent.
/// The token is written by the first line only, so the unit holds no secret.
pub fn install_instructions(hub: &str, token: &str) -> (String, String) {
    let hub = hub.trim_end_matches('/');
    let lines = format!(
        "sudo install -d -m 700 /etc/steward\n\
         echo '{token}' | sudo tee /etc/steward/agent-token >/dev/null && sudo chmod 600 /etc/steward/agent-token\n\
         steward agent --hub {hub} --token-file /etc/steward/agent-token --check"
    );
    let unit = format!(
        "[Unit]\n\
         Description=Steward agent (heartbeats to {hub})\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         ExecStart=/usr/local/bin/steward agent --hub {hub} --token-file ${{CREDENTIALS_DIRECTORY}}/agent-token\n\
         LoadCredential=agent-token:/etc/steward/agent-token\n\
         DynamicUser=yes\n\
         StateDirectory=steward-agent\n\
         Environment=STEWARD_DATA_DIR=/var/lib/steward-agent\n\
         Restart=always\n\
         RestartSec=5\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    );
    (lines, unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_lines_name_the_hub_and_keep_the_token_out_of_the_unit() {
        let (lines, unit) = install_instructions("https://ops.example.org/", "abc123");
        assert!(lines.contains("echo 'abc123' | sudo tee /etc/steward/agent-token"));
        assert!(lines.contains("--hub https://ops.example.org --token-file"));
        assert!(
            unit.contains("ExecStart=/usr/local/bin/steward agent --hub https://ops.example.org")
        );
        assert!(unit.contains("${CREDENTIALS_DIRECTORY}/agent-token"));
        assert!(!unit.contains("abc123"));
    }

    #[test]
    fn badges_parse_from_their_keys() {
        for b in [Badge::Live, Badge::Stale, Badge::Missing, Badge::NeverSeen] {
            assert_eq!(Badge::parse(b.key()), Some(b));
        }
        assert_eq!(Badge::parse("odd"), None);
    }

    #[test]
    fn badges_follow_the_age_of_the_last_heartbeat() {
        let now = 1_000_000;
        assert_eq!(Badge::of(None, now), Badge::NeverSeen);
        assert_eq!(Badge::of(Some(now), now), Badge::Live);
        assert_eq!(Badge::of(Some(now - STALE_AFTER_MS), now), Badge::Live);
        assert_eq!(Badge::of(Some(now - STALE_AFTER_MS - 1), now), Badge::Stale);
        assert_eq!(Badge::of(Some(now - MISSING_AFTER_MS), now), Badge::Stale);
        assert_eq!(
            Badge::of(Some(now - MISSING_AFTER_MS - 1), now),
            Badge::Missing
        );
        // A clock a little ahead of the hub's is still live, not something else.
        assert_eq!(Badge::of(Some(now + 5_000), now), Badge::Live);
    }

    #[test]
    fn counts_add_up_per_badge() {
        let mut c = BadgeCounts::default();
        for b in [Badge::Live, Badge::Live, Badge::Stale, Badge::NeverSeen] {
            c.add(b);
        }
        assert_eq!((c.live, c.stale, c.missing, c.never_seen), (2, 1, 0, 1));
    }
}
