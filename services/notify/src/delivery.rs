//! Sending one event's webhook: POST the event's JSON to the endpoint, signed afresh on
//! each attempt (new `webhook-timestamp`, same `webhook-id`), until a 2xx (delivered), a
//! 410 (the endpoint wants no more: not sent again), or the retry window after the event
//! was stored has passed (expired). Anything else is retried with capped exponential
//! backoff and jitter.
//!
//! The endpoint is the build's own (`webhookUrl`, see [`crate::target::BuildTargets`])
//! when it was submitted with one, else `MAIN_APP_URL`.

use std::time::Duration;

use buildwire_runtime::error::chain;
use chrono::{DateTime, Utc};
use reqwest::{StatusCode, Url};
use tokio_util::sync::CancellationToken;

use crate::signing::Secret;
use crate::target::{BuildTargets, GuardedResolver};
use crate::{Metrics, NotifyError};

/// How long and how often one webhook is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Measured from when the event was stored: past it, the webhook is given up.
    pub window: Duration,
    /// First pause between attempts.
    pub first: Duration,
    /// Longest pause (before jitter).
    pub max: Duration,
    /// Longest wait for one answer.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            window: Duration::from_secs(24 * 3600),
            first: Duration::from_secs(1),
            max: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// One webhook to send.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// `webhook-id`: the same on every attempt and every redelivery of the event.
    pub id: String,
    /// The event as on the wire (its `seq` included).
    pub body: String,
    /// When JetStream stored the event (the retry window starts there).
    pub stored_at: DateTime<Utc>,
}

impl Webhook {
    /// The build the event belongs to (its body's `buildId`).
    pub fn build_id(&self) -> Option<String> {
        let event: serde_json::Value = serde_json::from_str(&self.body).ok()?;
        event["buildId"].as_str().map(str::to_string)
    }
}

/// How one webhook ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered,
    /// A 410 answer: this endpoint gets this event no more.
    Gone,
    /// No 2xx or 410 within the retry window.
    Expired,
    /// Shutdown came first: the event goes back to NATS.
    Interrupted,
    /// The build's own endpoint is refused now (not http(s), or internal while
    /// `BUILDWIRE_WEBHOOK_ALLOW_PRIVATE` is off): not sent.
    Refused,
}

impl Outcome {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Gone => "gone",
            Outcome::Expired => "expired",
            Outcome::Interrupted => "interrupted",
            Outcome::Refused => "refused",
        }
    }
}

/// Sends webhooks to one endpoint.
#[derive(Clone, Debug)]
pub struct Sender {
    http: reqwest::Client,
    url: Url,
    secret: Secret,
    policy: RetryPolicy,
    allow_internal: bool,
    targets: Option<BuildTargets>,
    metrics: Metrics,
}

