//! How the edge ends a build's stream: a typed [`Disconnect`] instead of a reason string, so
//! a client decides whether and where to reconnect from fields, not from prose.
//!
//! On WebSocket it is the close frame: `code` is the frame's close code and the frame's
//! reason is the `Disconnect` as JSON (at most 123 bytes, as RFC 6455 allows). On
//! Server-Sent Events it is the last thing written, a comment `: disconnect {json}` (a
//! comment, so `EventSource` and every `id:`/`data:` reader are unaffected).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why the server ended a stream, and where to resume.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Disconnect {
    /// The WebSocket close code (RFC 6455), the same on SSE: 1000 build finished, 1001
    /// server going away, 1002 protocol error, 1007 text not UTF-8, 1008 unsupported
    /// message, 1009 message too big, 1011 history unavailable, 1013 slow consumer.
    pub code: u16,
    /// Why, for clients to branch on.
    pub reason: DisconnectReason,
    /// Reconnect with `after` (or `Last-Event-ID`) set to this `seq`: the last event this
    /// stream delivered. Absent when there is nothing to resume (the build finished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_after: Option<u64>,
}

/// Why a stream ended.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectReason {
    /// The build's terminal event was delivered: do not reconnect.
    BuildFinished,
    /// The edge node is stopping: reconnect (another node answers) and resume.
    GoingAway,
    /// A frame broke RFC 6455 (unmasked, a reserved opcode or bit, a control frame over
    /// 125 bytes).
    ProtocolError,
    /// A text frame was not UTF-8.
    InvalidUtf8,
    /// A message other than `resume` and `ping`, or binary.
    UnsupportedMessage,
    /// A message over 1 KiB.
    MessageTooBig,
    /// History could not be read: reconnect and resume.
    HistoryUnavailable,
    /// The client read more slowly than events arrived and fell too far behind: reconnect
    /// and resume.
    SlowConsumer,
}

impl DisconnectReason {
    /// The WebSocket close code this reason closes with.
    pub fn close_code(self) -> u16 {
        match self {
            DisconnectReason::BuildFinished => 1000,
            DisconnectReason::GoingAway => 1001,
            DisconnectReason::ProtocolError => 1002,
            DisconnectReason::InvalidUtf8 => 1007,
            DisconnectReason::UnsupportedMessage => 1008,
            DisconnectReason::MessageTooBig => 1009,
            DisconnectReason::HistoryUnavailable => 1011,
            DisconnectReason::SlowConsumer => 1013,
        }
    }
}

impl Disconnect {
    /// A disconnect for `reason`, resuming after `resume_after`.
    pub fn new(reason: DisconnectReason, resume_after: Option<u64>) -> Disconnect {
        Disconnect {
            code: reason.close_code(),
            reason,
            resume_after,
        }
    }

    /// The build finished: nothing to resume.
    pub fn finished() -> Disconnect {
        Disconnect::new(DisconnectReason::BuildFinished, None)
    }

    /// Whether the client should reconnect (everything but a finished build).
    pub fn reconnect(&self) -> bool {
        self.reason != DisconnectReason::BuildFinished
    }

    /// The JSON sent as a close reason or SSE comment.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_disconnect_fits_a_close_frame() {
        let largest = Disconnect::new(DisconnectReason::UnsupportedMessage, Some(u64::MAX));
        assert!(largest.to_json().len() <= 123, "{}", largest.to_json());
        assert_eq!(
            Disconnect::finished().to_json(),
            r#"{"code":1000,"reason":"build_finished"}"#
        );
        let back: Disconnect =
            serde_json::from_str(r#"{"code":1013,"reason":"slow_consumer","resumeAfter":7}"#)
                .unwrap_or_else(|_| Disconnect::finished());
        assert_eq!(
            back,
            Disconnect::new(DisconnectReason::SlowConsumer, Some(7))
        );
    }
}
