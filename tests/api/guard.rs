//! Every mutating route and server function rejects anonymous callers (401), viewers (403) and
//! admins without the CSRF token (403). The list is enumerated from the server itself, so a new
//! action cannot be added unguarded without this test noticing.

use app::auth::Role;
use reqwest::Method;
use server::http::guard::{server_functions, PUBLIC_ACTIONS, USER_ACTIONS};

use crate::helpers::spawn_app;

const VIEWER_PASSWORD: &str = "viewer-password-1";

/// The mutating routes: the actions of every module, sign-out, every server function that is
/// not a GET, and a path that does not exist (the guard wraps the fallback too).
fn mutating_routes() -> Vec<(Method, String)> {
    let mut routes: Vec<(Method, String)> = server::http::containers::ACTIONS
        .iter()
        .chain(server::http::maintenance::ACTIONS)
        .chain(&server::http::models::ACTIONS)
        .chain(&server::http::alerts::ACTIONS)
        .chain(&server::http::digest::ACTIONS)
        .chain(&server::http::fleet::ACTIONS)
        .chain(USER_ACTIONS)
        .chain([&server::http::api::EXPLORE])
        .map(|p| {
            (
                Method::POST,
                p.replace("{id}", "some-container")
                    .replace("{slug}", "some-job")
                    .replace("{backend}", "some-backend")
                    .replace("{name}", "some-notifier")
                    .replace("{host}", "some-host"),
            )
        })
        .collect();
    let fns = server_functions();
    assert!(
        fns.iter().any(|(p, _)| p.contains("get_overview")),
        "server functions are registered: {fns:?}"
    );
    for (path, method) in fns {
        if method != Method::GET {
            routes.push((
                Method::from_bytes(method.as_str().as_bytes()).unwrap(),
                path,
            ));
        }
    }
    routes.push((Method::POST, "/api/v1/no-such-action".into()));
    routes.push((Method::DELETE, "/api/v1/containers".into()));
    routes.push((Method::PUT, "/containers".into()));
    routes
}

#[tokio::test]
async fn every_mutating_route_needs_admin_and_csrf() {
    let app = spawn_app(|_, _| {}).await;
    app.add_user("viewer1", Role::Viewer, VIEWER_PASSWORD).await;
    let viewer = app.login("viewer1", VIEWER_PASSWORD).await;
    let admin = app.admin().await;
    let routes = mutating_routes();
    assert!(routes.len() >= 6, "{routes:?}");
    for (method, path) in &routes {
        let anon = app
            .request(method.clone(), path, None, None)
            .send()
            .await
            .unwrap();
        assert_eq!(anon.status(), 401, "anonymous {method} {path}");

        let r = app
            .request(method.clone(), path, Some(&admin), None)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "admin without CSRF {method} {path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("CSRF"), "{body}");

        let r = app
            .request(method.clone(), path, Some(&admin), Some("wrong-token"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            403,
            "admin with a wrong CSRF token {method} {path}"
        );

        // Another session's token is not this session's token.
        let r = app
            .request(method.clone(), path, Some(&admin), Some(&viewer.csrf))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            403,
            "admin with a viewer's CSRF token {method} {path}"
        );

        if !USER_ACTIONS.contains(&path.as_str()) {
            let r = app
                .request(method.clone(), path, Some(&viewer), Some(&viewer.csrf))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "viewer {method} {path}");
        }
    }
    // The guard let the admin with the right token through: the action itself answers.
    let r = app
        .act(&admin, "/api/v1/containers/some-container/restart", None)
        .await;
    assert_eq!(
        r.status(),
        409,
        "Docker is off in this app, so the action says so"
    );
    // The only routes that take no session check credentials themselves.
    assert_eq!(PUBLIC_ACTIONS, ["/api/v1/auth/login", "/api/v1/auth/setup"]);
    app.stop().await;
}

/// The guard's second identity: agents with bearer tokens open the agent API (a path there
/// that is no route reaches "not found" once accepted) and nothing else; sessions do not open
/// the agent API.
#[tokio::test]
async fn agent_tokens_open_the_agent_api_and_nothing_else() {
    let app = spawn_app(|_, _| {}).await;
    let token = app.agent_token("gpu-01").await;
    let admin = app.admin().await;
    let agent_path = format!("{}agent-probe", server::http::guard::AGENT_PREFIX);
    let bearer = |method: Method, path: &str, token: &str| {
        app.request(method, path, None, None)
            .header("authorization", format!("Bearer {token}"))
            .send()
    };
    let r = bearer(Method::POST, &agent_path, &token).await.unwrap();
    assert_eq!(r.status(), 404, "accepted: no such agent route");
    let r = bearer(Method::POST, &agent_path, "not-a-token")
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .request(Method::POST, &agent_path, None, None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no token");
    let r = app
        .request(Method::POST, &agent_path, Some(&admin), Some(&admin.csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a session does not open the agent API");
    // An agent token is not a session anywhere else.
    let anonymous = app
        .request(Method::GET, "/api/v1/audit", None, None)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(anonymous, 401);
    let r = bearer(Method::GET, "/api/v1/audit", &token).await.unwrap();
    assert_eq!(r.status(), anonymous, "read as anonymous, no more");
    let r = bearer(
        Method::POST,
        "/api/v1/containers/some-container/restart",
        &token,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    // A new token replaces the old one.
    let fresh = app.agent_token("gpu-01").await;
    assert_eq!(
        bearer(Method::POST, &agent_path, &token)
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        bearer(Method::POST, &agent_path, &fresh)
            .await
            .unwrap()
            .status(),
        404
    );
    app.stop().await;
}
