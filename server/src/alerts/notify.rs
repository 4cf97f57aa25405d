//! Notifiers: webhooks (signed JSON), Telegram (`sendMessage`), ntfy (HTTP publish), email
//! (SMTP) and Prometheus Alertmanager (`/api/v2/alerts`). Each has its own bounded queue and task, so a
//! dead or slow receiver delays nobody else; each delivery is tried three times with backoff
//! (1 s, then 3 s) when the failure may pass (network, timeout, 408, 429, 5xx), and every
//! outcome is counted and shown. Nothing is dropped silently: a full queue counts a drop.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::alerts::{Alert, AlertState, NotifierStatus, Severity};
use app::shared::clock::now_ms;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{AlertsConfig, EmailConfig, SmtpTls};

/// Notices waiting per notifier; more are dropped and counted.
pub const QUEUE: usize = 256;
/// Waits before the second and third attempts.
const BACKOFF: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];
/// How long past now Alertmanager keeps a firing alert it is not told about again: Steward
/// resends firing alerts every [`AM_RESEND_MS`], so a Steward that stops lets them resolve.
const AM_END_AFTER_MS: i64 = 5 * 60 * 1000;
/// How often firing alerts are sent to Alertmanager again (it expects clients to resend).
pub const AM_RESEND_MS: i64 = 60 * 1000;

/// Why the notifiers could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("notifier {name}: cannot read {path}: {source}")]
    Secret {
        name: String,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("notifier {name}: {path} is empty")]
    EmptySecret {
        name: String,
        path: std::path::PathBuf,
    },
    #[error("notifier {0}: cannot build its HTTP client: {1}")]
    Client(String, reqwest::Error),
    #[error("no notifier is named {0:?}")]
    Unknown(String),
    #[error("notifier {0}: {1}")]
    Smtp(String, String),
}

/// What a notice says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Firing,
    Escalated,
    Repeat,
    Resolved,
    /// An admin's "send test".
    Test,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Firing => "firing",
            Kind::Escalated => "escalated",
            Kind::Repeat => "repeat",
            Kind::Resolved => "resolved",
            Kind::Test => "test",
        }
    }
}

/// One notice about one alert: the webhook's JSON body.
#[derive(Clone, Debug, Serialize)]
pub struct Payload {
    pub notice: Kind,
    pub alert: Alert,
    pub sent_at_ms: i64,
}

/// What a notifier's task delivers.
#[derive(Clone, Debug)]
enum Delivery {
    Notice(Payload),
    /// Alertmanager only: every firing alert, resent so that it keeps them.
    Firing(Vec<Alert>),
}

/// Where a notifier delivers, with its secrets.
enum Target {
    Webhook {
        url: String,
        secret: Option<Vec<u8>>,
    },
    Telegram {
        /// `{api}/bot{token}`: holds the token, never shown or logged.
        bot_url: String,
        chat_id: String,
    },
    Ntfy {
        url: String,
        token: Option<String>,
    },
    Alertmanager {
        url: String,
    },
    Email {
        /// Holds the password, never shown or logged. Boxed: it is much larger than the
        /// other targets.
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
        to: Vec<Mailbox>,
    },
}

impl Target {
    fn kind(&self) -> &'static str {
        match self {
            Target::Webhook { .. } => "webhook",
            Target::Telegram { .. } => "telegram",
            Target::Ntfy { .. } => "ntfy",
            Target::Alertmanager { .. } => "alertmanager",
            Target::Email { .. } => "email",
        }
    }
}

#[derive(Default)]
struct Stats {
    sent_total: u64,
    failed_total: u64,
    dropped_total: u64,
    last_success_ms: Option<i64>,
    last_attempt_ms: Option<i64>,
    last_error: Option<String>,
}

struct Notifier {
    name: String,
    min_severity: Severity,
    target: Target,
    client: reqwest::Client,
    stats: Mutex<Stats>,
    tx: mpsc::Sender<Delivery>,
}

