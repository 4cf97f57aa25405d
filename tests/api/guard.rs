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
        .chain(USER_ACTIONS)
        .chain([&server::http::api::EXPLORE])
        .map(|p| (Method::POST, p.replace("{id}", "some-container")))
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
