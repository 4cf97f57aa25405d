//! Model backends: a real llama.cpp server (built from PyPI's sources, SmolLM2-135M), and the
//! Ollama and vLLM stand-ins of `steward_tests::model_servers` (labelled there: neither can run
//! here) for what only they do — load and unload, a model that does not fit, garbage, 500s and
//! a server that accepts and never answers.

use std::time::{Duration, Instant};

use server::config::ModelBackendConfig;
use steward_tests::model_servers::{self, LlamaServer, Mode, HUGE, SMALL};

use crate::helpers::{spawn_app, Session, TestApp};

/// Starts a load (202 with the verdict and its progress stream) and reads the progress to
/// its last event (`loaded` or `failed`).
async fn load(
    app: &TestApp,
    admin: &Session,
    backend: &str,
    body: serde_json::Value,
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let r = app
        .act(admin, &format!("/api/v1/models/{backend}/load"), Some(body))
        .await;
    assert_eq!(r.status(), 202);
    let started: serde_json::Value = r.json().await.unwrap();
    let mut stream = app
        .request(
            reqwest::Method::GET,
            started["events"].as_str().unwrap(),
            Some(admin),
            None,
        )
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let events = crate::helpers::sse_data(&text);
        if events
            .last()
            .is_some_and(|e| e["phase"] == "loaded" || e["phase"] == "failed")
        {
            return (started, events);
        }
        assert!(Instant::now() < deadline, "load did not finish: {text}");
        match tokio::time::timeout(Duration::from_secs(60), stream.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("load stream ended early ({other:?}): {text}"),
        }
    }
}

fn phases(events: &[serde_json::Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["phase"].as_str().unwrap())
        .collect()
}

fn backend(name: &str, kind: &str, url: &str, timeout_secs: u64) -> ModelBackendConfig {
    ModelBackendConfig {
        name: name.into(),
        kind: serde_json::from_value(serde_json::json!(kind)).unwrap(),
        url: url.into(),
        token_file: None,
        timeout_secs,
    }
}

fn find<'a>(models: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    models["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .unwrap_or_else(|| panic!("backend {name} in {models:#}"))
}

