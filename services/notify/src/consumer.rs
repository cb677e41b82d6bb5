//! The notifier's pull loop on the durable consumer `notify` (`EVENTS`,
//! `nats/consumers/EVENTS/notify.json`): one event at a time, acknowledged only once its
//! webhook is finished; held with in-progress acks meanwhile; handed back on shutdown.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use buildwire_runtime::pull::{self, Pulls};
use buildwire_runtime::{delivery, nats::Nats};
use buildwire_schemas::EventBody;
use tokio_util::sync::CancellationToken;

use crate::delivery::{Outcome, Webhook};
use crate::{Metrics, NotifyError, NotifyOptions, Sender};

/// The stream the events are stored on.
pub const STREAM: &str = buildwire_runtime::jetstream::stream::EVENTS;
/// The notifier's durable consumer.
pub const CONSUMER: &str = buildwire_runtime::jetstream::consumer::NOTIFY;

/// Messages asked for per pull (the consumer still hands out one at a time), and how long
/// one waits (also the longest delay before an idle loop sees shutdown).
const PULLS: Pulls = Pulls {
    batch: 16,
    wait: Duration::from_secs(2),
};

/// Sends webhooks for events until `shutdown`. Fails at start when the target is refused
/// (an internal address without `BUILDWIRE_WEBHOOK_ALLOW_PRIVATE`) or the consumer is
/// missing.
pub async fn run(
    nats: Nats,
    options: NotifyOptions,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> Result<(), NotifyError> {
    let sender = options.sender(&metrics).await?;
    let consumer = pull::durable(&nats.js, STREAM, CONSUMER)
        .await
        .map_err(|e| NotifyError::Nats(e.to_string()))?;
    let keep_alive_every = delivery::keep_alive_period(&consumer.cached_info().config);
    tracing::info!(url = %options.url, status_events = options.status_events, "notifier started");
    let mut handler = Handler {
        sender,
        links: options.links.clone(),
        metrics,
        status_events: options.status_events,
        keep_alive_every,
        shutdown: shutdown.clone(),
    };
    pull::run(&nats.client, &consumer, PULLS, &mut handler, &shutdown).await;
    tracing::info!("notifier stopped");
    Ok(())
}

struct Handler {
    sender: Sender,
    links: Option<crate::Links>,
    metrics: Metrics,
    status_events: bool,
    keep_alive_every: Duration,
    shutdown: CancellationToken,
}

impl pull::Handler for Handler {
    async fn handle(&mut self, message: &jetstream::Message) -> bool {
        let shutdown = self.shutdown.clone();
        self.send(message, &shutdown).await
    }
}

impl Handler {
    /// Sends `message`'s webhook when it is one to send, then acks. Returns false when
    /// shutdown interrupted it (it was handed back).
    async fn send(&self, message: &jetstream::Message, shutdown: &CancellationToken) -> bool {
        let hook = match self.webhook(message) {
            Ok(Some(hook)) => hook,
            Ok(None) => {
                // Not for the main app: acknowledged without waiting for a confirmation
                // (a lost ack only brings it back to be skipped again).
                if let Err(err) = message.ack().await {
                    tracing::warn!(%err, "ack failed");
                }
                return true;
            }
            Err(reason) => {
                tracing::warn!(subject = %message.subject, %reason, "not a build event: dropped");
                delivery::confirm(message, AckKind::Term, shutdown).await;
                return true;
            }
        };
        let outcome = tokio::select! {
            outcome = self.sender.send(&hook, shutdown) => outcome,
            () = delivery::keep_alive(message, self.keep_alive_every) => Outcome::Interrupted,
        };
        if outcome == Outcome::Interrupted {
            delivery::confirm(message, AckKind::Nak(None), shutdown).await;
            return false;
        }
        self.metrics.finished(outcome.label());
        if outcome == Outcome::Delivered {
            let age = (chrono::Utc::now() - hook.stored_at)
                .to_std()
                .unwrap_or_default();
            self.metrics.delivery_latency.observe(age.as_secs_f64());
        }
        tracing::info!(id = %hook.id, outcome = outcome.label(), "webhook finished");
        delivery::confirm(message, AckKind::Ack, shutdown).await;
        true
    }

    /// The webhook for `message`, `None` when its event is not sent, `Err` when it is not
    /// an event at all.
    fn webhook(&self, message: &jetstream::Message) -> Result<Option<Webhook>, String> {
        let (mut event, stored_at) = pull::event(message).map_err(|e| e.to_string())?;
        let wanted = event.is_terminal()
            || (self.status_events && matches!(event.body, EventBody::Status(_)));
        if !wanted {
            return Ok(None);
        }
        if let Some(links) = &self.links {
            links.refresh(&mut event);
        }
        let body = serde_json::to_string(&event).map_err(|e| e.to_string())?;
        Ok(Some(Webhook {
            id: format!("evt_{}_{}", event.build_id, event.seq),
            body,
            stored_at,
        }))
    }
}
