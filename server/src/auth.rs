//! Users, sessions and sign-in: argon2id passwords, SHA-256-digested session tokens in SQLite,
//! a per-session CSRF token, and a sliding-window limit on failed sign-ins.
//!
//! The HTTP guard that applies all of this to every request lives in `http::guard`.

pub mod password;
pub mod ratelimit;

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::store::users::{NewSession, UserStore};
use app::auth::{Role, SessionView};
use std::sync::Arc;

use crate::config::AuthConfig;
use app::shared::clock::now_ms;
use password::CredentialError;
use ratelimit::RateLimiter;

/// Why an auth operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong username or password")]
    BadCredentials,
    #[error("too many failed sign-ins; try again in {0} s")]
    RateLimited(u64),
    #[error("the setup link is invalid or was already used")]
    BadSetupToken,
    #[error("an admin exists already, so setup is closed: sign in instead")]
    SetupClosed,
    #[error("the username {0} is taken; choose another")]
    UsernameTaken(String),
    #[error("too many sign-ins are being checked at once; try again in {0} s")]
    Busy(u64),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error("cannot read the password file {path}: {source}")]
    PasswordFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("user database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A signed-in request's user, placed in the request's extensions by the guard.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub view: SessionView,
    pub token_digest: String,
}

/// An agent authenticated by its bearer token, placed in the request's extensions by the
/// guard on agent routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentIdentity {
    /// The host the token was issued for; everything the agent sends is filed under it.
    pub host: String,
    /// The token's SHA-256, to record when it was last used.
    pub digest: String,
}

/// What start-up did about the first admin.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Users exist already.
    Ready,
    /// `--admin-password-file` created the user `admin`.
    CreatedAdmin,
    /// No users: this one-time token, in a setup link, lets the first admin be created.
    SetupToken(String),
}

/// The auth service shared by the guard and the sign-in routes.
pub struct Auth {
    users: Arc<dyn UserStore>,
    config: AuthConfig,
    limiter: Mutex<RateLimiter>,
    /// Bounds the password verifications running at once: each argon2id check holds ~19 MB,
    /// so an unbounded burst of sign-ins would take gigabytes.
    verify_slots: std::sync::Arc<tokio::sync::Semaphore>,
    /// The threads that run them, one per slot.
    verifier: Verifier,
    setup_token: Mutex<Option<String>>,
    /// A real hash to verify against when the username does not exist, so timing does not tell
    /// which usernames exist.
    dummy_hash: String,
}