/// Every configured notifier.
#[derive(Clone, Default)]
pub struct Notifiers {
    all: Arc<Vec<Arc<Notifier>>>,
    quiet: Option<Arc<Quiet>>,
}

/// Quiet hours: notices below `min` wait in `held` (the latest per alert) until the window ends.
struct Quiet {
    window: (u32, u32),
    min: Severity,
    held: Mutex<std::collections::BTreeMap<String, Payload>>,
}

/// At most this many alerts wait for the end of quiet hours; past it the notice goes out at once.
const HELD_MAX: usize = 1000;

fn minute_of_day(ms: i64) -> u32 {
    (ms.div_euclid(60_000).rem_euclid(1440)) as u32
}

/// A notifier's queue before its task starts.
pub struct Pending {
    notifier: Arc<Notifier>,
    rx: mpsc::Receiver<Delivery>,
}

#[cfg(test)]
impl Pending {
    /// The notices queued so far: what would be sent (a test reads them without sending).
    pub fn queued(&mut self) -> Vec<Payload> {
        std::iter::from_fn(|| self.rx.try_recv().ok())
            .filter_map(|d| match d {
                Delivery::Notice(p) => Some(p),
                Delivery::Firing(_) => None,
            })
            .collect()
    }
}

/// An SMTP transport for one `[[alerts.email]]`, its password read from its file.
fn email_target(e: &EmailConfig) -> Result<Target, NotifyError> {
    let smtp = |m: String| NotifyError::Smtp(e.name.clone(), m);
    let builder = match e.tls {
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&e.host),
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&e.host),
        // Validated: only a loopback relay is spoken to in clear text.
        SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &e.host,
        )),
    }
    .map_err(|err| smtp(err.to_string()))?;
    let mut builder = builder
        .port(e.port())
        .timeout(Some(Duration::from_secs(e.timeout_secs)));
    if let (Some(user), Some(path)) = (&e.username, &e.password_file) {
        builder = builder.credentials(Credentials::new(user.clone(), read_secret(&e.name, path)?));
    }
    let parse = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|err| smtp(format!("{a:?}: {err}")))
    };
    Ok(Target::Email {
        transport: Box::new(builder.build()),
        from: parse(&e.from)?,
        to: e.to.iter().map(|t| parse(t)).collect::<Result<_, _>>()?,
    })
}

fn read_secret(name: &str, path: &Path) -> Result<String, NotifyError> {
    let text = std::fs::read_to_string(path).map_err(|source| NotifyError::Secret {
        name: name.to_string(),
        path: path.to_path_buf(),
        source,
    })?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(NotifyError::EmptySecret {
            name: name.to_string(),
            path: path.to_path_buf(),
        });
    }
    Ok(text)
}

