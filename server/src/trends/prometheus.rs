//! Client for the Prometheus HTTP query API (Prometheus, Thanos, Mimir, VictoriaMetrics speak
//! it). Every call has a timeout; failures come back as typed errors, never as empty series.

pub mod parse;

use std::time::Duration;

use parse::{parse_query_range, ParseError, Series};

#[derive(Debug, thiserror::Error)]
pub enum PromError {
    #[error("prometheus.url {0:?} is not an http:// URL")]
    BadUrl(String),
    #[error("cannot reach Prometheus at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("Prometheus at {url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("Prometheus answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// A Prometheus-compatible query endpoint.
#[derive(Clone)]
pub struct PrometheusClient {
    base: String,
    http: reqwest::Client,
    timeout: Duration,
}

impl PrometheusClient {
    /// `url` is the server's base URL, e.g. `http://127.0.0.1:9090` (TLS is not built in yet).
    pub fn new(url: &str, timeout: Duration) -> Result<Self, PromError> {
        let base = url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") || base.len() <= "http://".len() {
            return Err(PromError::BadUrl(url.to_string()));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| PromError::BadUrl(format!("{url}: {e}")))?;
        Ok(Self {
            base,
            http,
            timeout,
        })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn classify(&self, e: reqwest::Error) -> PromError {
        if e.is_timeout() {
            PromError::Timeout {
                url: self.base.clone(),
                secs: self.timeout.as_secs(),
            }
        } else {
            // The innermost cause names the problem ("Connection refused").
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message = s.to_string();
                source = s.source();
            }
            PromError::Unreachable {
                url: self.base.clone(),
                message,
            }
        }
    }

    /// Runs `query_range` from `start` to `end` (Unix seconds) every `step` seconds.
    pub async fn query_range(
        &self,
        promql: &str,
        start: i64,
        end: i64,
        step: u64,
    ) -> Result<Vec<Series>, PromError> {
        let response = self
            .http
            .get(format!("{}/api/v1/query_range", self.base))
            .query(&[
                ("query", promql.to_string()),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", step.to_string()),
                // Prometheus stops evaluating when the caller would have given up anyway.
                ("timeout", format!("{}s", self.timeout.as_secs().max(1))),
            ])
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.classify(e))?;
        match parse_query_range(&body) {
            // Prometheus explains bad queries in a JSON body with a 4xx/5xx status.
            Err(ParseError::Format(_)) if !status.is_success() => Err(PromError::Http {
                status: status.as_u16(),
                body: body.chars().take(200).collect(),
            }),
            other => Ok(other?),
        }
    }
}
