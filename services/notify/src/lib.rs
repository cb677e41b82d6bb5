//! The notifier service (`buildwire notify`): tells the main app about builds without it
//! holding a socket open (design.md, "Notifications to the main app").
//!
//! It pulls the durable consumer `notify` on `EVENTS` ([`consumer`]), one event at a time
//! in stream order (the consumer allows one unacknowledged message, so a redelivery after
//! a crash keeps each build's order). Terminal events (`complete`, `failed`, `cancelled`)
//! and, with `BUILDWIRE_WEBHOOK_STATUS_EVENTS`, every `status` are POSTed to
//! `MAIN_APP_URL` signed per Standard Webhooks ([`signing`]); every other event is
//! acknowledged at once. `webhook-id` is `evt_<buildId>_<seq>`: the same on every retry and
//! after any restart, so a receiver can drop duplicates. The event stays unacknowledged
//! (kept alive by in-progress acks) until its webhook is delivered (2xx), refused for good
//! (410) or its retry window has passed ([`delivery`]); a killed notifier's event comes
//! back to the next one. Targets on internal addresses are refused ([`target`]). A build
//! submitted with its own `webhookUrl` has its webhooks sent there instead of
//! `MAIN_APP_URL` ([`target::BuildTargets`]), signed with the same secret.

pub mod consumer;
pub mod delivery;
pub mod error;
pub mod links;
pub mod metrics;
pub mod signing;
pub mod target;

use buildwire_runtime::Config;
use buildwire_runtime::nats::Nats;
use reqwest::Url;

pub use consumer::{CONSUMER, STREAM, run};
pub use delivery::{Outcome, RetryPolicy, Sender, Webhook};
pub use error::NotifyError;
pub use links::Links;
pub use metrics::Metrics;
pub use signing::Secret;

/// How the notifier runs.
#[derive(Clone, Debug)]
pub struct NotifyOptions {
    /// The endpoint (`MAIN_APP_URL`).
    pub url: Url,
    /// The signing secret (`MAIN_APP_WEBHOOK_SECRET`).
    pub secret: Secret,
    /// Also send `status` events (`BUILDWIRE_WEBHOOK_STATUS_EVENTS`).
    pub status_events: bool,
    /// Allow loopback and private targets (`BUILDWIRE_WEBHOOK_ALLOW_PRIVATE`).
    pub allow_private: bool,
    /// Retries of one webhook.
    pub retry: RetryPolicy,
    /// Fresh build log links in `complete` bodies (`None`: sent as stored).
    pub links: Option<Links>,
    /// Each build's own endpoint (`webhookUrl`), which replaces `url` for that build
    /// (`None`: every webhook goes to `url`).
    pub build_targets: Option<target::BuildTargets>,
}

impl NotifyOptions {
    /// From the settings; `MAIN_APP_URL` and its secret are required.
    pub fn from_config(config: &Config) -> Result<NotifyOptions, NotifyError> {
        let url = config.main_app_url.as_deref().ok_or_else(|| {
            NotifyError::Config(
                "MAIN_APP_URL is not set: the notifier has nowhere to send webhooks".into(),
            )
        })?;
        let url = Url::parse(url)
            .map_err(|e| NotifyError::Config(format!("MAIN_APP_URL {url:?}: {e}")))?;
        let secret = Secret::parse(
            config
                .main_app_webhook_secret
                .as_deref()
                .unwrap_or_default(),
        )?;
        Ok(NotifyOptions {
            url,
            secret,
            status_events: config.webhook_status_events,
            allow_private: config.webhook_allow_private,
            retry: RetryPolicy::default(),
            links: Some(links(config)?),
            build_targets: None,
        })
    }

    /// With each build's own endpoint read from `nats` (`webhookUrl` of `POST /v1/builds`).
    pub async fn with_build_targets(mut self, nats: &Nats) -> Result<NotifyOptions, NotifyError> {
        self.build_targets = Some(target::BuildTargets::open(nats).await?);
        Ok(self)
    }

    /// With log links signed for `config`'s public URL (`up` learns the edge's address after
    /// the options were read).
    pub fn with_links_for(mut self, config: &Config) -> Result<NotifyOptions, NotifyError> {
        self.links = Some(links(config)?);
        Ok(self)
    }

    /// Checks the target (no internal address unless allowed) and makes its sender.
    pub async fn sender(&self, metrics: &Metrics) -> Result<Sender, NotifyError> {
        target::check_url(&self.url, self.allow_private).await?;
        let sender = Sender::new(
            self.url.clone(),
            self.secret.clone(),
            self.retry,
            self.allow_private,
            metrics.clone(),
        )?;
        Ok(match &self.build_targets {
            Some(targets) => sender.with_build_targets(targets.clone()),
            None => sender,
        })
    }
}

/// Log links signed with the keyring (`BUILDWIRE_JWT_KEYS`) under the public URL.
fn links(config: &Config) -> Result<Links, NotifyError> {
    let signer = buildwire_runtime::signing::UrlSigner::from_config(config)
        .map_err(|e| NotifyError::Config(format!("log links: {e}")))?;
    Ok(Links::new(signer, &config.public_base()))
}