impl Notifiers {
    /// Reads the secrets and builds each notifier; [`Notifiers::start`] runs their queues.
    pub fn load(config: &AlertsConfig) -> Result<(Self, Vec<Pending>), NotifyError> {
        let mut targets = Vec::new();
        for w in &config.webhooks {
            let secret = match &w.secret_file {
                Some(p) => Some(read_secret(&w.name, p)?.into_bytes()),
                None => None,
            };
            targets.push((
                w.name.clone(),
                w.timeout_secs,
                w.min_severity.severity(),
                Target::Webhook {
                    url: w.url.clone(),
                    secret,
                },
            ));
        }
        for t in &config.telegram {
            let token = read_secret(&t.name, &t.token_file)?;
            targets.push((
                t.name.clone(),
                t.timeout_secs,
                t.min_severity.severity(),
                Target::Telegram {
                    bot_url: format!("{}/bot{token}", t.api_url.trim_end_matches('/')),
                    chat_id: t.chat_id.clone(),
                },
            ));
        }
        for n in &config.ntfy {
            let token = match &n.token_file {
                Some(p) => Some(read_secret(&n.name, p)?),
                None => None,
            };
            targets.push((
                n.name.clone(),
                n.timeout_secs,
                n.min_severity.severity(),
                Target::Ntfy {
                    url: format!("{}/{}", n.url.trim_end_matches('/'), n.topic),
                    token,
                },
            ));
        }
        for m in &config.alertmanager {
            targets.push((
                m.name.clone(),
                m.timeout_secs,
                m.min_severity.severity(),
                Target::Alertmanager {
                    url: format!("{}/api/v2/alerts", m.url.trim_end_matches('/')),
                },
            ));
        }
        for e in &config.email {
            targets.push((
                e.name.clone(),
                e.timeout_secs,
                e.min_severity.severity(),
                email_target(e)?,
            ));
        }
        let mut all = Vec::new();
        let mut pending = Vec::new();
        for (name, timeout, min_severity, target) in targets {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(timeout))
                .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| NotifyError::Client(name.clone(), e))?;
            let (tx, rx) = mpsc::channel(QUEUE);
            let notifier = Arc::new(Notifier {
                name,
                min_severity,
                target,
                client,
                stats: Mutex::default(),
                tx,
            });
            all.push(notifier.clone());
            pending.push(Pending { notifier, rx });
        }
        let quiet = config.quiet_hours.as_ref().map(|q| {
            Arc::new(Quiet {
                // Validated with the config.
                window: q.minutes().unwrap_or((0, 1)),
                min: q.min_severity.severity(),
                held: Mutex::default(),
            })
        });
        Ok((
            Self {
                all: Arc::new(all),
                quiet,
            },
            pending,
        ))
    }

    /// Runs each notifier's queue until shutdown.
    pub fn start(
        pending: Vec<Pending>,
        shutdown: &CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        pending
            .into_iter()
            .map(|p| tokio::spawn(run(p.notifier, p.rx, shutdown.clone())))
            .collect()
    }

    /// Queues a notice for every notifier that takes its severity, or holds it for the end of
    /// quiet hours.
    pub fn send(&self, payload: &Payload) {
        if let Some(q) = &self.quiet {
            if payload.alert.severity < q.min
                && crate::config::QuietHours::contains(q.window, minute_of_day(payload.sent_at_ms))
            {
                let mut held = q.held.lock().unwrap_or_else(|p| p.into_inner());
                let key = payload.alert.key();
                if held.len() < HELD_MAX || held.contains_key(&key) {
                    held.insert(key, payload.clone());
                    return;
                }
            }
        }
        self.queue_now(payload);
    }

    fn queue_now(&self, payload: &Payload) {
        for n in self.all.iter() {
            if payload.alert.severity >= n.min_severity {
                n.queue(Delivery::Notice(payload.clone()));
            }
        }
    }

    /// Sends what quiet hours held once they are over (called on each evaluation).
    pub fn release_held(&self, now: i64) {
        let Some(q) = &self.quiet else { return };
        if crate::config::QuietHours::contains(q.window, minute_of_day(now)) {
            return;
        }
        let held = std::mem::take(&mut *q.held.lock().unwrap_or_else(|p| p.into_inner()));
        for (_, p) in held {
            self.queue_now(&p);
        }
    }

    /// How many alerts wait for the end of quiet hours, and the window, for the page.
    pub fn quiet_note(&self) -> Option<String> {
        let q = self.quiet.as_ref()?;
        let n = q.held.lock().unwrap_or_else(|p| p.into_inner()).len();
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        Some(format!(
            "Quiet hours {}–{} UTC: below {} waits until they end ({n} waiting now).",
            hm(q.window.0),
            hm(q.window.1),
            q.min.as_str()
        ))
    }

    /// Queues the firing alerts for the Alertmanagers (their periodic resend).
    pub fn resend_firing(&self, alerts: &[Alert]) {
        for n in self.all.iter() {
            if matches!(n.target, Target::Alertmanager { .. }) {
                let mine: Vec<Alert> = alerts
                    .iter()
                    .filter(|a| a.severity >= n.min_severity)
                    .cloned()
                    .collect();
                if !mine.is_empty() {
                    n.queue(Delivery::Firing(mine));
                }
            }
        }
    }

    pub fn has_alertmanager(&self) -> bool {
        self.all
            .iter()
            .any(|n| matches!(n.target, Target::Alertmanager { .. }))
    }

    /// Sends a test notice to one notifier now (one attempt), and says how it went.
    pub async fn test(&self, name: &str, alert: Alert) -> Result<Result<(), String>, NotifyError> {
        let n = self
            .all
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| NotifyError::Unknown(name.to_string()))?;
        let payload = Payload {
            notice: Kind::Test,
            alert,
            sent_at_ms: now_ms(),
        };
        let result = n.deliver(&Delivery::Notice(payload)).await;
        n.record(&result.as_ref().map(|_| ()).map_err(|e| e.message.clone()));
        Ok(result.map_err(|e| e.message))
    }

    /// Sends the weekly digest to every notifier but Alertmanager, all at once, each with its
    /// retries; says how each went (and counts it like any notice).
    pub async fn send_digest(
        &self,
        subject: &str,
        text: &str,
        digest: &app::digest::Digest,
        png: Option<&[u8]>,
    ) -> Vec<app::digest::DigestDelivery> {
        let sends = self
            .all
            .iter()
            .filter(|n| !matches!(n.target, Target::Alertmanager { .. }))
            .map(|n| async move {
                let mut attempt = 0;
                let result = loop {
                    match n.deliver_digest(subject, text, digest, png).await {
                        Ok(()) => break Ok(()),
                        Err(f) if f.retry && attempt < BACKOFF.len() => {
                            tokio::time::sleep(BACKOFF[attempt]).await;
                            attempt += 1;
                        }
                        Err(f) => break Err(f.message),
                    }
                };
                if let Err(e) = &result {
                    tracing::error!(notifier = %n.name, "digest delivery failed: {e}");
                }
                n.record(&result);
                app::digest::DigestDelivery {
                    notifier: n.name.clone(),
                    result,
                }
            });
        futures::future::join_all(sends).await
    }

    pub fn statuses(&self) -> Vec<NotifierStatus> {
        self.all.iter().map(|n| n.status()).collect()
    }
}

