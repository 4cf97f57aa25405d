//! The weekly digest end to end: the real server drawing it from its SQLite history and the
//! fixture procfs, `/api/v1/digest` and its PNG chart, and "send now" to a real SMTP server
//! (aiosmtpd, the chart inline), the Telegram stand-in (`sendPhoto` with the chart and the text
//! as caption, `tests/receivers.rs`) and a webhook recorder.

use std::time::{Duration, Instant};

use steward_tests::receivers::{form_field, Receivers, TELEGRAM_CHAT, TELEGRAM_TOKEN};
use steward_tests::smtp::SmtpServer;

use crate::helpers::{spawn_app, CpuTicker};

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_is_drawn_from_history_and_sent_with_its_chart() {
    let rx = Receivers::start().await;
    let smtp = SmtpServer::start();
    let smtp_port = smtp.port;
    let base = rx.base.clone();
    let app = spawn_app(move |c, dir| {
        let token = dir.join("bot.token");
        std::fs::write(&token, TELEGRAM_TOKEN).unwrap();
        c.alerts.webhooks = vec![server::config::WebhookConfig {
            name: "ops".into(),
            url: format!("{base}/hook/ops"),
            secret_file: None,
            timeout_secs: 5,
            min_severity: server::config::MinSeverity::Warning,
        }];
        c.alerts.telegram = vec![server::config::TelegramConfig {
            name: "tg".into(),
            token_file: token,
            chat_id: TELEGRAM_CHAT.into(),
            api_url: base.clone(),
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
            from: "steward@example.test".into(),
            to: vec!["ops@example.test".into()],
            timeout_secs: 5,
            min_severity: server::config::MinSeverity::Warning,
        }];
    })
    .await;

    // The digest is drawn at start-up and again 10 s later, once history holds the first
    // rounds; the API answers from the last drawing and never draws in the request.
    // The fixture's /proc/stat moves only when the test moves it: 3 % steal.
    let ticker = CpuTicker::start(app.procfs());
    ticker.set_steal_pct(3.0);
    // Before the first drawing the API says so (503), never an empty digest.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app.get("/api/v1/digest").await;
        if r.status() == 200 {
            break;
        }
        assert_eq!(r.status(), 503);
        assert!(r.text().await.unwrap().contains("being drawn"));
        assert!(Instant::now() < deadline, "no digest drawn at start-up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let d = app
        .wait_json("/api/v1/digest", Duration::from_secs(30), |v| {
            v["lines"].as_array().is_some_and(|l| {
                l.iter().any(|l| {
                    l["label"] == "CPU steal" && l["text"].as_str().unwrap().contains("% avg")
                })
            })
        })
        .await;
    let lines = d["lines"].as_array().unwrap();
    let line = |label: &str| {
        lines
            .iter()
            .find(|l| l["label"] == label)
            .unwrap_or_else(|| panic!("no {label} line in {d}"))
    };
    // The fixture's figures are in the week; Docker is off here, which the containers line
    // says instead of a zero.
    assert!(
        line("Containers")["text"]
            .as_str()
            .unwrap()
            .contains("docker.enabled = false"),
        "{d}"
    );
    let steal = line("CPU steal")["text"].as_str().unwrap();
    let avg: f64 = steal.split('%').next().unwrap().parse().unwrap();
    assert!((2.0..4.0).contains(&avg), "{steal}");
    assert!(
        steal.ends_with("% avg ✓"),
        "3 % is under the 5 % warning: {steal}"
    );
    assert!(
        line("Disk")["text"].as_str().unwrap().contains("% of /"),
        "{d}"
    );
    assert!(
        line("RAM")["text"]
            .as_str()
            .unwrap()
            .ends_with("free avg ✓"),
        "{d}"
    );
    assert_eq!(line("LLMs run")["text"], "none loaded this week");
    assert!(!d["top_action"].as_str().unwrap().is_empty());
    assert_eq!(d["schedule"], "0 8 * * 1");
    let next = d["next_send_ms"].as_i64().unwrap();
    assert!(next > d["generated_ms"].as_i64().unwrap());
    // Monday 08:00 UTC: 1970-01-01 was a Thursday.
    assert_eq!((next / 86_400_000 + 3) % 7, 0, "a Monday");
    assert_eq!(next % 86_400_000, 8 * 3_600_000);
    assert!(d["chart_error"].is_null(), "{d}");
    assert_eq!(d["chart"], true);

    let png = app.get("/api/v1/digest.png").await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let png = png.bytes().await.unwrap();
    assert_eq!(png_size(&png), (800, 400));
    // Kept for a look (CI keeps target/screenshots).
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(shots.join("digest-chart.png"), &png).unwrap();

    // Send now: admins only (the guard test covers the rest), every notifier but none left
    // out, each result shown and audited.
    let admin = app.admin().await;
    let started = Instant::now();
    let r = app.act(&admin, "/api/v1/digest/send", None).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let sent: serde_json::Value = r.json().await.unwrap();
    let deliveries = sent["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 3, "{sent}");
    assert!(
        deliveries
            .iter()
            .all(|x| x["result"]["Ok"].is_null() && x["result"].get("Err").is_none()),
        "{sent}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // Telegram: one sendPhoto to the chat, the chart as the photo and the digest as caption.
    let photos = rx.received(&format!("/bot{TELEGRAM_TOKEN}/sendPhoto"));
    assert_eq!(photos.len(), 1);
    let body = &photos[0].body;
    assert_eq!(form_field(body, "chat_id"), Some(TELEGRAM_CHAT.as_bytes()));
    let caption = String::from_utf8_lossy(form_field(body, "caption").unwrap()).into_owned();
    assert!(caption.starts_with("📊 Weekly VM Digest — "), "{caption}");
    assert!(caption.contains("\nTop action: "), "{caption}");
    assert_eq!(png_size(form_field(body, "photo").unwrap()), (800, 400));

    // Email: text and HTML, the chart inline as cid:chart.
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail
        .header("subject")
        .unwrap()
        .starts_with("Weekly digest: "));
    assert!(mail
        .header("content-type")
        .unwrap()
        .starts_with("multipart/alternative"));
    assert!(mail.0.contains("multipart/related"), "{}", mail.0);
    assert!(mail.0.contains("Content-ID: <chart>"), "{}", mail.0);
    assert!(mail.0.contains("Content-Type: image/png"), "{}", mail.0);
    assert!(
        mail.0.contains("src=3D\"cid:chart\"") || mail.0.contains("src=\"cid:chart\""),
        "{}",
        mail.0
    );

    // Webhook: the digest as JSON.
    let hook = rx.received("/hook/ops");
    let v = hook.last().unwrap().json();
    assert_eq!(v["notice"], "digest");
    assert!(v["digest"]["lines"].as_array().unwrap().len() >= 9);

    // The page's data shows the send; the audit log has it.
    let d = app.json("/api/v1/digest").await;
    assert!(d["last_sent_ms"].as_i64().is_some(), "{d}");
    assert_eq!(d["deliveries"].as_array().unwrap().len(), 3);
    let audit = app.audit_log(&admin).await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "digest-send" && e["result"] == "ok"),
        "{audit:?}"
    );
    drop(ticker);
}
