//! Users and sessions on the embedded SQLite file and on a real PostgreSQL (`[database] url`,
//! a fresh cluster on loopback per test): the same suite through the same trait on both, and
//! two hub replicas on one PostgreSQL where a session made on one works on the other.

use std::sync::Arc;

use server::store::users::{NewSession, PgUsers, SqliteUsers, UserStore};
use steward_tests::postgres::Postgres;

use crate::helpers::spawn_app;

/// What every engine must do alike.
async fn exercise(users: &dyn UserStore) {
    let engine = users.engine();
    assert!(!users.admin_exists().await.unwrap(), "{engine}: empty");
    assert!(
        users.create_first_admin("root", "$hash1", 1).await.unwrap(),
        "{engine}"
    );
    assert!(users.admin_exists().await.unwrap(), "{engine}");
    assert!(
        !users
            .create_first_admin("other", "$hash2", 2)
            .await
            .unwrap(),
        "{engine}: an admin exists, no second first admin"
    );
    assert_eq!(users.user("other").await.unwrap(), None, "{engine}");
    let (id, role) = users.user("root").await.unwrap().unwrap();
    assert_eq!(role, "admin", "{engine}");
    assert_eq!(
        users.password_hash("root").await.unwrap().as_deref(),
        Some("$hash1"),
        "{engine}"
    );
    assert_eq!(users.password_hash("nobody").await.unwrap(), None);

    users
        .insert_session(NewSession {
            token_hash: "t1",
            user_id: id,
            csrf: "c1",
            created_ms: 10,
            expires_ms: 1_000,
        })
        .await
        .unwrap();
    let s = users.session("t1", 500).await.unwrap().unwrap();
    assert_eq!(
        (s.username.as_str(), s.role.as_str(), s.csrf.as_str()),
        ("root", "admin", "c1"),
        "{engine}"
    );
    assert_eq!(
        users.session("t1", 1_000).await.unwrap(),
        None,
        "{engine}: expired"
    );
    assert_eq!(users.session("t2", 500).await.unwrap(), None, "{engine}");

    // A new password and role end the user's sessions.
    users
        .upsert_user("root", "$hash3", "viewer", 20)
        .await
        .unwrap();
    assert_eq!(users.session("t1", 500).await.unwrap(), None, "{engine}");
    assert_eq!(
        users.user("root").await.unwrap().unwrap(),
        (id, "viewer".to_string()),
        "{engine}: the same user, updated"
    );
    users
        .upsert_user("ops", "$hash4", "admin", 30)
        .await
        .unwrap();
    assert!(users.admin_exists().await.unwrap());

    // Ending one session also clears the expired ones.
    for (t, exp) in [("a", 2_000), ("b", 100)] {
        users
            .insert_session(NewSession {
                token_hash: t,
                user_id: id,
                csrf: "c",
                created_ms: 10,
                expires_ms: exp,
            })
            .await
            .unwrap();
    }
    users.end_session("a", 500).await.unwrap();
    assert_eq!(users.session("a", 500).await.unwrap(), None, "{engine}");
    assert_eq!(
        users.session("b", 50).await.unwrap(),
        None,
        "{engine}: b expired at 100 and went"
    );
}

#[tokio::test]
async fn users_and_sessions_behave_alike_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = server::store::history::HistoryStore::open(&dir.path().join("steward.db"))
        .await
        .unwrap();
    exercise(&SqliteUsers(sqlite.pool().clone())).await;

    let pg = Postgres::start();
    let pool = server::store::postgres::open(&pg.url(), std::time::Duration::from_secs(10), 4)
        .await
        .unwrap();
    exercise(&PgUsers(pool.clone())).await;
    // Applying the migrations again (a second replica starting) changes nothing.
    server::store::postgres::open(&pg.url(), std::time::Duration::from_secs(10), 4)
        .await
        .unwrap();
    let users: Arc<dyn UserStore> = Arc::new(PgUsers(pool));
    assert!(users.admin_exists().await.unwrap());
}

#[tokio::test]
async fn a_session_made_on_one_replica_works_on_the_other() {
    let pg = Postgres::start();
    let url = pg.url();
    let (u1, u2) = (url.clone(), url.clone());
    let a = spawn_app(move |c, _| {
        c.database.url = u1;
        c.auth.anonymous_read = false;
    })
    .await;
    let b = spawn_app(move |c, _| {
        c.database.url = u2;
        c.auth.anonymous_read = false;
    })
    .await;
    assert_eq!(
        b.get("/api/v1/score").await.status(),
        401,
        "b needs a session"
    );
    let admin = a.admin().await;
    assert_eq!(b.get_as("/api/v1/score", &admin).await.status(), 200);
    // Replica a created the admin from its password file; b found it there.
    let who: serde_json::Value = b
        .get_as("/api/v1/auth/session", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(who["username"], "admin", "{who}");
    assert_eq!(who["csrf"].as_str(), Some(admin.csrf.as_str()), "{who}");
    // A guarded action on b with a's session and CSRF token: signing out, which ends the
    // session on every replica.
    let r = b.act(&admin, "/api/v1/auth/logout", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(a.get_as("/api/v1/score", &admin).await.status(), 401);
    assert_eq!(b.get_as("/api/v1/score", &admin).await.status(), 401);
    // A wrong URL is a clear start-up error naming the field's value without its password.
    let err = server::store::postgres::open(
        "postgres://steward:s3cret@127.0.0.1:1/none",
        std::time::Duration::from_secs(2),
        1,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    a.stop().await;
    b.stop().await;
}
