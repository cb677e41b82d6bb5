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

use async_nats::jetstream::{self, AckKind};
use buildwire_runtime::pull::{self, Pulls};
use buildwire_runtime::{delivery, metrics, nats::Nats, trace_context};
use buildwire_schemas::Event;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{RecordError, Store};

/// The stream the events are stored on.
pub const STREAM: &str = buildwire_runtime::jetstream::stream::EVENTS;
/// The durable consumer the recorder pulls from (`nats/consumers/EVENTS/record.json`).
pub const CONSUMER: &str = buildwire_runtime::jetstream::consumer::RECORD;

/// Messages asked for per pull, and how long one waits (also the longest delay before an
/// idle loop sees shutdown).
const PULLS: Pulls = Pulls {
    batch: 64,
    wait: Duration::from_secs(2),
};

/// First retry delay while the database is unavailable.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest retry delay while the database is unavailable.
const MAX_BACKOFF: Duration = Duration::from_secs(3);

/// Records events until `shutdown`; returns an error only when the consumer cannot be
/// found (the definitions were not applied). On shutdown the event in hand, and any
/// already delivered, are handed back (nak) so the next recorder takes them at once.
pub async fn run(nats: Nats, store: Store, shutdown: CancellationToken) -> Result<(), RecordError> {
    let consumer = pull::durable(&nats.js, STREAM, CONSUMER)
        .await
        .map_err(|e| RecordError::Nats(e.to_string()))?;
    let ack_wait = consumer.cached_info().config.ack_wait;
    let keep_alive_every = delivery::keep_alive_period(&consumer.cached_info().config);
    metrics::record();
    metrics::sampler::start(&nats, shutdown.clone());
    tracing::info!(?ack_wait, "recorder started");
    let mut recorder = Recorder {
        store,
        keep_alive_every,
        shutdown: shutdown.clone(),
    };
    pull::run(&nats.client, &consumer, PULLS, &mut recorder, &shutdown).await;
    tracing::info!("recorder stopped");
    Ok(())
}

/// The loop's handler: records each event.
struct Recorder {
    store: Store,
    keep_alive_every: Duration,
    shutdown: CancellationToken,
}

impl pull::Handler for Recorder {
    async fn handle(&mut self, message: &jetstream::Message) -> bool {
        handle(&self.store, message, self.keep_alive_every, &self.shutdown).await
    }

    fn idle(&mut self) {
        // Nothing arrived for a whole pull: the recorder is caught up.
        metrics::record().lag_seconds.set(0.0);
    }
}

/// Records one delivery and acks it. Returns false when shutdown interrupted it (the
/// message was handed back).
async fn handle(
    store: &Store,
    message: &jetstream::Message,
    keep_alive_every: Duration,
    shutdown: &CancellationToken,
) -> bool {
    let event = match pull::event(message) {
        Ok((event, _)) => event,
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
                if !pull::pause(shutdown, delay).await {
                    return Outcome::Interrupted;
                }
                delay = (delay * 2).min(MAX_BACKOFF);
                attempt = attempt.saturating_add(1);
            }
        }
    }
}
