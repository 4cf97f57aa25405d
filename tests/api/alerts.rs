//! Alerts end to end: the real server on the fixture procfs, with steal moved by the test;
//! notices go to receivers on loopback (a webhook recorder, and the Telegram and ntfy
//! stand-ins of `tests/receivers.rs`, which cannot be reached from here), to a real SMTP server
//! (aiosmtpd, `tests/smtp.rs`) and to a dead port.

use std::time::{Duration, Instant};

use steward_tests::receivers::{Receivers, TELEGRAM_CHAT, TELEGRAM_TOKEN};
use steward_tests::smtp::SmtpServer;

use crate::helpers::{spawn_app, CpuTicker, TestApp};

const SECRET: &str = "webhook-secret-1";

/// Waits until `f` is true, or fails after `timeout` saying what was awaited.
async fn until(what: &str, timeout: Duration, f: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The webhook bodies about `rule`, in order.
fn hook_notices(rx: &Receivers, rule: &str) -> Vec<serde_json::Value> {
    rx.received("/hook/ops")
        .iter()
        .map(|r| r.json())
        .filter(|v| v["alert"]["rule"] == rule)
        .collect()
}

async fn alert(app: &TestApp, rule: &str) -> Option<serde_json::Value> {
    let v = app.json("/api/v1/alerts").await;
    v["active"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == rule)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steal_fires_to_every_notifier_after_for_and_resolves_once() {
    let rx = Receivers::start().await;
    let smtp = SmtpServer::start();
    let smtp_port = smtp.port;
    let dead = steward_tests::free_port();
    let base = rx.base.clone();
    let app = spawn_app(move |c, dir| {
        let secret = dir.join("hook.secret");
        std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
        let token = dir.join("bot.token");
        std::fs::write(&token, TELEGRAM_TOKEN).unwrap();
        c.alerts.for_secs = 2;
        c.alerts.webhooks = vec![
            server::config::WebhookConfig {
                name: "ops".into(),
                url: format!("{base}/hook/ops"),
                secret_file: Some(secret),
                timeout_secs: 5,
                min_severity: server::config::MinSeverity::Warning,
            },
            server::config::WebhookConfig {
                name: "dead".into(),
                url: format!("http://127.0.0.1:{dead}/hook"),
                secret_file: None,
                timeout_secs: 2,
                min_severity: server::config::MinSeverity::Warning,
            },
        ];
        c.alerts.telegram = vec![server::config::TelegramConfig {
            name: "tg".into(),
            token_file: token,
            chat_id: TELEGRAM_CHAT.into(),
            api_url: base.clone(),
            timeout_secs: 5,
            min_severity: server::config::MinSeverity::Warning,
        }];
        c.alerts.ntfy = vec![server::config::NtfyConfig {
            name: "phone".into(),
            url: format!("{base}/ntfy"),
            topic: "steward-alerts".into(),
            token_file: None,
            timeout_secs: 5,
            min_severity: server::config::MinSeverity::Warning,
        }];
        c.alerts.email = vec![server::config::EmailConfig {
            name: "mail".into(),
            host: "127.0.0.1".into(),
            port: Some(smtp_port),
            tls: server::config::SmtpTls::None,
            username: None,
            password_file: None,
            from: "Steward <steward@example.test>".into(),
            to: vec![
                "ops@example.test".into(),
                "Night Shift <night@example.test>".into(),
            ],
            timeout_secs: 5,
            min_severity: server::config::MinSeverity::Warning,
        }];
    })
    .await;
    let ticker = CpuTicker::start(app.procfs());
    ticker.set_steal_pct(1.0);
    app.wait_json("/api/v1/vitals", Duration::from_secs(10), |v| {
        v["vitals"]["metrics"].is_array()
            && crate::helpers::metric(v, "cpu_steal_pct", None)["value"]
                .as_f64()
                .is_some_and(|s| s < 2.0)
    })
    .await;
    assert!(
        alert(&app, "cpu_steal_pct").await.is_none(),
        "1 % steal is fine"
    );

    // 7 % steal: above the seed's 5 % warning. It must hold for `for:` (2 s) before it fires,
    // and reach the webhook within `for:` + a round or two (1 s rounds).
    ticker.set_steal_pct(7.0);
    let raised = Instant::now();
    until(
        "the steal warning at the webhook",
        Duration::from_secs(10),
        || !hook_notices(&rx, "cpu_steal_pct").is_empty(),
    )
    .await;
    let took = raised.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "fired after {took:?}, before for: (2 s)"
    );
    let hook = rx.received("/hook/ops");
    let first = hook
        .iter()
        .find(|r| r.json()["alert"]["rule"] == "cpu_steal_pct")
        .unwrap();
    let body = first.json();
    assert_eq!(body["notice"], "firing");
    assert_eq!(body["alert"]["severity"], "warning");
    assert_eq!(body["alert"]["state"], "firing");
    let value = body["alert"]["value"].as_f64().unwrap();
    assert!((6.0..8.0).contains(&value), "value {value}");
    assert_eq!(body["alert"]["threshold"], 5.0);
    // The signature is HMAC-SHA256 over the exact body with the configured secret.
    assert_eq!(
        first.header("x-steward-signature").unwrap(),
        server::alerts::notify::signature(SECRET.as_bytes(), &first.body)
    );
    assert_eq!(first.header("content-type"), Some("application/json"));

    // Telegram: sendMessage to the configured chat, the token in the path only.
    until("the Telegram message", Duration::from_secs(5), || {
        rx.received(&format!("/bot{TELEGRAM_TOKEN}/sendMessage"))
            .iter()
            .any(|r| r.text().contains("cpu_steal_pct"))
    })
    .await;
    let tg = rx.received("/bot");
    let msg = tg
        .iter()
        .find(|r| r.text().contains("cpu_steal_pct"))
        .unwrap()
        .json();
    assert_eq!(msg["chat_id"], TELEGRAM_CHAT);
    let text = msg["text"].as_str().unwrap();
    assert!(
        text.starts_with("🟠 [WARNING] cpu_steal_pct\nCPU steal is 7"),
        "{text}"
    );
    // ntfy: the message as the body, title, priority 4 (high) and a tag.
    let n = rx
        .received("/ntfy/steward-alerts")
        .into_iter()
        .find(|r| r.header("title") == Some("[WARNING] cpu_steal_pct"))
        .expect("the ntfy message");
    assert_eq!(n.header("priority"), Some("4"));
    assert_eq!(n.header("tags"), Some("warning"));
    assert!(n.text().starts_with("CPU steal is 7"), "{}", n.text());
    // Email: one message to both recipients, the title as its subject.
    until("the mail", Duration::from_secs(5), || {
        smtp.messages().iter().any(|m| {
            m.header("subject")
                .is_some_and(|s| s.contains("cpu_steal_pct"))
        })
    })
    .await;
    let mails = smtp.messages();
    let mail = mails
        .iter()
        .find(|m| {
            m.header("subject")
                .is_some_and(|s| s.contains("cpu_steal_pct"))
        })
        .unwrap();
    assert_eq!(mail.header("subject").unwrap(), "[WARNING] cpu_steal_pct");
    assert_eq!(
        mail.header("from").unwrap(),
        "Steward <steward@example.test>"
    );
    let to = mail.header("to").unwrap();
    assert!(
        to.contains("ops@example.test") && to.contains("night@example.test"),
        "{to}"
    );
    assert!(mail.0.contains("CPU steal is 7"), "{}", mail.0);

    // The API shows it firing; /metrics counts it.
    let a = alert(&app, "cpu_steal_pct").await.expect("firing alert");
    assert_eq!(a["state"], "firing");
    assert_eq!(
        a["labels"][0],
        serde_json::json!(["alertname", "cpu_steal_pct"])
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .contains("steward_alerts{state=\"firing\",severity=\"warning\",silenced=\"false\"} "),
        "{metrics}"
    );

    // Still 7 %: no second notice (the repeat interval is hours).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(hook_notices(&rx, "cpu_steal_pct").len(), 1);

    // The dead webhook's deliveries fail after three attempts (1 s + 3 s backoff), counted
    // and shown with the error; the live ones were not held up by it.
    let v = app
        .wait_json("/api/v1/alerts", Duration::from_secs(15), |v| {
            v["notifiers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["name"] == "dead" && n["failed_total"].as_u64() >= Some(1))
        })
        .await;
    let notifiers = v["notifiers"].as_array().unwrap();
    let dead_status = notifiers.iter().find(|n| n["name"] == "dead").unwrap();
    assert_eq!(dead_status["sent_total"], 0);
    assert!(dead_status["last_error"].as_str().unwrap().len() > 5);
    for name in ["ops", "tg", "phone", "mail"] {
        let n = notifiers.iter().find(|n| n["name"] == name).unwrap();
        assert!(n["sent_total"].as_u64().unwrap() >= 1, "{name}: {n}");
        assert_eq!(n["failed_total"], 0, "{name}: {n}");
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(
            "steward_alert_notifications_total{notifier=\"dead\",kind=\"webhook\",result=\"failed\"} "
        ),
        "{metrics}"
    );

    // Back to 1 %: it clears (below 5 − 5 %) and is said to resolve, once.
    ticker.set_steal_pct(1.0);
    until("the resolved notice", Duration::from_secs(10), || {
        hook_notices(&rx, "cpu_steal_pct")
            .iter()
            .any(|v| v["notice"] == "resolved")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let notices: Vec<String> = hook_notices(&rx, "cpu_steal_pct")
        .iter()
        .map(|v| v["notice"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(notices, ["firing", "resolved"]);
    until("the resolved mail", Duration::from_secs(5), || {
        smtp.messages()
            .iter()
            .any(|m| m.header("subject").as_deref() == Some("[RESOLVED] cpu_steal_pct"))
    })
    .await;
    let v = app.json("/api/v1/alerts").await;
    let recent = &v["recent"].as_array().unwrap()[0];
    assert_eq!(recent["rule"], "cpu_steal_pct");
    assert_eq!(recent["state"], "resolved");
    assert!(recent["resolved_ms"].as_i64() > recent["since_ms"].as_i64());
    assert!(alert(&app, "cpu_steal_pct").await.is_none());
    assert!(v["evaluation_us"].as_u64().is_some());
    drop(ticker);
    let dir = app.stop().await;
    // History is in SQLite: a restart shows it again.
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("data/steward.db").display()
    ))
    .await
    .unwrap();
    let (rule, severity): (String, String) =
        sqlx::query_as("SELECT rule, severity FROM alert_history WHERE rule = 'cpu_steal_pct'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (rule.as_str(), severity.as_str()),
        ("cpu_steal_pct", "warning")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledge_silence_and_test_are_admin_actions_and_audited() {
    let rx = Receivers::start().await;
    let base = rx.base.clone();
    let app = spawn_app(|c, dir| {
        let token = dir.join("bot.token");
        std::fs::write(&token, TELEGRAM_TOKEN).unwrap();
        c.alerts.for_secs = 0;
        c.alerts.webhooks = vec![server::config::WebhookConfig {
            name: "ops".into(),
            url: format!("{base}/hook/ops"),
            secret_file: None,
            timeout_secs: 5,
            min_severity: server::config::MinSeverity::Warning,
        }];
        c.alerts.telegram = vec![server::config::TelegramConfig {
            name: "wrong-chat".into(),
            token_file: token,
            chat_id: "12345".into(),
            api_url: base.clone(),
            timeout_secs: 5,
            min_severity: server::config::MinSeverity::Critical,
        }];
    })
    .await;
    let ticker = CpuTicker::start(app.procfs());
    ticker.set_steal_pct(7.0);
    let admin = app.admin().await;
    let v = app
        .wait_json("/api/v1/alerts", Duration::from_secs(10), |v| {
            v["active"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["rule"] == "cpu_steal_pct" && a["state"] == "firing")
        })
        .await;
    // A warning is not sent to a notifier that takes only critical alerts.
    assert!(
        rx.received("/bot").is_empty(),
        "critical-only Telegram got a warning"
    );
    assert_eq!(
        v["notifiers"].as_array().unwrap()[1]["min_severity"],
        "critical"
    );

    // Acknowledge: by key; an unknown key is a 404 that says so.
    let r = app
        .act(
            &admin,
            "/api/v1/alerts/acknowledge",
            Some(serde_json::json!({"key": "cpu_steal_pct"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let acked: serde_json::Value = r.json().await.unwrap();
    assert_eq!(acked["acknowledged_by"], "admin");
    let r = app
        .act(
            &admin,
            "/api/v1/alerts/acknowledge",
            Some(serde_json::json!({"key": "nope"})),
        )
        .await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("no alert nope is firing"));

    // Silence: bad input is refused with the reason; a good one covers the alert.
    let r = app
        .act(
            &admin,
            "/api/v1/alerts/silences",
            Some(serde_json::json!({"matchers": [], "minutes": 60, "comment": "x"})),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("at least one matcher"));
    let r = app
        .act(
            &admin,
            "/api/v1/alerts/silences",
            Some(serde_json::json!({
                "matchers": [["alertname", "cpu_steal_pct"]],
                "minutes": 60,
                "comment": "noisy neighbour, ticket 42"
            })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let silence: serde_json::Value = r.json().await.unwrap();
    let id = silence["id"].as_i64().unwrap();
    let a = alert(&app, "cpu_steal_pct").await.unwrap();
    assert_eq!(a["silenced"], true);
    let v = app.json("/api/v1/alerts").await;
    assert_eq!(v["silences"][0]["comment"], "noisy neighbour, ticket 42");
    assert_eq!(v["silences"][0]["created_by"], "admin");

    // Send test: a working notifier says delivered; a wrong chat says what Telegram said.
    let r = app
        .act(&admin, "/api/v1/alerts/notifiers/ops/test", None)
        .await;
    assert_eq!(r.status(), 200);
    assert!(rx
        .received("/hook/ops")
        .iter()
        .any(|x| x.json()["notice"] == "test"));
    let r = app
        .act(&admin, "/api/v1/alerts/notifiers/wrong-chat/test", None)
        .await;
    assert_eq!(r.status(), 502);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("chat not found"),
        "{body}"
    );
    // The token never shows: not in the error, not in the API.
    assert!(!body.to_string().contains(TELEGRAM_TOKEN));
    assert!(!app
        .json("/api/v1/alerts")
        .await
        .to_string()
        .contains(TELEGRAM_TOKEN));
    let r = app
        .act(&admin, "/api/v1/alerts/notifiers/nope/test", None)
        .await;
    assert_eq!(r.status(), 404);

    // End the silence early.
    let r = app
        .act(
            &admin,
            &format!("/api/v1/alerts/silences/{id}/expire"),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        alert(&app, "cpu_steal_pct").await.unwrap()["silenced"],
        false
    );
    let r = app
        .act(
            &admin,
            &format!("/api/v1/alerts/silences/{id}/expire"),
            None,
        )
        .await;
    assert_eq!(r.status(), 404);

    // Every action is in the audit log, with who and what.
    let log = app.audit_log(&admin).await;
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in [
        "alert-acknowledge",
        "alert-silence",
        "notifier-test",
        "alert-unsilence",
    ] {
        assert!(actions.contains(&a), "{a} missing in {actions:?}");
    }
    let failed_test = log
        .iter()
        .find(|e| e["action"] == "notifier-test" && e["target"] == "wrong-chat")
        .unwrap();
    assert_eq!(failed_test["result"], "failed");
    drop(ticker);
    app.stop().await;
}

/// The top bar's count is rendered into every page's HTML for those who may read, and not
/// into the sign-in page for a visitor when anonymous reading is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_badge_is_in_the_html_only_for_readers() {
    let app = spawn_app(|c, _| {
        c.auth.anonymous_read = false;
        c.alerts.for_secs = 0;
        c.alerts.rules.insert(
            "cpu_busy_pct".into(),
            server::config::RuleOverride {
                warn: Some(-1.0),
                ..Default::default()
            },
        );
    })
    .await;
    let _ticker = CpuTicker::start(app.procfs());
    let admin = app.admin().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: serde_json::Value = app
            .get_as("/api/v1/alerts", &admin)
            .await
            .json()
            .await
            .unwrap();
        if v["active"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "cpu_busy_pct" && a["state"] == "firing")
        {
            break;
        }
        assert!(Instant::now() < deadline, "cpu_busy_pct never fired: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let html = app.get_as("/", &admin).await.text().await.unwrap();
    assert!(html.contains(r#"data-testid="alert-badge""#), "{html}");
    let login = app.get("/login").await.text().await.unwrap();
    assert!(login.contains(r#"data-testid="alerts-link""#));
    assert!(
        !login.contains(r#"data-testid="alert-badge""#),
        "a visitor sees the alert count"
    );
    app.stop().await;
}
