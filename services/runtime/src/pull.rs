//! A durable pull consumer's loop, shared by the recorder and the notifier: pull a batch,
//! hand each message to a [`Handler`] one at a time, and on shutdown hand back (nak) what
//! this process was given but did not handle, so another instance takes it at once instead
//! of after the ack wait. Acknowledgements themselves are [`crate::delivery`]'s.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use buildwire_schemas::{Event, subjects};

use crate::delivery;

/// The pause after a pull that failed (NATS away).
const RETRY_PULL: Duration = Duration::from_millis(500);
/// How long a hand-back waits for each message still on its way.
const HAND_BACK_WAIT: Duration = Duration::from_millis(50);

/// A durable consumer could not be found.
#[derive(Debug, thiserror::Error)]
#[error("{what} {name}: {source}")]
pub struct MissingConsumer {
    /// `stream` or `consumer`.
    what: &'static str,
    /// Its name.
    name: String,
    /// The server's answer.
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

/// The durable pull consumer `consumer` on `stream` (both applied by the definitions).
pub async fn durable(
    js: &jetstream::Context,
    stream: &str,
    consumer: &str,
) -> Result<PullConsumer, MissingConsumer> {
    let found = js.get_stream(stream).await.map_err(|e| MissingConsumer {
        what: "stream",
        name: stream.to_string(),
        source: e.into(),
    })?;
    found
        .get_consumer(consumer)
        .await
        .map_err(|e| MissingConsumer {
            what: "consumer",
            name: format!("{stream}/{consumer}"),
            source: e,
        })
}

/// What a loop does with each message.
pub trait Handler: Send {
    /// Handles `message` (and acknowledges it). False when shutdown interrupted it: the
    /// loop then hands back the rest of the batch and stops.
    fn handle(&mut self, message: &jetstream::Message) -> impl Future<Output = bool> + Send;

    /// A whole pull went by without a message (the consumer is caught up).
    fn idle(&mut self) {}
}

/// How a loop pulls.
#[derive(Debug, Clone, Copy)]
pub struct Pulls {
    /// Messages asked for per pull.
    pub batch: usize,
    /// How long one pull waits (also the longest delay before an idle loop sees shutdown).
    pub wait: Duration,
}

/// Pulls from `consumer` into `handler` until `shutdown`, then flushes what is owed to
/// `client` ([`delivery::flush_before_exit`]).
pub async fn run<H: Handler>(
    client: &async_nats::Client,
    consumer: &PullConsumer,
    pulls: Pulls,
    handler: &mut H,
    shutdown: &CancellationToken,
) {
    pull_until_shutdown(consumer, pulls, handler, shutdown).await;
    delivery::flush_before_exit(client).await;
}

async fn pull_until_shutdown<H: Handler>(
    consumer: &PullConsumer,
    pulls: Pulls,
    handler: &mut H,
    shutdown: &CancellationToken,
) {
    while !shutdown.is_cancelled() {
        let pulled = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            pulled = consumer.batch().max_messages(pulls.batch).expires(pulls.wait).messages() => pulled,
        };
        let mut batch = match pulled {
            Ok(batch) => batch,
            Err(err) => {
                tracing::warn!(%err, "pull failed; retrying");
                pause(shutdown, RETRY_PULL).await;
                continue;
            }
        };
        let mut handled = false;
        loop {
            let next = tokio::select! {
                biased;
                _ = shutdown.cancelled() => None,
                next = batch.next() => Some(next),
            };
            match next {
                None => return hand_back(&mut batch, shutdown).await,
                Some(None) => break,
                Some(Some(Err(err))) => tracing::debug!(%err, "pull ended"),
                Some(Some(Ok(message))) => {
                    handled = true;
                    if !handler.handle(&message).await {
                        return hand_back(&mut batch, shutdown).await;
                    }
                }
            }
        }
        if !handled {
            handler.idle();
        }
    }
}

/// Naks what is left of a pull (already delivered to this process) so the next instance
/// gets it without waiting out the ack wait.
async fn hand_back(batch: &mut jetstream::consumer::pull::Batch, shutdown: &CancellationToken) {
    while let Ok(Some(next)) = tokio::time::timeout(HAND_BACK_WAIT, batch.next()).await {
        if let Ok(message) = next {
            delivery::confirm(&message, AckKind::Nak(None), shutdown).await;
        }
    }
}

/// Sleeps `delay`; false if `shutdown` came first.
pub async fn pause(shutdown: &CancellationToken, delay: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}

/// Why a message is not a build event (it is terminated: it can never be handled).
#[derive(Debug, thiserror::Error)]
pub enum NotAnEvent {
    /// The message came from no JetStream consumer.
    #[error("no JetStream metadata: {0}")]
    Metadata(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The payload is not an event.
    #[error("invalid event: {0}")]
    Invalid(#[source] serde_json::Error),
    /// The event names another build than its subject.
    #[error("event of build {0:?} on another build's subject")]
    WrongSubject(String),
}

/// The event `message` carries, its `seq` set from the stream sequence, and when it was
/// stored.
pub fn event(
    message: &jetstream::Message,
) -> Result<(Event, chrono::DateTime<chrono::Utc>), NotAnEvent> {
    let info = message.info().map_err(NotAnEvent::Metadata)?;
    let mut event: Event = serde_json::from_slice(&message.payload).map_err(NotAnEvent::Invalid)?;
    if subjects::build_id_of(&message.subject) != Some(event.build_id.as_str()) {
        return Err(NotAnEvent::WrongSubject(event.build_id));
    }
    event.seq = info.stream_sequence;
    let stored_at = chrono::DateTime::from_timestamp(
        info.published.unix_timestamp(),
        info.published.nanosecond(),
    )
    .unwrap_or_else(chrono::Utc::now);
    Ok((event, stored_at))
}