impl Sender {
    /// A sender to `url`; unless `allow_internal`, every connection's addresses are
    /// checked (see [`crate::target`]).
    pub fn new(
        url: Url,
        secret: Secret,
        policy: RetryPolicy,
        allow_internal: bool,
        metrics: Metrics,
    ) -> Result<Sender, NotifyError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(policy.request_timeout)
            .connect_timeout(Duration::from_secs(5).min(policy.request_timeout))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("buildwire-webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_internal {
            builder = builder.dns_resolver(GuardedResolver);
        }
        let http = builder
            .build()
            .map_err(|e| NotifyError::Config(format!("HTTP client: {e}")))?;
        Ok(Sender {
            http,
            url,
            secret,
            policy,
            allow_internal,
            targets: None,
            metrics,
        })
    }

    /// Sends each build's webhooks to its own endpoint when it has one.
    pub fn with_build_targets(mut self, targets: BuildTargets) -> Sender {
        self.targets = Some(targets);
        self
    }

    /// Where `hook` goes: its build's own endpoint (checked again: settings may have
    /// changed since the edge accepted it), else `MAIN_APP_URL`. `Err` is a lookup that
    /// failed (retried) or a refused endpoint.
    async fn endpoint(&self, hook: &Webhook) -> Result<Url, Failure> {
        let (Some(targets), Some(build_id)) = (&self.targets, hook.build_id()) else {
            return Ok(self.url.clone());
        };
        match targets.of_build(&build_id).await {
            Ok(Some(url)) => {
                crate::target::check_target("webhookUrl", &url, self.allow_internal)
                    .await
                    .map_err(Failure::Refused)?;
                Ok(url)
            }
            Ok(None) => Ok(self.url.clone()),
            Err(NotifyError::Config(reason)) => Err(Failure::Refused(NotifyError::Config(reason))),
            Err(err) => Err(Failure::Lookup(err)),
        }
    }

    /// Sends `hook` until it is delivered, gone, expired or `shutdown` fires.
    pub async fn send(&self, hook: &Webhook, shutdown: &CancellationToken) -> Outcome {
        let window =
            chrono::Duration::from_std(self.policy.window).unwrap_or(chrono::Duration::MAX);
        let deadline = hook
            .stored_at
            .checked_add_signed(window)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut pause = self.policy.first;
        let mut endpoint = None;
        for attempt in 1u32.. {
            if Utc::now() > deadline {
                break;
            }
            let wait = pause.mul_f64(rand::random_range(0.5..=1.0));
            if endpoint.is_none() {
                match self.endpoint(hook).await {
                    Ok(url) => endpoint = Some(url),
                    Err(Failure::Refused(err)) => {
                        tracing::error!(id = %hook.id, %err, "the build's webhookUrl is refused: not sent");
                        return Outcome::Refused;
                    }
                    Err(Failure::Lookup(err)) => {
                        tracing::warn!(id = %hook.id, attempt, %err, ?wait, "the build's webhook endpoint is unknown yet; retrying");
                    }
                }
            }
            if let Some(url) = &endpoint {
                match &self.post(url, hook).await {
                    Ok(status) if status.is_success() => return Outcome::Delivered,
                    Ok(status) if *status == StatusCode::GONE => return Outcome::Gone,
                    Ok(status) => {
                        tracing::warn!(id = %hook.id, attempt, %status, ?wait, "webhook refused; retrying")
                    }
                    Err(err) => {
                        tracing::warn!(id = %hook.id, attempt, err = %chain(err), ?wait, "webhook not delivered; retrying")
                    }
                }
            }
            let left = (deadline - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                _ = shutdown.cancelled() => return Outcome::Interrupted,
                _ = tokio::time::sleep(wait.min(left)) => {}
            }
            pause = (pause * 2).min(self.policy.max);
        }
        tracing::error!(id = %hook.id, window = ?self.policy.window, "webhook given up: no 2xx or 410 within the retry window");
        Outcome::Expired
    }

    /// One signed POST to `url`; answers the status.
    async fn post(&self, url: &Url, hook: &Webhook) -> Result<StatusCode, reqwest::Error> {
        let timestamp = Utc::now().timestamp();
        let signature = self.secret.sign(&hook.id, timestamp, hook.body.as_bytes());
        let sent = self
            .http
            .post(url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", &hook.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(hook.body.clone())
            .send()
            .await;
        let result = match &sent {
            Ok(response) if response.status().is_success() => "2xx",
            Ok(response) if response.status() == StatusCode::GONE => "410",
            Ok(response) if response.status().is_redirection() => "3xx",
            Ok(response) if response.status().is_client_error() => "4xx",
            Ok(_) => "5xx",
            Err(_) => "error",
        };
        self.metrics.attempted(result);
        Ok(sent?.status())
    }
}

/// Why a build's endpoint is not known.
enum Failure {
    /// It cannot be read now (NATS): retried.
    Lookup(NotifyError),
    /// It is refused: the webhook is not sent.
    Refused(NotifyError),
}
