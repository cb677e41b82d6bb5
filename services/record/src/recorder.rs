//! The recorder loop: pulls every event from the durable `record` consumer on `EVENTS`,
//! stores it with [`Store::record`], and acks only once it is committed. While the
//! database is down it holds the current event (in-progress acks keep it from being
//! redelivered) and retries with capped exponential backoff, one event at a time, so
//! nothing is lost or reordered and it catches up when the database returns.
//!
//! Each write runs in a span (`record event`) whose parent is the trace context the event
//! carries, and is counted in [`buildwire_runtime::metrics::record`]: events stored by
//! type, builds finished by outcome, the lag behind the stream, write durations.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use buildwire_runtime::{delivery, metrics, nats::Nats, trace_context};
use buildwire_schemas::{Event, subjects};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{RecordError, Store};

/// The stream the events are stored on.
pub const STREAM: &str = buildwire_runtime::jetstream::stream::EVENTS;
/// The durable consumer the recorder pulls from (`nats/consumers/EVENTS/record.json`).
pub const CONSUMER: &str = buildwire_runtime::jetstream::consumer::RECORD;

/// Messages asked for per pull.
const BATCH: usize = 64;
/// How long one pull waits (also the longest delay before an idle loop sees shutdown).
const PULL_WAIT: Duration = Duration::from_secs(2);
/// First retry delay while the database is unavailable.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest retry delay while the database is unavailable.
const MAX_BACKOFF: Duration = Duration::from_secs(3);

/// Records events until `shutdown`; returns an error only when the consumer cannot be
/// found (the definitions were not applied). On shutdown the event in hand, and any
/// already delivered, are handed back (nak) so the next recorder takes them at once.
pub async fn run(nats: Nats, store: Store, shutdown: CancellationToken) -> Result<(), RecordError> {
    let consumer: PullConsumer = nats
        .js
        .get_stream(STREAM)
        .await
        .map_err(|e| RecordError::Nats(format!("stream {STREAM}: {e}")))?
        .get_consumer(CONSUMER)
        .await
        .map_err(|e| RecordError::Nats(format!("consumer {STREAM}/{CONSUMER}: {e}")))?;
    let ack_wait = consumer.cached_info().config.ack_wait;
    let keep_alive_every = delivery::keep_alive_period(&consumer.cached_info().config);
    metrics::record();
    metrics::sampler::start(&nats, shutdown.clone());
    tracing::info!(?ack_wait, "recorder started");

    'pulls: while !shutdown.is_cancelled() {
        let pulled = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            pulled = consumer.batch().max_messages(BATCH).expires(PULL_WAIT).messages() => pulled,
        };
        let mut batch = match pulled {
            Ok(batch) => batch,
            Err(err) => {
                tracing::warn!(%err, "pull failed; retrying");
                pause(&shutdown, Duration::from_millis(500)).await;
                continue;
            }
        };
        let mut handled = false;
        loop {
            let next = tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    hand_back(&mut batch, &shutdown).await;
                    break 'pulls;
                }
                next = batch.next() => next,
            };
            match next {
                None => {
                    if !handled {
                        // Nothing arrived for a whole pull: the recorder is caught up.
                        metrics::record().lag_seconds.set(0.0);
                    }
                    break;
                }
                Some(Err(err)) => tracing::debug!(%err, "pull ended"),
                Some(Ok(message)) => {
                    handled = true;
                    if !handle(&store, &message, keep_alive_every, &shutdown).await {
                        hand_back(&mut batch, &shutdown).await;
                        break 'pulls;
                    }
                }
            }
        }
    }
    delivery::flush_before_exit(&nats.client).await;
    tracing::info!("recorder stopped");
    Ok(())
}