/// A failed attempt, and whether another could succeed.
struct Failure {
    message: String,
    retry: bool,
}

impl Notifier {
    fn queue(&self, d: Delivery) {
        if self.tx.try_send(d).is_err() {
            let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
            s.dropped_total += 1;
            s.last_error = Some(format!("queue full ({QUEUE}): a notice was dropped"));
            tracing::error!(notifier = %self.name, "alert queue full: a notice was dropped");
        }
    }

    fn status(&self) -> NotifierStatus {
        let s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        NotifierStatus {
            name: self.name.clone(),
            kind: self.target.kind().into(),
            min_severity: self.min_severity,
            sent_total: s.sent_total,
            failed_total: s.failed_total,
            dropped_total: s.dropped_total,
            queued: QUEUE - self.tx.capacity(),
            last_success_ms: s.last_success_ms,
            last_attempt_ms: s.last_attempt_ms,
            last_error: s.last_error.clone(),
        }
    }

    fn record(&self, result: &Result<(), String>) {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let now = now_ms();
        s.last_attempt_ms = Some(now);
        match result {
            Ok(()) => {
                s.sent_total += 1;
                s.last_success_ms = Some(now);
                s.last_error = None;
            }
            Err(e) => {
                s.failed_total += 1;
                s.last_error = Some(e.clone());
            }
        }
    }

