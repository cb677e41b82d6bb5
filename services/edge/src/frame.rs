//! A stored event made ready to send: decoded once, re-serialized once with its `seq`, and
//! shared (behind an `Arc`) by every viewer of the build on this node.

use std::sync::Arc;

use buildwire_schemas::Event;
use chrono::{DateTime, Utc};

/// One message of `build.<id>.events`, as history or the live feed delivered it.
#[derive(Debug)]
pub struct Frame {
    /// Stream sequence: the event's `seq`.
    pub seq: u64,
    /// The build's previous sequence (`Nats-Last-Sequence`), when the live feed told us.
    pub prev: Option<u64>,
    /// When JetStream stored it (the start of the publish-to-send latency).
    pub stored_at: Option<DateTime<Utc>>,
    /// The decoded event; `None` for a message that is not a valid event (skipped, but its
    /// sequence still counts, so gap checks stay right).
    pub event: Option<Event>,
    /// The event as sent to clients, `seq` included. Empty when `event` is `None`.
    pub json: Arc<str>,
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
        let json = event
            .as_ref()
            .and_then(|event| serde_json::to_string(event).ok())
            .unwrap_or_default();
        Frame {
            seq,
            prev,
            stored_at,
            event,
            json: json.into(),
        }
    }

    /// A frame of an event read from the database (history JetStream no longer holds).
    pub fn from_event(event: Event) -> Frame {
        let json = serde_json::to_string(&event).unwrap_or_default();
        Frame {
            seq: event.seq,
            prev: None,
            stored_at: None,
            event: Some(event),
            json: json.into(),
        }
    }

    /// Whether clients get this frame (it decoded into an event).
    pub fn is_sendable(&self) -> bool {
        self.event.is_some()
    }

    /// Whether this is the build's last event (complete, failed, cancelled).
    pub fn is_terminal(&self) -> bool {
        self.event.as_ref().is_some_and(Event::is_terminal)
    }

    /// The event's `type`, for metrics.
    pub fn type_name(&self) -> &'static str {
        self.event.as_ref().map_or("invalid", Event::type_name)
    }
}

/// Parses a `Nats-Time-Stamp` / `Nats-Time-Stamp`-style RFC 3339 header value.
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