/// Records one delivery and acks it. Returns false when shutdown interrupted it (the
/// message was handed back).
async fn handle(
    store: &Store,
    message: &jetstream::Message,
    keep_alive_every: Duration,
    shutdown: &CancellationToken,
) -> bool {
    let event = match decode(message) {
        Ok(event) => event,
        Err(reason) => {
            tracing::warn!(subject = %message.subject, %reason, "not a build event: dropped");
            delivery::confirm(message, AckKind::Term, shutdown).await;
            return true;
        }
    };
    let span = tracing::info_span!(
        "record event",
        buildId = %event.build_id,
        requestId = %event.request_id,
        seq = event.seq,
        eventType = event.type_name(),
        traceId = tracing::field::Empty,
    );
    trace_context::adopt(&span, message.headers.as_ref());
    let outcome = tokio::select! {
        outcome = store_until_done(store, &event, shutdown).instrument(span) => outcome,
        () = delivery::keep_alive(message, keep_alive_every) => Outcome::Interrupted,
    };
    let kind = match outcome {
        Outcome::Stored => AckKind::Ack,
        Outcome::Dropped => AckKind::Term,
        Outcome::Interrupted => AckKind::Nak(None),
    };
    delivery::confirm(message, kind, shutdown).await;
    !matches!(outcome, Outcome::Interrupted)
}

/// How one event's recording ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Committed (or already stored).
    Stored,
    /// Bad data: it can never be stored.
    Dropped,
    /// Shutdown came while the database was unavailable.
    Interrupted,
}

/// Records `event`, retrying with capped exponential backoff while the database is
/// unavailable, until it is stored, proves to be bad data, or shutdown.
async fn store_until_done(store: &Store, event: &Event, shutdown: &CancellationToken) -> Outcome {
    let mut delay = FIRST_BACKOFF;
    let mut attempt = 1u32;
    loop {
        let age = (chrono::Utc::now() - event.timestamp)
            .num_milliseconds()
            .max(0);
        metrics::record().lag_seconds.set(age as f64 / 1000.0);
        let started = std::time::Instant::now();
        let written = store.record(event).await;
        metrics::record()
            .write_seconds
            .observe(started.elapsed().as_secs_f64());
        match written {
            Ok(recorded) => {
                tracing::debug!(build_id = %event.build_id, seq = event.seq, inserted = recorded.inserted, "recorded");
                if recorded.inserted {
                    metrics::record().stored(event.type_name());
                }
                return Outcome::Stored;
            }
            Err(err) if err.is_bad_data() => {
                tracing::error!(build_id = %event.build_id, seq = event.seq, %err, "event cannot be stored: dropped");
                return Outcome::Dropped;
            }
            Err(err) => {
                tracing::warn!(build_id = %event.build_id, seq = event.seq, %err, attempt, ?delay, "database unavailable; retrying");
                if !pause(shutdown, delay).await {
                    return Outcome::Interrupted;
                }
                delay = (delay * 2).min(MAX_BACKOFF);
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// The event a message carries, its `seq` set from the stream sequence.
fn decode(message: &jetstream::Message) -> Result<Event, String> {
    let info = message
        .info()
        .map_err(|e| format!("no JetStream metadata: {e}"))?;
    let mut event: Event =
        serde_json::from_slice(&message.payload).map_err(|e| format!("invalid event: {e}"))?;
    let subject_build = subjects::build_id_of(&message.subject).unwrap_or_default();
    if subject_build != event.build_id {
        return Err(format!(
            "event of build {:?} on the subject of {subject_build:?}",
            event.build_id
        ));
    }
    event.seq = info.stream_sequence;
    Ok(event)
}

/// Naks what is left of a pull (already delivered to this process) so the next recorder
/// gets it without waiting out the ack wait.
async fn hand_back(batch: &mut jetstream::consumer::pull::Batch, shutdown: &CancellationToken) {
    while let Ok(Some(next)) = tokio::time::timeout(Duration::from_millis(50), batch.next()).await {
        if let Ok(message) = next {
            delivery::confirm(&message, AckKind::Nak(None), shutdown).await;
        }
    }
}

/// Sleeps `delay`; false if `shutdown` came first.
async fn pause(shutdown: &CancellationToken, delay: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}