    /// One attempt.
    async fn deliver(&self, d: &Delivery) -> Result<(), Failure> {
        let request = match (&self.target, d) {
            (
                Target::Email {
                    transport,
                    from,
                    to,
                },
                Delivery::Notice(p),
            ) => {
                return send_mail(transport, from, to, &title(p), body_lines(p)).await;
            }
            (Target::Webhook { url, secret }, Delivery::Notice(p)) => self.signed_post(
                url,
                secret.as_deref(),
                serde_json::to_vec(p).unwrap_or_default(),
            ),
            (Target::Telegram { bot_url, chat_id }, Delivery::Notice(p)) => self
                .client
                .post(format!("{bot_url}/sendMessage"))
                .json(&serde_json::json!({
                    "chat_id": chat_id,
                    "text": text(p),
                    "disable_web_page_preview": true,
                })),
            (Target::Ntfy { url, token }, Delivery::Notice(p)) => {
                let mut r = self
                    .client
                    .post(url)
                    .header("title", title(p))
                    .header("priority", ntfy_priority(p))
                    .header("tags", ntfy_tags(p))
                    .body(body_lines(p));
                if let Some(t) = token {
                    r = r.bearer_auth(t);
                }
                r
            }
            (Target::Alertmanager { url }, d) => {
                let now = now_ms();
                let alerts: Vec<serde_json::Value> = match d {
                    Delivery::Notice(p) => vec![am_alert(&p.alert, p.notice, now)],
                    Delivery::Firing(all) => {
                        all.iter().map(|a| am_alert(a, Kind::Repeat, now)).collect()
                    }
                };
                self.client.post(url).json(&alerts)
            }
            // Only Alertmanagers are sent the resend batches.
            (_, Delivery::Firing(_)) => return Ok(()),
        };
        self.answer(request).await
    }

    /// A webhook's JSON POST, signed when it has a key.
    fn signed_post(&self, url: &str, key: Option<&[u8]>, body: Vec<u8>) -> reqwest::RequestBuilder {
        let r = self
            .client
            .post(url)
            .header("content-type", "application/json");
        match key {
            Some(key) => r.header("x-steward-signature", signature(key, &body)),
            None => r,
        }
        .body(body)
    }

    /// Sends a request and judges the answer (Telegram's `ok: false` is a failure too).
    async fn answer(&self, request: reqwest::RequestBuilder) -> Result<(), Failure> {
        let response = request.send().await.map_err(|e| Failure {
            // Without the URL: a Telegram URL holds the bot token.
            message: format!("{}", e.without_url()),
            retry: true,
        })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            // Telegram answers 200 with `ok: false` on some errors.
            if let Target::Telegram { .. } = self.target {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if v["ok"] != true {
                    return Err(Failure {
                        message: format!("Telegram said: {}", short(&body)),
                        retry: false,
                    });
                }
            }
            return Ok(());
        }
        let code = status.as_u16();
        Err(Failure {
            message: format!("HTTP {code}: {}", short(&body)),
            retry: code == 408 || code == 429 || status.is_server_error(),
        })
    }
}

