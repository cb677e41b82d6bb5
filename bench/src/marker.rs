//! The benchmark's events and how a client recognises them: a `status` event whose message
//! carries the publisher's send time in unix nanoseconds and the event's index within its
//! build (`bench t=<ns> n=<n>`), so latency is exact and gaps are countable on every
//! target, including the bare broadcaster that forwards payloads without a `seq`.

use std::time::{SystemTime, UNIX_EPOCH};

use buildwire_schemas::events::{StatusCode, StatusUpdate};
use buildwire_schemas::{BuildStatus, Event, EventBody};

const PREFIX: &str = "bench t=";

/// Unix time in nanoseconds (the clock publisher and clients share on one machine).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Event `n` of `build_id`, stamped now; `padding` extra bytes make it as large as a
/// real event (a batch of log lines) when asked. Event 0 is `QUEUED`, as the edge stores
/// first for every real build (the edge's feed window relies on seeing it).
pub fn event(build_id: &str, n: u32, padding: usize) -> Event {
    let mut message = format!("{PREFIX}{} n={n}", now_ns());
    if padding > 0 {
        message.push(' ');
        message.extend(std::iter::repeat_n('x', padding));
    }
    Event::new(
        build_id,
        "bench",
        EventBody::Status(StatusUpdate {
            code: if n == 0 {
                StatusCode::Queued
            } else {
                StatusCode::Build
            },
            message,
            progress: None,
            build_status: Some(if n == 0 {
                BuildStatus::Queued
            } else {
                BuildStatus::Building
            }),
        }),
    )
}

/// What a client learned from one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The event's index within its build.
    pub n: u32,
    /// When the publisher made it (unix ns).
    pub sent_ns: u64,
    /// Its `seq`, when the target sends one.
    pub seq: Option<u64>,
}

fn digits_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// Reads a benchmark event out of a frame (edge JSON, socket.io packet or bare payload);
/// `None` for anything else (greetings, heartbeats).
pub fn parse(text: &str) -> Option<Seen> {
    let start = text.find(PREFIX)?;
    let marked = &text[start..];
    let sent_ns = digits_after(marked, PREFIX)?.parse().ok()?;
    let n = digits_after(marked, " n=")?.parse().ok()?;
    let seq = digits_after(text, "\"seq\":").and_then(|s| s.parse().ok());
    Some(Seen { n, sent_ns, seq })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_every_framing() {
        let id = "01JD5Y8Q7R3M4N5P6Q7R8S9T0V";
        let mut event = event(id, 7, 3);
        let bare = serde_json::to_string(&event).expect("json");
        let seen = parse(&bare).expect("bare payload");
        assert_eq!((seen.n, seen.seq), (7, None));
        assert!(seen.sent_ns > 0);
        event.seq = 42;
        let edge = serde_json::to_string(&event).expect("json");
        assert_eq!(parse(&edge).map(|s| s.seq), Some(Some(42)));
        let socketio = format!("42/build-{id},[\"event\",{edge},\"abc\"]");
        assert_eq!(parse(&socketio).map(|s| (s.n, s.seq)), Some((7, Some(42))));
        let connected = r#"{"buildId":"x","type":"connected","lastSeq":9,"recovered":true}"#;
        assert_eq!(parse(connected), None);
    }
}