/// Waits until llama-server answers `/health` with 200 (it loads the model first).
async fn ready(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("{url}/health")).await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "llama-server at {url} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_llama_server_slots_counters_memory_and_the_estimate_within_15_percent() {
    // Two contexts, as the pre-load estimate is checked at two sizes.
    let small = LlamaServer::start(512);
    let large = LlamaServer::start(8192);
    ready(&small.url).await;
    ready(&large.url).await;
    let (small_url, large_url) = (small.url.clone(), large.url.clone());
    let app = spawn_app(move |c, _| {
        // The real /proc: Steward finds each server's process by its port; the real root:
        // it reads the served GGUF's header at the path llama-server reports.
        c.paths.procfs = "/proc".into();
        c.paths.rootfs = "/".into();
        c.models.interval_secs = 1;
        c.models.backends = vec![
            backend("llama-512", "llamacpp", &small_url, 5),
            backend("llama-8k", "llamacpp", &large_url, 5),
        ];
    })
    .await;
    let m = app
        .wait_json("/api/v1/models", Duration::from_secs(30), |m| {
            ["llama-512", "llama-8k"].iter().all(|n| {
                let b = find(m, n);
                b["state"] == "ok"
                    && b["process_rss_bytes"].is_u64()
                    && b["architecture"].is_object()
            })
        })
        .await;
    let b = find(&m, "llama-8k");
    assert_eq!(b["kind"], "llamacpp");
    assert_eq!(b["breaker"]["state"], "closed");
    assert_eq!(b["slots_total"], 4, "{b:#}");
    assert_eq!(b["slots_busy"], 0);
    assert_eq!(b["slot_context"], 8192);
    assert_eq!(b["architecture"]["layers"], 30, "read from the GGUF header");
    assert_eq!(b["architecture"]["kv_heads"], 3);
    assert_eq!(b["architecture"]["vocab"], 49152);
    assert_eq!(b["control"]["mode"], "read_only");
    assert!(b["models"][0]["size_bytes"].as_u64().unwrap() > 90_000_000);
    assert_eq!(b["loaded"].as_array().unwrap().len(), 1);

    // One request to each; the token counters move, and tokens/s shows between two checks.
    let client = reqwest::Client::new();
    for url in [&small.url, &large.url] {
        let r = client
            .post(format!("{url}/completion"))
            .json(&serde_json::json!({"prompt": "The weather today is", "n_predict": 24}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let m = app
        .wait_json("/api/v1/models", Duration::from_secs(15), |m| {
            find(m, "llama-8k")["tokens_per_s"]
                .as_f64()
                .is_some_and(|t| t > 0.0)
        })
        .await;
    assert_eq!(find(&m, "llama-8k")["requests_running"], 0.0);

    // The estimate against the server's real memory after one request, at both contexts.
    for (name, server, ctx) in [("llama-512", &small, 512), ("llama-8k", &large, 8192)] {
        let model = find(&m, name)["models"][0]["name"]
            .as_str()
            .unwrap()
            .to_string();
        let v = app
            .json(&format!(
                "/api/v1/models/{name}/estimate?model={}&context={ctx}",
                model.replace('/', "%2F")
            ))
            .await;
        let estimated = v["estimate"]["total_bytes"].as_f64().unwrap();
        let measured = server.rss_bytes() as f64;
        let error = estimated / measured - 1.0;
        println!(
            "estimate {name}: {estimated:.0} B, measured {measured:.0} B, error {:+.1} %",
            error * 100.0
        );
        assert!(
            error.abs() <= 0.15,
            "{name}: estimate {estimated} vs measured {measured}"
        );
        assert!(v["estimate"]["kv_cache_bytes"].as_u64().unwrap() > 0);
        assert_eq!(v["target"]["label"], "RAM");
        assert!(["fits", "tight", "does_not_fit"].contains(&v["fit"].as_str().unwrap()));
    }

    // Read-only backends refuse loads with the reason.
    let admin = app.admin().await;
    let r = app
        .act(
            &admin,
            "/api/v1/models/llama-8k/load",
            Some(serde_json::json!({"model": "x"})),
        )
        .await;
    assert_eq!(r.status(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("read-only"),
        "{body}"
    );

    // History per backend: the latency and tokens/s trends have a line for each.
    let t = app
        .wait_json(
            "/api/v1/trend/model_latency?range=1h",
            Duration::from_secs(15),
            |t| {
                t["series"].as_array().is_some_and(|s| {
                    s.iter().any(|l| {
                        l["key"] == "model_check_ms:llama-8k"
                            && !l["points"].as_array().unwrap().is_empty()
                    })
                })
            },
        )
        .await;
    assert_eq!(t["source"], "sqlite");
    app.wait_json(
        "/api/v1/trend/model_tokens?range=1h",
        Duration::from_secs(15),
        |t| {
            t["series"]
                .as_array()
                .is_some_and(|s| s.iter().any(|l| l["key"] == "model_tokens_per_s:llama-8k"))
        },
    )
    .await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("steward_model_backend_up{backend=\"llama-8k\",kind=\"llamacpp\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("steward_model_backend_slots_busy{backend=\"llama-8k\""));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_llama_router_loads_with_streamed_progress_measures_and_unloads() {
    // Router mode: a llama-server started without -m over a folder of GGUF files (the real
    // SmolLM2 and a damaged file whose instance exits), nothing loaded until asked.
    let models_dir = tempfile::tempdir().unwrap();
    let small = models_dir.path().join("smollm2.gguf");
    std::fs::copy(model_servers::llama_dir().join("model.gguf"), &small).unwrap();
    std::fs::write(models_dir.path().join("broken.gguf"), b"GGUF not really").unwrap();
    let router = LlamaServer::router(models_dir.path(), 1024);
    ready(&router.url).await;
    let url = router.url.clone();
    let app = spawn_app(move |c, _| {
        c.paths.procfs = "/proc".into();
        c.paths.rootfs = "/".into();
        c.models.interval_secs = 1;
        c.models.backends = vec![backend("router", "llamacpp", &url, 5)];
    })
    .await;
    let admin = app.admin().await;
    let m = app
        .wait_json("/api/v1/models", Duration::from_secs(30), |m| {
            let b = find(m, "router");
            b["state"] == "ok" && b["models"].as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
    let b = find(&m, "router");
    assert_eq!(b["control"]["mode"], "llamacpp_router", "{b:#}");
    assert!(b["loaded"].as_array().unwrap().is_empty());
    let disk = b["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "smollm2")
        .unwrap();
    assert_eq!(
        disk["size_bytes"].as_u64().unwrap(),
        std::fs::metadata(&small).unwrap().len(),
        "the size of the file the router serves"
    );
    assert_eq!(disk["load_context"], 1024);

    // The check reads the architecture from the model's GGUF; the context is the router's.
    let v: serde_json::Value = app
        .get_as("/api/v1/models/router/estimate?model=smollm2", &admin)
        .await
        .json()
        .await
        .unwrap();
    // 2 × 30 layers × 1,024 tokens × 3 KV heads × 64 × 2 bytes.
    assert_eq!(v["estimate"]["kv_cache_bytes"], 23_592_960, "{v:#}");
    let r = app
        .get_as(
            "/api/v1/models/router/estimate?model=smollm2&context=4096",
            &admin,
        )
        .await;
    assert_eq!(r.status(), 400, "a router's context is fixed");

    // A load streams its progress; a second load on the same backend while one runs is
    // refused; the damaged file's instance exits, and the job and the card say so.
    let r = app
        .act(
            &admin,
            "/api/v1/models/router/load",
            Some(serde_json::json!({"model": "broken"})),
        )
        .await;
    assert_eq!(r.status(), 202);
    let broken: serde_json::Value = r.json().await.unwrap();
    let busy = app
        .act(
            &admin,
            "/api/v1/models/router/load",
            Some(serde_json::json!({"model": "smollm2"})),
        )
        .await;
    assert_eq!(busy.status(), 409, "one load at a time per backend");
    let text = app
        .request(
            reqwest::Method::GET,
            broken["events"].as_str().unwrap(),
            Some(&admin),
            None,
        )
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#""phase":"failed""#), "{text}");
    assert!(text.contains("exited with code"), "{text}");
    app.wait_json("/api/v1/models", Duration::from_secs(10), |m| {
        find(m, "router")["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "broken" && d["load_error"].is_string())
    })
    .await;

    // The real load: started, loading, loaded with the instance's memory.
    let (started, events) = load(
        &app,
        &admin,
        "router",
        serde_json::json!({"model": "smollm2"}),
    )
    .await;
    let ph = phases(&events);
    assert_eq!(ph.first(), Some(&"started"), "{events:#?}");
    assert!(ph.contains(&"loading"), "{events:#?}");
    assert_eq!(ph.last(), Some(&"loaded"), "{events:#?}");
    let measured = events.last().unwrap()["measured_bytes"].as_u64().unwrap();
    let estimated = started["verdict"]["estimate"]["total_bytes"]
        .as_u64()
        .unwrap();
    eprintln!(
        "router load: estimated {estimated} B, instance RSS {measured} B, error {:+.1} %",
        (estimated as f64 / measured as f64 - 1.0) * 100.0
    );
    assert!(measured > 50_000_000, "the instance's memory: {measured}");

    // The next rounds show it loaded with the instance's memory, slots and the lesson learned
    // (a round that ran while the load was being measured can show it loaded before the
    // lesson, so the wait is for both); a request moves the router's counters.
    app.wait_json("/api/v1/models", Duration::from_secs(20), |m| {
        let b = find(m, "router");
        b["loaded"][0]["name"] == "smollm2"
            && b["loaded"][0]["size_bytes"].is_u64()
            && b["slots_total"] == 1
            && b["estimate_error"]["samples"] == 1
    })
    .await;
    let r = reqwest::Client::new()
        .post(format!("{}/v1/completions", router.url))
        .json(&serde_json::json!({"model": "smollm2", "prompt": "The weather today is", "max_tokens": 16}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.wait_json("/api/v1/models", Duration::from_secs(20), |m| {
        find(m, "router")["tokens_per_s"]
            .as_f64()
            .is_some_and(|t| t > 0.0)
    })
    .await;

    // Unload, audited; the router says unloaded on the next round.
    let r = app
        .act(
            &admin,
            "/api/v1/models/router/unload",
            Some(serde_json::json!({"model": "smollm2"})),
        )
        .await;
    assert_eq!(r.status(), 204);
    app.wait_json("/api/v1/models", Duration::from_secs(20), |m| {
        find(m, "router")["loaded"].as_array().unwrap().is_empty()
    })
    .await;
    let r = app
        .act(
            &admin,
            "/api/v1/models/router/unload",
            Some(serde_json::json!({"model": "smollm2"})),
        )
        .await;
    assert_eq!(r.status(), 502, "the router's own refusal");
    let refusal = r.text().await.unwrap();
    assert!(refusal.contains("model is not running"), "{refusal}");
    let audit = app.audit_log(&admin).await;
    let actions: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["result"].as_str().unwrap(),
            )
        })
        .collect();
    for want in [
        ("model-load", "router/broken", "failed"),
        ("model-load", "router/smollm2", "ok"),
        ("model-unload", "router/smollm2", "ok"),
        ("model-unload", "router/smollm2", "failed"),
    ] {
        assert!(actions.contains(&want), "{want:?} in {actions:?}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ollama_stand_in_verdicts_load_unload_audit_and_failures() {
    let ollama = model_servers::ollama().await;
    let url = ollama.url.clone();
    let app = spawn_app(move |c, _| {
        c.auth.anonymous_read = false;
        c.models.interval_secs = 1;
        c.models.backends = vec![backend("ollama", "ollama", &url, 2)];
    })
    .await;
    let admin = app.admin().await;
    let wait = |ok: fn(&serde_json::Value) -> bool| {
        let app = &app;
        let admin = &admin;
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let m: serde_json::Value = app
                    .get_as("/api/v1/models", admin)
                    .await
                    .json()
                    .await
                    .unwrap();
                if ok(&m) {
                    return m;
                }
                assert!(Instant::now() < deadline, "timed out; last {m:#}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let m = wait(|m| find(m, "ollama")["state"] == "ok").await;
    let b = find(&m, "ollama");
    assert_eq!(b["version"], "0.12.6");
    assert_eq!(b["models"].as_array().unwrap().len(), 2);
    assert_eq!(b["models"][0]["quantization"], "F16");
    assert_eq!(b["control"]["mode"], "ollama");
    assert!(m["memory"]["available_bytes"].is_u64());

    // The pre-load check: the small model fits the fixture's RAM, the 405B does not.
    let fits: serde_json::Value = app
        .get_as(
            &format!("/api/v1/models/ollama/estimate?model={SMALL}&context=4096"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fits["fit"], "fits", "{fits:#}");
    // 2 × 30 × 4096 × 3 × 64 × 2 bytes.
    assert_eq!(fits["estimate"]["kv_cache_bytes"], 94_371_840);
    let huge: serde_json::Value = app
        .get_as(
            &format!("/api/v1/models/ollama/estimate?model={HUGE}"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(huge["fit"], "does_not_fit");
    assert!(
        huge["text"].as_str().unwrap().starts_with("Does not fit"),
        "{huge}"
    );
    let unknown = app
        .get_as("/api/v1/models/ollama/estimate?model=nope", &admin)
        .await;
    assert_eq!(unknown.status(), 404);
    let bad = app
        .get_as(
            &format!("/api/v1/models/ollama/estimate?model={SMALL}&context=5"),
            &admin,
        )
        .await;
    assert_eq!(bad.status(), 400);

    // Load: checked, started as a job whose progress streams (the stand-in takes 2.5 s, so
    // the job says it is still loading), loaded, measured, audited; the next round shows it.
    let (started, events) = load(
        &app,
        &admin,
        "ollama",
        serde_json::json!({"model": SMALL, "context": 4096}),
    )
    .await;
    assert_eq!(started["verdict"]["fit"], "fits");
    let ph = phases(&events);
    assert_eq!(ph.first(), Some(&"started"), "{events:#?}");
    assert_eq!(ph.last(), Some(&"loaded"), "{events:#?}");
    assert!(
        events
            .iter()
            .any(|e| e["message"].as_str().unwrap().starts_with("Still loading")),
        "{events:#?}"
    );
    let measured_bytes = events.last().unwrap()["measured_bytes"].as_u64().unwrap();
    assert!(measured_bytes > 0);
    assert_eq!(ollama.loaded(), vec![SMALL.to_string()]);
    // The panel learns from the load: a round that ran while the load was being measured can
    // show it loaded before the lesson, so the wait is for both.
    let m = wait(|m| {
        let b = find(m, "ollama");
        b["loaded"].as_array().unwrap().len() == 1 && b["estimate_error"]["samples"] == 1
    })
    .await;
    let b = find(&m, "ollama");
    assert_eq!(b["loaded"][0]["name"], SMALL);
    assert!(b["models"][0]["last_used_ms"].is_i64());
    // The load is kept with its estimate and measured size (the lesson survives a restart).
    let store = server::store::history::HistoryStore::open(&app.db)
        .await
        .unwrap();
    let (estimated, measured): (i64, i64) = sqlx::query_as(
        "SELECT estimated_bytes, measured_bytes FROM model_loads WHERE backend = 'ollama' AND model = ?",
    )
    .bind(SMALL)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(measured as u64, measured_bytes);
    assert_eq!(
        estimated as u64,
        started["verdict"]["estimate"]["total_bytes"]
            .as_u64()
            .unwrap()
    );
    // A model that does not fit: the backend's refusal ends the job with its words.
    let (_, events) = load(&app, &admin, "ollama", serde_json::json!({"model": HUGE})).await;
    let last = events.last().unwrap();
    assert_eq!(last["phase"], "failed");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("more system memory"),
        "{last}"
    );
    let r = app.get_as("/api/v1/models/loads/999/events", &admin).await;
    assert_eq!(r.status(), 404);

    // Unload.
    let r = app
        .act(
            &admin,
            "/api/v1/models/ollama/unload",
            Some(serde_json::json!({"model": SMALL})),
        )
        .await;
    assert_eq!(r.status(), 204);
    assert!(ollama.loaded().is_empty());
    let audit = app.audit_log(&admin).await;
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["result"].as_str().unwrap()))
        .collect();
    assert!(actions.contains(&("model-load", "ok")), "{actions:?}");
    assert!(actions.contains(&("model-load", "failed")));
    assert!(actions.contains(&("model-unload", "ok")));
    let load_entry = audit
        .iter()
        .find(|e| e["action"] == "model-load" && e["result"] == "ok")
        .unwrap();
    assert!(
        load_entry["detail"].as_str().unwrap().starts_with("Fits"),
        "{load_entry}"
    );

    // A viewer cannot load.
    app.add_user("viewer", app::auth::Role::Viewer, "viewer-password-1")
        .await;
    let viewer = app.login("viewer", "viewer-password-1").await;
    let r = app
        .act(
            &viewer,
            "/api/v1/models/ollama/load",
            Some(serde_json::json!({"model": SMALL})),
        )
        .await;
    assert_eq!(r.status(), 403);

    // Failures are said, with the endpoint and the reason.
    ollama.set_mode(Mode::Garbage);
    let m = wait(|m| find(m, "ollama")["state"] == "down").await;
    let err = find(&m, "ollama")["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("/api/version: not the JSON expected"), "{err}");
    ollama.set_mode(Mode::Ok);
    wait(|m| find(m, "ollama")["state"] == "ok").await;
    ollama.set_mode(Mode::Error500);
    let m = wait(|m| find(m, "ollama")["state"] == "down").await;
    assert!(find(&m, "ollama")["last_error"]
        .as_str()
        .unwrap()
        .contains("HTTP 500"));
    let status = &m["status"];
    assert_eq!(
        status["state"], "degraded",
        "a down backend degrades the collector: {status}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_opens_on_a_hung_backend_probes_once_per_cool_off_and_pages_keep_answering() {
    let hung = model_servers::ollama().await;
    hung.set_mode(Mode::Hang);
    let vllm = model_servers::vllm().await;
    let (hung_url, vllm_url) = (hung.url.clone(), vllm.url.clone());
    let app = spawn_app(move |c, _| {
        c.models.interval_secs = 1;
        c.models.breaker_failures = 2;
        c.models.breaker_cool_off_secs = 4;
        c.models.backends = vec![
            backend("hung", "ollama", &hung_url, 1),
            backend("vllm", "vllm", &vllm_url, 2),
        ];
    })
    .await;
    // While the hung backend times out, the page and the API answer at once.
    for path in ["/", "/models", "/api/v1/models"] {
        let t = Instant::now();
        assert_eq!(app.get(path).await.status(), 200);
        assert!(
            t.elapsed() < Duration::from_millis(800),
            "{path} took {:?}",
            t.elapsed()
        );
    }
    let m = app
        .wait_json("/api/v1/models", Duration::from_secs(20), |m| {
            find(m, "hung")["breaker"]["state"] == "open"
        })
        .await;
    let h = find(&m, "hung");
    assert_eq!(h["state"], "down");
    assert!(
        h["last_error"]
            .as_str()
            .unwrap()
            .contains("no answer within 1 s"),
        "{h}"
    );
    assert_eq!(h["breaker"]["opened_total"], 1);
    // The other backend is unaffected: vLLM's queue, the old KV-cache name, TTFT.
    let v = find(&m, "vllm");
    assert_eq!(v["state"], "ok", "{v:#}");
    assert_eq!(v["version"], "0.6.3");
    assert_eq!(v["requests_running"], 3.0);
    assert_eq!(v["requests_waiting"], 5.0);
    assert_eq!(v["kv_cache_pct"], 62.5);
    assert!(
        (v["ttft_p50_s"].as_f64().unwrap() - 0.088).abs() < 1e-9,
        "{v}"
    );
    assert_eq!(v["ttft_p95_s"], 0.75);
    // Open: skipped rounds, then one probe per cool-off that fails again.
    let m = app
        .wait_json("/api/v1/models", Duration::from_secs(20), |m| {
            find(m, "hung")["breaker"]["probes_total"].as_u64().unwrap() >= 1
                && find(m, "hung")["breaker"]["state"] == "open"
        })
        .await;
    let b = &find(&m, "hung")["breaker"];
    assert!(b["skipped_total"].as_u64().unwrap() >= 2, "{b}");
    assert_eq!(
        b["opened_total"], 1,
        "a failed probe re-opens, it is not a new opening"
    );
    for path in ["/", "/models"] {
        let t = Instant::now();
        assert_eq!(app.get(path).await.status(), 200);
        assert!(
            t.elapsed() < Duration::from_millis(800),
            "{path} took {:?}",
            t.elapsed()
        );
    }
    // It answers again: the next probe closes the breaker.
    hung.set_mode(Mode::Ok);
    let m = app
        .wait_json("/api/v1/models", Duration::from_secs(20), |m| {
            find(m, "hung")["breaker"]["state"] == "closed"
        })
        .await;
    assert_eq!(find(&m, "hung")["state"], "ok");
    app.stop().await;
}

#[tokio::test]
async fn an_amd_gpu_shows_on_the_overview_the_models_page_and_in_metrics() {
    // node_exporter's drm fixture (an amdgpu card0) under `--path.sysfs`.
    let app = spawn_app(|c, _| {
        c.paths.sysfs = crate::helpers::fixtures().join("sysfs-amdgpu");
        c.models.interval_secs = 1;
    })
    .await;
    let m = app
        .wait_json("/api/v1/models", Duration::from_secs(15), |m| {
            m["gpus"]["state"] == "ok"
        })
        .await;
    let g = &m["gpus"]["gpus"][0];
    assert_eq!(g["name"], "AMD GPU (card0)");
    assert_eq!(g["util_pct"], 4.0);
    assert_eq!(g["vram_total_bytes"], 8_573_157_376u64);
    // The overview renders a card for it, with the same readings, linking to the models page.
    let deadline = Instant::now() + Duration::from_secs(15);
    let html = loop {
        let html = app.get("/").await.text().await.unwrap();
        if html.contains(r#"data-testid="gpu-card""#) {
            break html;
        }
        assert!(Instant::now() < deadline, "no GPU card on the overview");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for want in [
        "GPU 0 · AMD GPU (card0)",
        "4 % busy",
        "1.5 GB / 8.6 GB VRAM (17 %)",
        "51 °C · 25 W / 150 W",
        r#"href="/models""#,
    ] {
        assert!(html.contains(want), "{want:?} on the overview");
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("steward_gpu_utilization_ratio{gpu=\"0\"")
                && l.ends_with(" 0.04")),
        "{metrics}"
    );
    // Without a GPU (the plain fixture) the overview has no GPU section.
    let plain = spawn_app(|c, _| c.models.interval_secs = 1).await;
    plain
        .wait_json("/api/v1/models", Duration::from_secs(15), |m| {
            m["gpus"]["state"] == "none"
        })
        .await;
    assert!(!plain
        .get("/")
        .await
        .text()
        .await
        .unwrap()
        .contains("overview-gpus"));
    plain.stop().await;
    app.stop().await;
}
