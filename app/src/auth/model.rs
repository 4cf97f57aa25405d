//! Users, roles and the audit log as the pages and APIs see them.

use serde::{Deserialize, Serialize};

/// What a signed-in user may do: viewers read, admins also act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }

    /// Parses `admin` or `viewer`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// The signed-in user of a request, as the page needs it (the CSRF token goes into every
/// mutating request's `X-CSRF-Token` header).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub username: String,
    pub role: Role,
    pub csrf: String,
}

impl SessionView {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// One line of the audit log: who did what to which target, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub ts_ms: i64,
    /// The host name of the Steward that wrote it, where replicas share one log (empty for
    /// the embedded default).
    #[serde(default)]
    pub node: String,
    /// A username, or `watchdog` for the watchdog's own decisions.
    pub actor: String,
    pub action: String,
    pub target: String,
    /// `ok`, `failed`, `refused`, `skipped`, `dry-run`, `gave-up`.
    pub result: String,
    pub detail: Option<String>,
}

/// The header that carries the session's CSRF token on every mutating request.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "steward_session";