impl Notifier {
    /// One attempt at the digest: Telegram gets the chart with the text as its caption, email
    /// the chart inline, webhooks the digest as JSON, ntfy the text.
    async fn deliver_digest(
        &self,
        subject: &str,
        text: &str,
        digest: &app::digest::Digest,
        png: Option<&[u8]>,
    ) -> Result<(), Failure> {
        let request = match &self.target {
            Target::Email {
                transport,
                from,
                to,
            } => {
                return send_digest_mail(transport, from, to, subject, text, png).await;
            }
            Target::Webhook { url, secret } => {
                let body = serde_json::to_vec(&serde_json::json!({
                    "notice": "digest",
                    "digest": digest,
                    "text": text,
                    "sent_at_ms": now_ms(),
                }))
                .unwrap_or_default();
                self.signed_post(url, secret.as_deref(), body)
            }
            // A photo's caption holds at most 1,024 characters; a longer text follows it.
            Target::Telegram { bot_url, chat_id } => match png {
                Some(png) if text.chars().count() <= 1024 => {
                    let photo = reqwest::multipart::Part::bytes(png.to_vec())
                        .file_name("digest.png")
                        .mime_str("image/png")
                        .map_err(|e| Failure {
                            message: e.to_string(),
                            retry: false,
                        })?;
                    let form = reqwest::multipart::Form::new()
                        .text("chat_id", chat_id.clone())
                        .text("caption", text.to_string())
                        .part("photo", photo);
                    self.client
                        .post(format!("{bot_url}/sendPhoto"))
                        .multipart(form)
                }
                _ => self
                    .client
                    .post(format!("{bot_url}/sendMessage"))
                    .json(&serde_json::json!({ "chat_id": chat_id, "text": text })),
            },
            Target::Ntfy { url, token } => {
                let mut r = self
                    .client
                    .post(url)
                    .header("title", "Weekly digest")
                    .header("tags", "bar_chart")
                    .body(text.to_string());
                if let Some(t) = token {
                    r = r.bearer_auth(t);
                }
                r
            }
            Target::Alertmanager { .. } => return Ok(()),
        };
        self.answer(request).await
    }
}

/// The digest as a mail: the text, and an HTML part with the chart inline (`cid:chart`).
async fn send_digest_mail(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    to: &[Mailbox],
    subject: &str,
    text: &str,
    png: Option<&[u8]>,
) -> Result<(), Failure> {
    use lettre::message::{header::ContentType, Attachment, MultiPart, SinglePart};
    let html = format!(
        "<pre style=\"font: 14px/1.5 sans-serif; white-space: pre-wrap\">{}</pre>{}",
        html_escape(text),
        if png.is_some() {
            "<img src=\"cid:chart\" width=\"800\" height=\"400\" alt=\"The week's health score and disk use\">"
        } else {
            ""
        }
    );
    let mut related = MultiPart::related().singlepart(SinglePart::html(html));
    if let Some(png) = png {
        related = related.singlepart(Attachment::new_inline("chart".into()).body(
            png.to_vec(),
            ContentType::parse("image/png").expect("a valid type"),
        ));
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(text.to_string()))
        .multipart(related);
    let message = mail(from, to, subject)
        .multipart(body)
        .map_err(unbuildable)?;
    submit(transport, message).await
}

/// A message's envelope: sender, recipients, subject.
fn mail(from: &Mailbox, to: &[Mailbox], subject: &str) -> lettre::message::MessageBuilder {
    to.iter().fold(
        lettre::Message::builder()
            .from(from.clone())
            .subject(subject),
        |m, t| m.to(t.clone()),
    )
}

fn unbuildable(e: lettre::error::Error) -> Failure {
    Failure {
        message: format!("cannot build the mail: {e}"),
        retry: false,
    }
}

/// Hands a message to the SMTP server; a refusal it calls permanent (5xx) is not retried.
async fn submit(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    message: lettre::Message,
) -> Result<(), Failure> {
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| Failure {
            message: format!("SMTP: {e}"),
            retry: !e.is_permanent(),
        })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Sends one plain-text mail.
async fn send_mail(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    to: &[Mailbox],
    subject: &str,
    body: String,
) -> Result<(), Failure> {
    let message = mail(from, to, subject)
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(unbuildable)?;
    submit(transport, message).await
}

/// The first 200 characters of a receiver's answer.
fn short(body: &str) -> String {
    let t: String = body.trim().chars().take(200).collect();
    if t.is_empty() {
        "(empty answer)".into()
    } else {
        t
    }
}

