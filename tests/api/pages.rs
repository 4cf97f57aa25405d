//! The overview page is rendered on the server with the score and vitals in the HTML, and the
//! live stream sends overview events. The container page renders its first rows only.

use std::time::Duration;

use app::containers::{Containers, Health, PAGE_ROWS};

use crate::helpers::{spawn_app, CpuTicker};

#[tokio::test]
async fn overview_html_has_score_and_vitals_before_any_script() {
    let app = spawn_app(|_, _| {}).await;
    let _ticker = CpuTicker::start(app.procfs());
    let score = app
        .wait_json("/api/v1/score", Duration::from_secs(15), |s| {
            s["known"] == 4
        })
        .await;
    let r = app.get("/").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let value = score["value"].as_u64().unwrap();
    assert!(
        html.contains(&format!(">{value}</text>")),
        "score {value} not in SSR HTML"
    );
    assert!(html.contains("based on 4 of 6 dimensions"));
    assert!(html.contains("fixture-host"));
    assert!(html.contains("data-metric=\"cpu_steal_pct\""));
    assert!(html.contains("CPU steal"));
    assert!(html.contains("Docker monitoring is off"));
    assert!(html.contains("/pkg/steward.js"), "hydration script linked");
    // The worst current state travels with the score and names the page.
    let verdict = &score["verdict"];
    let level = verdict["level"].as_str().unwrap();
    assert!(["ok", "warn", "crit"].contains(&level), "{verdict}");
    assert!(
        html.contains("Steward — fixture-host</title>"),
        "the title names the host and carries the state"
    );
    app.stop().await;
}

#[tokio::test]
async fn explore_says_up_front_that_prometheus_is_not_configured() {
    let app = spawn_app(|_, _| {}).await;
    let admin = app.admin().await;
    let html = app.get_as("/trends", &admin).await.text().await.unwrap();
    assert!(
        html.contains("explore-unconfigured") && html.contains("prometheus.url"),
        "the explore box says Prometheus is not configured before anyone types"
    );
    app.stop().await;
}

#[tokio::test]
async fn page_says_no_data_when_the_collector_fails() {
    let app = spawn_app(|c, dir| c.paths.procfs = dir.join("missing")).await;
    app.wait_json("/api/v1/vitals", Duration::from_secs(15), |v| {
        v["collectors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["state"] == "error")
    })
    .await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("No vitals yet"), "no-data message");
    assert!(
        html.contains("missing/stat"),
        "collector error shown with its message"
    );
    app.stop().await;
}

#[tokio::test]
async fn stream_sends_overview_events() {
    let app = spawn_app(|_, _| {}).await;
    let mut r = app.get("/api/v1/stream").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    // The first event is the current state; later ones follow each round. Wait for one with vitals.
    while !seen.contains("\"host\":\"fixture-host\"") {
        let chunk = tokio::time::timeout_at(deadline, r.chunk())
            .await
            .expect("an event with vitals within 15 s")
            .unwrap()
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.starts_with("data: {"), "{seen}");
    drop(r);
    app.stop().await;
}

/// The container panel's server function, by its registered path.
fn get_containers_path() -> String {
    server::http::guard::server_functions()
        .into_iter()
        .map(|(path, _)| path)
        .find(|p| p.contains("get_containers"))
        .expect("get_containers is registered")
}