impl Auth {
    pub fn new(users: Arc<dyn UserStore>, config: AuthConfig) -> Self {
        Self {
            limiter: Mutex::new(RateLimiter::new(
                config.login_max_failures,
                config.login_window_secs,
            )),
            verify_slots: std::sync::Arc::new(tokio::sync::Semaphore::new(verify_slots(
                config.verify_concurrency,
            ))),
            verifier: Verifier::start(verify_slots(config.verify_concurrency)),
            users,
            config,
            setup_token: Mutex::new(None),
            dummy_hash: password::hash("not a real password, only for timing"),
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Makes sure an admin can exist: with no users, either creates `admin` from the password
    /// file or issues a one-time setup token. Never a default password.
    pub async fn bootstrap(
        &self,
        admin_password_file: Option<&Path>,
    ) -> Result<Bootstrap, AuthError> {
        if self.users.admin_exists().await? {
            return Ok(Bootstrap::Ready);
        }
        if let Some(path) = admin_password_file {
            let password = read_password_file(path)?;
            upsert_user(self.users.as_ref(), "admin", Role::Admin, &password).await?;
            return Ok(Bootstrap::CreatedAdmin);
        }
        let token = password::random_token();
        *self.setup_token.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
        Ok(Bootstrap::SetupToken(token))
    }

    /// Whether the first admin still has to be created. An admin made some other way (the
    /// `steward user` command, another process) closes setup and kills the token for good.
    pub async fn setup_pending(&self) -> bool {
        if self.setup_token_slot().is_none() {
            return false;
        }
        match self.users.admin_exists().await {
            Ok(true) => {
                *self.setup_token_slot() = None;
                false
            }
            Ok(false) => true,
            // Cannot tell: keep the token, but do not send anyone to a page that may not work.
            Err(e) => {
                tracing::error!("cannot tell whether an admin exists: {e}");
                false
            }
        }
    }

    fn setup_token_slot(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.setup_token.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates the first admin with the one-time setup token, then signs them in. Refused once
    /// any admin exists, whatever the token; never replaces an existing user.
    pub async fn setup(
        &self,
        token: &str,
        username: &str,
        password: &str,
    ) -> Result<(String, SessionView), AuthError> {
        if !self.setup_pending().await {
            return Err(AuthError::SetupClosed);
        }
        password::validate_username(username)?;
        password::validate_password(password)?;
        let valid = self
            .setup_token_slot()
            .as_deref()
            .is_some_and(|t| password::same_secret(t, token));
        if !valid {
            return Err(AuthError::BadSetupToken);
        }
        let permit = self.verify_permit().await?;
        let given = password.to_string();
        let phc = tokio::task::spawn_blocking(move || password::hash(&given))
            .await
            .unwrap_or_else(|_| String::from("$invalid$"));
        drop(permit);
        // The check and the insert are one statement, so a concurrent `steward user` cannot
        // slip an admin in between; an existing username is never overwritten.
        let created = self
            .users
            .create_first_admin(username, &phc, now_ms())
            .await?;
        if !created {
            return Err(match self.users.admin_exists().await? {
                true => AuthError::SetupClosed,
                false => AuthError::UsernameTaken(username.to_string()),
            });
        }
        *self.setup_token_slot() = None;
        self.start_session(username).await
    }

    /// Waits briefly for a verification slot; `Busy` when the burst does not clear in time.
    /// The slot is held until the check itself ends, even if the client goes away meanwhile.
    async fn verify_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AuthError> {
        let slots = self.verify_slots.clone();
        match tokio::time::timeout(VERIFY_WAIT, slots.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(AuthError::Busy(VERIFY_WAIT.as_secs().max(1))),
        }
    }

    /// Checks a username and password from `client`; on success returns a new session token.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &str,
    ) -> Result<(String, SessionView), AuthError> {
        let user_key = format!("user:{username}");
        let ip_key = format!("ip:{client}");
        let keys = [ip_key.as_str(), user_key.as_str()];
        let started = now_ms();
        self.limiter()
            .begin(&keys, started)
            .map_err(AuthError::RateLimited)?;
        let permit = match self.verify_permit().await {
            Ok(p) => p,
            Err(e) => {
                // Not checked, so not a failure: give the attempt back.
                let mut limiter = self.limiter();
                for key in keys {
                    limiter.forget(key, started);
                }
                return Err(e);
            }
        };
        let stored = self
            .users
            .password_hash(username)
            .await?
            .unwrap_or_else(|| self.dummy_hash.clone());
        let ok = self.verifier.verify(password, stored, permit).await;
        if !ok {
            return Err(AuthError::BadCredentials);
        }
        {
            let mut limiter = self.limiter();
            limiter.succeed(&user_key);
            limiter.forget(&ip_key, started);
        }
        self.start_session(username).await
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, RateLimiter> {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn start_session(&self, username: &str) -> Result<(String, SessionView), AuthError> {
        let (id, role) = self
            .users
            .user(username)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        let token = password::random_token();
        let csrf = password::random_token();
        let now = now_ms();
        self.users
            .insert_session(NewSession {
                token_hash: &password::token_digest(&token),
                user_id: id,
                csrf: &csrf,
                created_ms: now,
                expires_ms: now + self.config.session_hours as i64 * 3_600_000,
            })
            .await?;
        let view = SessionView {
            username: username.to_string(),
            role: Role::parse(&role).unwrap_or(Role::Viewer),
            csrf,
        };
        Ok((token, view))
    }

    /// The user of a session cookie's token, if the session exists and has not expired.
    pub async fn session(&self, token: &str) -> Result<Option<CurrentUser>, AuthError> {
        let digest = password::token_digest(token);
        let row = self.users.session(&digest, now_ms()).await?;
        Ok(row.map(|r| CurrentUser {
            view: SessionView {
                username: r.username,
                role: Role::parse(&r.role).unwrap_or(Role::Viewer),
                csrf: r.csrf,
            },
            token_digest: digest,
        }))
    }

    /// Ends a session.
    pub async fn logout(&self, token_digest: &str) -> Result<(), AuthError> {
        Ok(self.users.end_session(token_digest, now_ms()).await?)
    }

    /// The `Set-Cookie` value for a new session.
    pub fn session_cookie(&self, token: &str) -> String {
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            app::auth::SESSION_COOKIE,
            self.config.session_hours * 3600,
            if self.config.secure_cookie {
                "; Secure"
            } else {
                ""
            }
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self) -> String {
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            app::auth::SESSION_COOKIE,
            if self.config.secure_cookie {
                "; Secure"
            } else {
                ""
            }
        )
    }
}

/// Long-lived threads that check passwords, so at most (threads × 19 MB) of argon2 memory is in
/// use whatever the burst, on a fixed set of threads (the allocator keeps per-thread arenas,
/// and `spawn_blocking` used a new thread for many checks). Jobs arrive only with a slot of
/// `Auth::verify_slots`, so one is always free to take them. The threads end with the `Auth`.
struct Verifier {
    jobs: std::sync::mpsc::Sender<VerifyJob>,
}

struct VerifyJob {
    password: String,
    phc: String,
    answer: tokio::sync::oneshot::Sender<bool>,
    /// Released when the thread is done, not when the request is.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl Verifier {
    fn start(threads: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<VerifyJob>();
        let queue = std::sync::Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("verify-{i}"))
                .spawn(move || loop {
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(job) = job else { return };
                    // A fresh buffer each time: freed, it goes back to the OS (see main.rs),
                    // so memory returns to its idle size after a burst.
                    let ok = password::verify(&job.password, &job.phc);
                    let _ = job.answer.send(ok);
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start a password verification thread: {e}");
            }
        }
        Self { jobs }
    }

    /// Whether `password` matches `phc`; false when no thread could take the job.
    async fn verify(
        &self,
        password: &str,
        phc: String,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) -> bool {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job = VerifyJob {
            password: password.to_string(),
            phc,
            answer,
            _slot: slot,
        };
        if self.jobs.send(job).is_err() {
            tracing::error!("no password verification thread is running");
            return false;
        }
        answered.await.unwrap_or(false)
    }
}

/// How long a sign-in waits for a verification slot before it is answered 503.
const VERIFY_WAIT: Duration = Duration::from_secs(2);

/// Verification slots: the configured number, or the cores (at least 2, at most 8).
fn verify_slots(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8),
        n => n,
    }
}

/// Creates a user or replaces an existing user's password and role; ends their sessions.
pub async fn upsert_user(
    users: &dyn UserStore,
    username: &str,
    role: Role,
    password: &str,
) -> Result<(), AuthError> {
    password::validate_username(username)?;
    password::validate_password(password)?;
    let given = password.to_string();
    let phc = tokio::task::spawn_blocking(move || password::hash(&given))
        .await
        .unwrap_or_else(|_| String::from("$invalid$"));
    users
        .upsert_user(username, &phc, role.as_str(), now_ms())
        .await?;
    Ok(())
}

/// The first line of a password file, without its line ending.
pub fn read_password_file(path: &Path) -> Result<String, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::PasswordFile {
        path: path.to_path_buf(),
        source,
    })?;
    let password = text.lines().next().unwrap_or("").to_string();
    password::validate_password(&password)?;
    Ok(password)
}
