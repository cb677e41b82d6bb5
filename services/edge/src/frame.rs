//! A stored event made ready to send: decoded once, re-serialized once with its `seq`, and
//! shared (behind an `Arc`) by every viewer of the build on this node.
//!
//! The text is a [`Utf8Bytes`] (reference-counted bytes that are valid UTF-8), so handing
//! it to a WebSocket is a reference count, not a copy per viewer, and SSE reads it as `str`.

use std::sync::Arc;

use buildwire_schemas::{Event, EventBody};
use chrono::{DateTime, Utc};
pub use tokio_tungstenite::tungstenite::Utf8Bytes;

/// One message of `build.<id>.events`, as the log or the live feed delivered it.
#[derive(Debug)]
pub struct Frame {
    /// Stream sequence: the event's `seq`.
    pub seq: u64,
    /// The build's previous sequence (`Nats-Last-Sequence`): set only on frames heard on
    /// the live subscription, so it also says the frame arrived live.
    pub prev: Option<u64>,
    /// When JetStream stored it (the start of the publish-to-send latency).
    pub stored_at: Option<DateTime<Utc>>,
    /// The decoded event; `None` for a message that is not a valid event (skipped, but its
    /// sequence still counts, so gap checks stay right).
    pub event: Option<Event>,
    /// The event as sent to clients, `seq` included. Empty when `event` is `None`.
    pub text: Utf8Bytes,
}

impl Frame {
    /// Decodes a stored message body.
    pub fn decode(
        seq: u64,
        prev: Option<u64>,
        stored_at: Option<DateTime<Utc>>,
        payload: &[u8],
    ) -> Frame {
        let event = match serde_json::from_slice::<Event>(payload) {
            Ok(mut event) => {
                event.seq = seq;
                Some(event)
            }
            Err(err) => {
                tracing::warn!(seq, %err, "skipping a stored message that is not an event");
                None
            }
        };
        let text = event
            .as_ref()
            .and_then(|event| serde_json::to_string(event).ok())
            .unwrap_or_default();
        Frame {
            seq,
            prev,
            stored_at,
            event,
            text: text.into(),
        }
    }

    /// A frame of an event read from the database (history JetStream no longer holds).
    pub fn from_event(event: Event) -> Frame {
        let text = serde_json::to_string(&event).unwrap_or_default();
        Frame {
            seq: event.seq,
            prev: None,
            stored_at: None,
            event: Some(event),
            text: text.into(),
        }
    }

    /// Shared, for the log and the feed.
    pub fn shared(self) -> Arc<Frame> {
        Arc::new(self)
    }

    /// Whether clients get this frame (it decoded into an event).
    pub fn is_sendable(&self) -> bool {
        self.event.is_some()
    }

    /// Whether this is the build's last event (complete, failed, cancelled).
    pub fn is_terminal(&self) -> bool {
        self.event.as_ref().is_some_and(Event::is_terminal)
    }

    /// Whether the frame came over the live subscription (not from a log read).
    pub fn heard_live(&self) -> bool {
        self.prev.is_some()
    }

    /// Whether the event carries a log link, which is signed each time it is sent
    /// ([`crate::logs::Links`]).
    pub fn has_links(&self) -> bool {
        self.event.as_ref().is_some_and(|event| match &event.body {
            EventBody::BuildStarted(update)
            | EventBody::BuildProgress(update)
            | EventBody::BuildCompleted(update)
            | EventBody::BuildFailed(update) => update.build_log_url.is_some(),
            EventBody::Complete(complete) => complete.build_log_url.is_some(),
            EventBody::DeployStarted(update)
            | EventBody::DeployProgress(update)
            | EventBody::DeployCompleted(update)
            | EventBody::DeployFailed(update) => update.deploy_log_url.is_some(),
            _ => false,
        })
    }

    /// The event's `type`, for metrics.
    pub fn type_name(&self) -> &'static str {
        self.event.as_ref().map_or("invalid", Event::type_name)
    }

    /// The request id of the build (for events the edge itself writes).
    pub fn request_id(&self) -> Option<&str> {
        self.event.as_ref().map(|e| e.request_id.as_str())
    }
}

/// Parses a `Nats-Time-Stamp` (RFC 3339) header value.
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
