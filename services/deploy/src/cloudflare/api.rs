//! The Cloudflare API client: every answer wraps `{success, errors, messages, result}`.
//! 429 and 5xx answers, refused connections and silent servers are retried with capped
//! exponential backoff and jitter (honouring `Retry-After`) until the deploy's deadline;
//! 401/403 is [`DeployError::Unauthorized`]; any other refusal is [`DeployError::Api`].

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode, header::HeaderMap};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::DeployError;

/// Longest wait for one answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest pause a `Retry-After` may impose (longer ones still end at the deadline).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Retry pacing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// First pause.
    pub first: Duration,
    /// Longest pause (before jitter).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(500),
            max: Duration::from_secs(8),
        }
    }
}

/// How a request authenticates.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    /// The account's API token (`/accounts/...` routes).
    Token,
    /// A project's upload JWT (`/pages/assets/...` routes).
    Upload(&'a str),
}

/// One Cloudflare API call.
pub struct Call<'a> {
    /// `GET`, `POST`.
    pub method: Method,
    /// The path under the API base (`/pages/assets/upload`).
    pub path: String,
    /// Its credentials.
    pub auth: Auth<'a>,
    /// A JSON body.
    pub json: Option<&'a serde_json::Value>,
    /// Multipart text fields (the deployment's `manifest`, `branch`).
    pub form: Option<&'a [(&'static str, String)]>,
}

impl<'a> Call<'a> {
    /// A call without a body.
    pub fn new(method: Method, path: impl Into<String>, auth: Auth<'a>) -> Call<'a> {
        Call {
            method,
            path: path.into(),
            auth,
            json: None,
            form: None,
        }
    }

    /// With a JSON body.
    pub fn json(mut self, body: &'a serde_json::Value) -> Call<'a> {
        self.json = Some(body);
        self
    }

    /// With a multipart form of text fields.
    pub fn form(mut self, fields: &'a [(&'static str, String)]) -> Call<'a> {
        self.form = Some(fields);
        self
    }

    fn what(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Cloudflare's answer wrapper.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<ApiMessage>,
    #[serde(default)]
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct ApiMessage {
    #[serde(default)]
    code: serde_json::Value,
    #[serde(default)]
    message: String,
}

/// What one attempt came to.
enum Attempt {
    /// A final answer (success or a refusal retrying cannot fix).
    Done(Result<serde_json::Value, DeployError>),
    /// Worth another try: what went wrong, and the server's `Retry-After`.
    Retry(String, Option<Duration>),
}

/// The account's API client.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    /// The account id (`CLOUDFLARE_ACCOUNT_ID`).
    pub account: String,
    limit: Duration,
    backoff: Backoff,
}

impl Api {
    /// A client of the API at `base`; `limit` is the deploy timeout reported on timeouts.
    pub fn new(
        base: &str,
        token: &str,
        account: &str,
        limit: Duration,
    ) -> Result<Api, DeployError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("buildwire/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DeployError::Config(format!("HTTP client: {e}")))?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            account: account.to_string(),
            limit,
            backoff: Backoff::default(),
        })
    }

    /// With other retry pacing.
    pub fn with_backoff(mut self, backoff: Backoff) -> Api {
        self.backoff = backoff;
        self
    }

    /// `/accounts/<account>/pages/projects/<project><rest>`.
    pub fn project_path(&self, project: &str, rest: &str) -> String {
        format!("/accounts/{}/pages/projects/{project}{rest}", self.account)
    }

    /// The deploy timed out; `last` is what was being retried.
    pub fn timeout(&self, last: Option<String>) -> DeployError {
        DeployError::Timeout {
            limit_ms: u64::try_from(self.limit.as_millis()).unwrap_or(u64::MAX),
            last,
        }
    }

    /// Makes `call`, retrying what may pass until `deadline`; answers its `result`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        deadline: Instant,
    ) -> Result<T, DeployError> {
        let mut pause = self.backoff.first;
        let mut last = None;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.timeout(last));
            }
            let attempt = tokio::time::timeout(remaining.min(REQUEST_TIMEOUT), self.attempt(call))
                .await
                .unwrap_or_else(|_| {
                    Attempt::Retry(format!("{}: no answer in time", call.what()), None)
                });
            let (problem, retry_after) = match attempt {
                Attempt::Done(Ok(result)) => {
                    return serde_json::from_value(result).map_err(|e| DeployError::Api {
                        status: 200,
                        what: call.what(),
                        message: format!("unexpected result: {e}"),
                    });
                }
                Attempt::Done(Err(err)) => return Err(err),
                Attempt::Retry(problem, retry_after) => (problem, retry_after),
            };
            let wait = retry_after
                .unwrap_or_else(|| jitter(pause))
                .min(MAX_RETRY_AFTER);
            tracing::warn!(%problem, ?wait, "Cloudflare API: retrying");
            last = Some(problem);
            if Instant::now() + wait >= deadline {
                tokio::time::sleep_until(deadline).await;
                return Err(self.timeout(last));
            }
            tokio::time::sleep(wait).await;
            pause = (pause * 2).min(self.backoff.max);
        }
    }

    fn request(&self, call: &Call<'_>) -> RequestBuilder {
        let bearer = match call.auth {
            Auth::Token => self.token.as_str(),
            Auth::Upload(jwt) => jwt,
        };
        let mut request = self
            .http
            .request(call.method.clone(), format!("{}{}", self.base, call.path))
            .bearer_auth(bearer);
        if let Some(json) = call.json {
            request = request.json(json);
        }
        if let Some(fields) = call.form {
            let mut form = reqwest::multipart::Form::new();
            for (name, value) in fields {
                form = form.text(*name, value.clone());
            }
            request = request.multipart(form);
        }
        request
    }

    async fn attempt(&self, call: &Call<'_>) -> Attempt {
        let response = match self.request(call).send().await {
            Ok(response) => response,
            Err(err) => return Attempt::Retry(format!("{}: {err}", call.what()), None),
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(err) => {
                return Attempt::Retry(format!("{}: reading the answer: {err}", call.what()), None);
            }
        };
        let envelope = serde_json::from_slice::<Envelope>(&body);
        let message = match &envelope {
            Ok(envelope) if !envelope.errors.is_empty() => envelope
                .errors
                .iter()
                .map(|e| format!("{} {}", e.code, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            _ => String::from_utf8_lossy(&body).chars().take(200).collect(),
        };
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Attempt::Retry(format!("{}: {status} {message}", call.what()), retry_after);
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Attempt::Done(Err(DeployError::Unauthorized {
                status: status.as_u16(),
                message,
            }));
        }
        match envelope {
            Ok(envelope) if status.is_success() && envelope.success => {
                Attempt::Done(Ok(envelope.result))
            }
            _ => Attempt::Done(Err(DeployError::Api {
                status: status.as_u16(),
                what: call.what(),
                message,
            })),
        }
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.signed_duration_since(chrono::Utc::now()).to_std().ok()?;
    Some(wait)
}

/// `pause` scaled by a random 50-100 %.
fn jitter(pause: Duration) -> Duration {
    pause.mul_f64(rand::random_range(0.5..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "3".parse().expect("value"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        headers.insert(reqwest::header::RETRY_AFTER, soon.parse().expect("value"));
        let wait = retry_after(&headers).expect("a date");
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30));
        headers.insert(reqwest::header::RETRY_AFTER, "soon".parse().expect("value"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        for _ in 0..100 {
            let wait = jitter(Duration::from_secs(2));
            assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(2));
        }
    }
}