async fn run(n: Arc<Notifier>, mut rx: mpsc::Receiver<Delivery>, shutdown: CancellationToken) {
    loop {
        let d = tokio::select! {
            _ = shutdown.cancelled() => return,
            d = rx.recv() => match d {
                Some(d) => d,
                None => return,
            },
        };
        let mut attempt = 0;
        let result = loop {
            match n.deliver(&d).await {
                Ok(()) => break Ok(()),
                Err(f) if f.retry && attempt < BACKOFF.len() => {
                    tracing::warn!(notifier = %n.name, "delivery failed, retrying: {}", f.message);
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(BACKOFF[attempt]) => {}
                    }
                    attempt += 1;
                }
                Err(f) => break Err(f.message),
            }
        };
        if let Err(e) = &result {
            tracing::error!(notifier = %n.name, "alert delivery failed: {e}");
        }
        n.record(&result);
    }
}

/// `sha256=<hex>` of HMAC-SHA256(key, body): the receiver recomputes it to trust the body.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A one-line title: what happened, how bad, to what.
pub fn title(p: &Payload) -> String {
    let what = match p.notice {
        Kind::Resolved => "RESOLVED".to_string(),
        Kind::Test => "TEST".to_string(),
        Kind::Escalated => format!("ESCALATED {}", p.alert.severity.as_str().to_uppercase()),
        Kind::Firing | Kind::Repeat => p.alert.severity.as_str().to_uppercase(),
    };
    format!("[{what}] {}", p.alert.key())
}

/// The lines under the title: the summary, since when, and who acknowledged it.
fn body_lines(p: &Payload) -> String {
    let a = &p.alert;
    let mut out = a.summary.clone();
    let since = app::shared::format::utc_datetime(a.since_ms);
    match (p.notice, a.resolved_ms) {
        (Kind::Resolved, Some(r)) => out.push_str(&format!(
            "\nFired {since}, resolved {} UTC",
            app::shared::format::utc_datetime(r)
        )),
        (Kind::Test, _) => out.push_str("\nA test from Steward: this notifier works."),
        _ => out.push_str(&format!("\nFiring since {since} UTC")),
    }
    out
}

/// A message's text (Telegram): title, then the lines.
pub fn text(p: &Payload) -> String {
    let mark = match (p.notice, p.alert.severity) {
        (Kind::Resolved, _) => "✅",
        (Kind::Test, _) => "🔔",
        (_, Severity::Critical) => "🔴",
        (_, Severity::Warning) => "🟠",
    };
    format!("{mark} {}\n{}", title(p), body_lines(p))
}

fn ntfy_priority(p: &Payload) -> &'static str {
    match (p.notice, p.alert.severity) {
        (Kind::Resolved | Kind::Test, _) => "3",
        (_, Severity::Critical) => "5",
        (_, Severity::Warning) => "4",
    }
}

fn ntfy_tags(p: &Payload) -> &'static str {
    match (p.notice, p.alert.severity) {
        (Kind::Resolved, _) => "white_check_mark",
        (Kind::Test, _) => "bell",
        (_, Severity::Critical) => "rotating_light",
        (_, Severity::Warning) => "warning",
    }
}

/// One alert in Alertmanager's v2 shape: labels (with `severity`), annotations, `startsAt`,
/// and `endsAt` (the resolve time, or a little past now while it fires).
fn am_alert(a: &Alert, notice: Kind, now: i64) -> serde_json::Value {
    let mut labels = serde_json::Map::new();
    for (k, v) in &a.labels {
        labels.insert(k.clone(), v.clone().into());
    }
    labels.insert("severity".into(), a.severity.as_str().into());
    labels.insert("source".into(), "steward".into());
    let ends = match (notice, a.resolved_ms) {
        (Kind::Resolved, Some(r)) => r,
        _ => now + AM_END_AFTER_MS,
    };
    let mut annotations = serde_json::Map::new();
    annotations.insert("summary".into(), a.summary.clone().into());
    if let Some(v) = a.value {
        annotations.insert("value".into(), format!("{v}").into());
    }
    serde_json::json!({
        "labels": labels,
        "annotations": annotations,
        "startsAt": app::shared::format::rfc3339_ms(a.since_ms),
        "endsAt": app::shared::format::rfc3339_ms(ends),
    })
}

