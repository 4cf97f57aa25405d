//! Sign-in, sessions, the first-admin setup link, the sign-in limit, reading without a session,
//! and the audit log of it all.

use std::time::Duration;

use app::auth::Role;

use crate::helpers::{spawn_app, FirstStart, ADMIN_PASSWORD};

#[tokio::test]
async fn reads_need_a_session_unless_anonymous_reading_is_on() {
    let app = spawn_app(|c, _| c.auth.anonymous_read = false).await;
    assert_eq!(app.get("/api/v1/score").await.status(), 401);
    assert_eq!(app.get("/api/v1/containers").await.status(), 401);
    // Pages redirect to the sign-in page, keeping where the visitor wanted to go.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirects
        .get(format!("{}/containers", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=/containers");
    // Health, metrics and the sign-in page stay public.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/login").await.status(), 200);

    let admin = app.admin().await;
    let r = app.get_as("/api/v1/score", &admin).await;
    assert_eq!(r.status(), 200);
    let html = app
        .get_as("/containers", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Sign out"), "the page knows who is signed in");
    app.stop().await;
}

#[tokio::test]
async fn sessions_are_httponly_strict_and_end_on_logout() {
    let app = spawn_app(|c, _| c.auth.anonymous_read = false).await;
    let r = app
        .client
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&serde_json::json!({ "username": "admin", "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("steward_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["role"], "admin");
    assert_eq!(body["csrf"].as_str().unwrap().len(), 64);

    let admin = app.admin().await;
    let whoami = app
        .get_as("/api/v1/auth/session", &admin)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(whoami["username"], "admin");
    let r = app.act(&admin, "/api/v1/auth/logout", None).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let r = app.get_as("/api/v1/score", &admin).await;
    assert_eq!(
        r.status(),
        401,
        "the session is gone on the server, not just the cookie"
    );
    app.stop().await;
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_rate_limited_and_audited() {
    let app = spawn_app(|c, _| {
        c.auth.login_max_failures = 3;
        c.auth.login_window_secs = 60;
    })
    .await;
    // Signed in before the failures: the limit is per address, so it would refuse this too.
    app.add_user("ops", Role::Viewer, "viewer-password-2").await;
    let viewer = app.login("ops", "viewer-password-2").await;
    let attempt = |password: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(format!("{}/api/v1/auth/login", app.base))
                .json(&serde_json::json!({ "username": "admin", "password": password }))
                .send()
                .await
                .unwrap()
        }
    };
    let r = attempt("not-the-password").await;
    assert_eq!(r.status(), 401);
    let unknown_user = app
        .client
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&serde_json::json!({ "username": "nobody", "password": "whatever-long" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_user.status(), 401);
    let a: serde_json::Value = r.json().await.unwrap();
    let b: serde_json::Value = unknown_user.json().await.unwrap();
    assert_eq!(a, b, "the answer does not tell which usernames exist");
    assert_eq!(attempt("still-not-it").await.status(), 401);
    // Three failures from this address: even the right password waits now.
    let r = attempt(ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");

    // Bad input is a clear 400, not a crash.
    let r = app
        .client
        .post(format!("{}/api/v1/auth/login", app.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // The audit log recorded the refusals, counted per username and address (written within
    // the flush interval, 1 s here); it needs a session to read.
    assert_eq!(app.get("/api/v1/audit").await.status(), 401);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let log = app.audit_log(&viewer).await;
    let admin_refusals = log
        .iter()
        .find(|e| e["action"] == "login" && e["result"] == "refused" && e["actor"] == "admin")
        .unwrap_or_else(|| panic!("{log:#?}"));
    let detail = admin_refusals["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("3 times"),
        "two wrong passwords and one 429: {detail}"
    );
    assert!(
        log.iter()
            .any(|e| e["result"] == "refused" && e["actor"] == "nobody"),
        "{log:#?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn first_start_without_users_gives_a_one_time_setup_link() {
    let first = FirstStart::start().await;
    let (base, token) = (first.base.clone(), first.token.clone());
    let client = reqwest::Client::new();
    let setup = |token: String, password: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .post(format!("{base}/api/v1/auth/setup"))
                .json(&serde_json::json!({ "token": token, "username": "root-ops", "password": password }))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        setup("0".repeat(64), "long-enough-password").await.status(),
        401
    );
    let short = setup(token.clone(), "short").await;
    assert_eq!(short.status(), 400, "too short a password is refused");
    // The form's second password must match; a mismatch loses nothing (the link still works).
    let differ = client
        .post(format!("{base}/api/v1/auth/setup"))
        .json(&serde_json::json!({ "token": token, "username": "root-ops",
            "password": "long-enough-password", "password_confirm": "long-enough-passwort" }))
        .send()
        .await
        .unwrap();
    assert_eq!(differ.status(), 400);
    assert!(differ
        .text()
        .await
        .unwrap()
        .contains("the two passwords differ"));
    // A visit without the token explains where the link is instead of showing a form that
    // can only fail.
    let page = client
        .get(format!("{base}/setup"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("setup-no-token") && page.contains("standard output"),
        "{page}"
    );
    assert!(
        !page.contains("name=\"password\""),
        "no form without a token"
    );
    assert_eq!(
        setup(token.clone(), "long-enough-password").await.status(),
        200
    );
    assert_eq!(
        setup(token, "another-long-password").await.status(),
        403,
        "the link works once: setup is closed now that an admin exists"
    );
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({ "username": "root-ops", "password": "long-enough-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    first.stop().await;
}

#[tokio::test]
async fn form_sign_in_redirects_to_next_and_never_off_site() {
    let app = spawn_app(|_, _| {}).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = |next: &'static str, password: &'static str| {
        let client = no_redirects.clone();
        let base = app.base.clone();
        async move {
            client
                .post(format!("{base}/api/v1/auth/login"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("username=admin&password={password}&next={next}"))
                .send()
                .await
                .unwrap()
        }
    };
    let r = form("%2Fcontainers", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/containers");
    assert!(r.headers().contains_key("set-cookie"));
    let r = form("https%3A%2F%2Fevil.example", ADMIN_PASSWORD).await;
    assert_eq!(r.headers()["location"], "/");
    let r = form("%2F", "wrong-password").await;
    let location = r.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("/login?error=wrong%20username"),
        "{location}"
    );
    app.stop().await;
}