#[tokio::test]
async fn container_page_renders_the_first_rows_and_counts_all() {
    let app = spawn_app(|_, _| {}).await;
    // 150 recorded containers, 3 of them unhealthy (the 8th, 58th and 108th): they must make
    // the first rows.
    let items = steward_tests::snapshot::mostly_healthy(150);
    let unhealthy: Vec<String> = items
        .iter()
        .filter(|c| c.health == Health::Unhealthy)
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(unhealthy.len(), 3);
    app.hub
        .publish_containers(Some(items), steward_tests::snapshot::docker_ok());

    let html = app.get("/containers").await.text().await.unwrap();
    assert_eq!(
        html.matches("data-container=").count(),
        PAGE_ROWS,
        "the page renders the first rows only"
    );
    for name in &unhealthy {
        assert!(
            html.contains(&format!("data-container=\"{name}\"")),
            "unhealthy {name} is among the first rows"
        );
    }
    assert!(html.contains(&format!(
        "Showing the first {PAGE_ROWS} of 150; loading the rest"
    )));
    assert!(
        html.contains("All (150)"),
        "chip counts cover every container"
    );
    assert!(html.contains("Unhealthy (3)"));

    // The browser's follow-up read gets everything; the first-rows read is cut with counts.
    let path = get_containers_path();
    let all: Containers = app
        .get(&format!("{path}?first_rows=false"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.items.as_ref().map(Vec::len), Some(150));
    assert_eq!(all.partial, None);
    let first: Containers = app
        .get(&format!("{path}?first_rows=true"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first.items.as_ref().map(Vec::len), Some(PAGE_ROWS));
    assert_eq!(first.partial.as_ref().map(|k| k.all), Some(150));
    assert_eq!(first.partial.as_ref().map(|k| k.unhealthy), Some(3));
    // The REST API is unchanged: every container, never partial.
    let rest: serde_json::Value = app.get("/api/v1/containers").await.json().await.unwrap();
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(150));
    assert!(rest.get("partial").is_none());
    app.stop().await;
}

/// The WASM chunks a page's HTML asks the browser to preload (`<link rel="preload">`), in order.
fn preloads(html: &str) -> Vec<String> {
    html.split("<link ")
        .skip(1)
        .filter_map(|tag| {
            let tag = &tag[..tag.find('>')?];
            if !tag.contains("rel=\"preload\"") {
                return None;
            }
            let href = tag.split("href=\"").nth(1)?;
            Some(href[..href.find('"')?].to_string())
        })
        .collect()
}

/// Pages rendered at the same time each get their own route's chunk preloads, once each: with
/// leptos_integration_utils 0.8.9 as published, concurrent renders put their links into each
/// other's pages (1,200 links on one `/fleet` under load) or into none (vendor/README.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pages_each_preload_their_own_chunks_once() {
    let site = std::env::var("STEWARD_SITE_ROOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/site")
        });
    let manifest = site.join("pkg/__wasm_split_manifest.json");
    assert!(
        manifest.exists(),
        "this test needs the release site with split chunks ({}); make test builds it",
        manifest.display()
    );
    let manifest: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let chunks_of = |route: &str| -> Vec<String> {
        let (_, chunks) = manifest
            .iter()
            .find(|(key, _)| {
                key.strip_prefix(&format!("__{route}_route_view_"))
                    .is_some_and(|hash| hash.chars().all(|c| c.is_ascii_digit()))
            })
            .unwrap_or_else(|| panic!("no split manifest entry for the {route} route"));
        let mut want: Vec<String> = chunks.iter().map(|c| format!("/pkg/{c}.wasm")).collect();
        want.push("/pkg/steward.wasm".into());
        want.sort();
        want
    };
    let pages = [
        ("/fleet", chunks_of("fleet")),
        ("/trends", chunks_of("trends")),
        ("/models", chunks_of("models")),
        ("/", vec!["/pkg/steward.wasm".to_string()]),
    ];

    let dir = tempfile::tempdir().unwrap();
    let port = steward_tests::free_port();
    let mut hub = crate::fleet_durability::spawn_serve_with_site(
        dir.path(),
        port,
        "[auth]\nanonymous_read = true\n[docker]\nenabled = false\n",
        "preload-test-password",
        &site,
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let rounds: Vec<(usize, Vec<String>)> = futures::future::join_all((0..64).map(|i| {
        let page = i % pages.len();
        let (client, url) = (client.clone(), format!("{base}{}", pages[page].0));
        async move {
            let html = client.get(&url).send().await.unwrap().text().await.unwrap();
            (page, preloads(&html))
        }
    }))
    .await;
    hub.kill().unwrap();
    hub.wait().unwrap();
    for (page, mut got) in rounds {
        let (path, want) = &pages[page];
        let all = got.len();
        got.sort();
        got.dedup();
        assert_eq!(all, got.len(), "{path} preloads a chunk more than once");
        assert_eq!(
            &got, want,
            "{path} preloads another page's chunks, or not its own"
        );
    }
}