/// A made-up alert for an admin's "send test".
pub fn test_alert(now: i64) -> Alert {
    Alert {
        rule: "steward_test".into(),
        labels: vec![("alertname".into(), "steward_test".into())],
        state: AlertState::Firing,
        severity: Severity::Warning,
        value: None,
        threshold: None,
        summary: "A test notice from Steward".into(),
        since_ms: now,
        resolved_ms: None,
        acknowledged_by: None,
        silenced: false,
        judged_on: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_hold_warnings_and_release_them_after() {
        let config = AlertsConfig {
            quiet_hours: Some(crate::config::QuietHours {
                start: "22:00".into(),
                end: "07:00".into(),
                min_severity: crate::config::MinSeverity::Critical,
            }),
            ..Default::default()
        };
        let (n, _) = Notifiers::load(&config).unwrap();
        let held = |n: &Notifiers| n.quiet.as_ref().unwrap().held.lock().unwrap().len();
        let at = |h: i64, m: i64| 1_780_272_000_000 + (h * 60 + m) * 60_000;
        let mut warning = test_alert(0);
        warning.rule = "cpu_steal_pct".into();
        let notice = |alert: Alert, ms| Payload {
            notice: Kind::Firing,
            alert,
            sent_at_ms: ms,
        };
        // 23:30: the warning waits; a second notice about it replaces the first.
        n.send(&notice(warning.clone(), at(23, 30)));
        n.send(&notice(warning.clone(), at(23, 40)));
        assert_eq!(held(&n), 1);
        // A critical one goes at once.
        let mut critical = warning.clone();
        critical.rule = "disk_used_pct".into();
        critical.labels[0].1 = "disk_used_pct".into();
        critical.severity = Severity::Critical;
        n.send(&notice(critical, at(23, 50)));
        assert_eq!(held(&n), 1);
        assert!(n.quiet_note().unwrap().contains("22:00–07:00 UTC"));
        // Still quiet at 06:59 the next day; released at 07:00.
        n.release_held(at(24 + 6, 59));
        assert_eq!(held(&n), 1);
        n.release_held(at(24 + 7, 0));
        assert_eq!(held(&n), 0);
        // Daytime: nothing waits.
        n.send(&notice(warning, at(12, 0)));
        assert_eq!(held(&n), 0);
    }

    #[test]
    fn signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn messages_say_what_how_bad_and_since_when() {
        let mut a = test_alert(0);
        a.rule = "disk_used_pct".into();
        a.labels = vec![
            ("alertname".into(), "disk_used_pct".into()),
            ("mountpoint".into(), "/".into()),
        ];
        a.severity = Severity::Critical;
        a.summary = "Disk used (/) is 93.0 %".into();
        let p = Payload {
            notice: Kind::Firing,
            alert: a.clone(),
            sent_at_ms: 0,
        };
        assert_eq!(title(&p), "[CRITICAL] disk_used_pct{mountpoint=\"/\"}");
        assert!(text(&p).starts_with("🔴 [CRITICAL]"));
        assert!(text(&p).contains("Disk used (/) is 93.0 %\nFiring since 1970-01-01"));
        let am = am_alert(&a, Kind::Firing, 1000);
        assert_eq!(am["labels"]["severity"], "critical");
        assert_eq!(am["labels"]["mountpoint"], "/");
        assert_eq!(am["startsAt"], "1970-01-01T00:00:00.000Z");
        a.resolved_ms = Some(60_000);
        let am = am_alert(&a, Kind::Resolved, 120_000);
        assert_eq!(am["endsAt"], "1970-01-01T00:01:00.000Z");
        assert_eq!(ntfy_priority(&p), "5");
    }
}
