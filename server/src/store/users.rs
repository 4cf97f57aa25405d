//! Users and sessions behind one trait, on the SQLite file (the embedded default) or on
//! PostgreSQL (`[database] url`, shared by hub replicas so a session made on one is valid on
//! all). The SQL is written once: `$N` placeholders and `ON CONFLICT` read the same on both
//! engines, and the two implementations are the same body expanded for each pool type.

use async_trait::async_trait;
use sqlx::{PgPool, Row, SqlitePool};

/// A session's user as stored: name, role and the session's CSRF token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    pub username: String,
    pub role: String,
    pub csrf: String,
}

/// A new session row.
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub csrf: &'a str,
    pub created_ms: i64,
    pub expires_ms: i64,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Which engine holds them (`sqlite` or `postgresql`), for logs and errors.
    fn engine(&self) -> &'static str;
    async fn admin_exists(&self) -> Result<bool, sqlx::Error>;
    /// Inserts `username` as the first admin in one statement: nothing happens when any admin
    /// or that username exists already. True when it was created.
    async fn create_first_admin(
        &self,
        username: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<bool, sqlx::Error>;
    /// Creates a user or replaces an existing user's password and role, and ends their
    /// sessions.
    async fn upsert_user(
        &self,
        username: &str,
        password_hash: &str,
        role: &str,
        now_ms: i64,
    ) -> Result<(), sqlx::Error>;
    async fn password_hash(&self, username: &str) -> Result<Option<String>, sqlx::Error>;
    /// A user's id and role.
    async fn user(&self, username: &str) -> Result<Option<(i64, String)>, sqlx::Error>;
    async fn insert_session(&self, s: NewSession<'_>) -> Result<(), sqlx::Error>;
    /// The session with this token hash, unless it expired by `now_ms`.
    async fn session(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<StoredSession>, sqlx::Error>;
    /// Ends a session, and every session expired by `now_ms`.
    async fn end_session(&self, token_hash: &str, now_ms: i64) -> Result<(), sqlx::Error>;
}

const ADMIN_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')";
const CREATE_FIRST_ADMIN: &str = "INSERT INTO users (username, password_hash, role, created_ms)
     SELECT $1, $2, 'admin', $3 WHERE NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin')
     ON CONFLICT (username) DO NOTHING";
const UPSERT_USER: &str = "INSERT INTO users (username, password_hash, role, created_ms)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role";
const END_USER_SESSIONS: &str =
    "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = $1)";
const PASSWORD_HASH: &str = "SELECT password_hash FROM users WHERE username = $1";
const USER: &str = "SELECT id, role FROM users WHERE username = $1";
const INSERT_SESSION: &str =
    "INSERT INTO sessions (token_hash, user_id, csrf, created_ms, expires_ms)
     VALUES ($1, $2, $3, $4, $5)";
const SESSION: &str =
    "SELECT u.username, u.role, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = $1 AND s.expires_ms > $2";
const END_SESSION: &str = "DELETE FROM sessions WHERE token_hash = $1 OR expires_ms <= $2";

/// Users and sessions in the SQLite file.
#[derive(Clone)]
pub struct SqliteUsers(pub SqlitePool);

/// Users and sessions in PostgreSQL.
#[derive(Clone)]
pub struct PgUsers(pub PgPool);

/// The one implementation, expanded for each pool type (the queries are the same text).
macro_rules! user_store {
    ($ty:ty, $engine:literal) => {
        #[async_trait]
        impl UserStore for $ty {
            fn engine(&self) -> &'static str {
                $engine
            }

            async fn admin_exists(&self) -> Result<bool, sqlx::Error> {
                sqlx::query_scalar(ADMIN_EXISTS).fetch_one(&self.0).await
            }

            async fn create_first_admin(
                &self,
                username: &str,
                password_hash: &str,
                now_ms: i64,
            ) -> Result<bool, sqlx::Error> {
                let done = sqlx::query(CREATE_FIRST_ADMIN)
                    .bind(username)
                    .bind(password_hash)
                    .bind(now_ms)
                    .execute(&self.0)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn upsert_user(
                &self,
                username: &str,
                password_hash: &str,
                role: &str,
                now_ms: i64,
            ) -> Result<(), sqlx::Error> {
                let mut tx = self.0.begin().await?;
                sqlx::query(UPSERT_USER)
                    .bind(username)
                    .bind(password_hash)
                    .bind(role)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(END_USER_SESSIONS)
                    .bind(username)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            }

            async fn password_hash(&self, username: &str) -> Result<Option<String>, sqlx::Error> {
                sqlx::query_scalar(PASSWORD_HASH)
                    .bind(username)
                    .fetch_optional(&self.0)
                    .await
            }

            async fn user(&self, username: &str) -> Result<Option<(i64, String)>, sqlx::Error> {
                let row = sqlx::query(USER)
                    .bind(username)
                    .fetch_optional(&self.0)
                    .await?;
                Ok(row.map(|r| (r.get(0), r.get(1))))
            }

            async fn insert_session(&self, s: NewSession<'_>) -> Result<(), sqlx::Error> {
                sqlx::query(INSERT_SESSION)
                    .bind(s.token_hash)
                    .bind(s.user_id)
                    .bind(s.csrf)
                    .bind(s.created_ms)
                    .bind(s.expires_ms)
                    .execute(&self.0)
                    .await?;
                Ok(())
            }

            async fn session(
                &self,
                token_hash: &str,
                now_ms: i64,
            ) -> Result<Option<StoredSession>, sqlx::Error> {
                let row = sqlx::query(SESSION)
                    .bind(token_hash)
                    .bind(now_ms)
                    .fetch_optional(&self.0)
                    .await?;
                Ok(row.map(|r| StoredSession {
                    username: r.get(0),
                    role: r.get(1),
                    csrf: r.get(2),
                }))
            }

            async fn end_session(&self, token_hash: &str, now_ms: i64) -> Result<(), sqlx::Error> {
                sqlx::query(END_SESSION)
                    .bind(token_hash)
                    .bind(now_ms)
                    .execute(&self.0)
                    .await?;
                Ok(())
            }
        }
    };
}

user_store!(SqliteUsers, "sqlite");
user_store!(PgUsers, "postgresql");
