//! Bodies of the HTTP API and of the WebSocket client messages.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::events::{BuildStatus, Event};

/// A build id: a ULID in canonical form (what `subjects::check_build_id` accepts).
pub const BUILD_ID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$";
/// An id the main app chooses (user, project, request): 1-128 of `A-Z a-z 0-9 _ . - @ : +`.
pub const ID_PATTERN: &str = "^[A-Za-z0-9_.@:+-]{1,128}$";
/// Longest id the main app may choose.
pub const MAX_ID_CHARS: usize = 128;
/// Longest prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 8_000;
/// A prompt: no control character but tab, line feed and carriage return, and at least one
/// character that is neither white space nor a control character.
pub const PROMPT_PATTERN: &str = concat!(
    r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*",
    r"[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    r"[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$",
);

/// `POST /v1/builds` (and `POST /build-preview`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SubmitBuild {
    /// What to build or change: 1-8000 characters, not only white space, no control
    /// characters but tab and line breaks.
    #[schemars(length(min = 1, max = MAX_PROMPT_CHARS), pattern(PROMPT_PATTERN))]
    pub prompt: String,
    /// The main app's user (1-128 of `A-Z a-z 0-9 _ . - @ : +`); rate limits and the
    /// circuit breaker count per user.
    #[schemars(pattern(ID_PATTERN))]
    pub user_id: String,
    /// The project a follow-up belongs to (same characters as `userId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(ID_PATTERN))]
    pub project_id: Option<String>,
    /// The build a follow-up starts from (a build id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(BUILD_ID_PATTERN))]
    pub parent_build_id: Option<String>,
    /// The caller's request id, for tracing (same characters as `userId`); the build id
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(ID_PATTERN))]
    pub request_id: Option<String>,
}

/// `202` answer to a submission.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuildAccepted {
    /// The new build's id (a ULID).
    pub build_id: String,
    /// JWT for the build's streams.
    pub build_token: String,
    /// When the token expires.
    pub token_expires_at: DateTime<Utc>,
    /// `ws(s)://.../ws/builds/{id}`.
    pub websocket_url: String,
    /// `http(s)://.../events/{id}` (SSE).
    pub events_url: String,
    /// `http(s)://.../v1/builds/{id}`.
    pub status_url: String,
}

/// `GET /v1/builds/{id}`: a build's progress.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuildProgress {
    /// The build.
    pub build_id: String,
    /// Where it stands.
    pub status: BuildStatus,
    /// Step ids known so far, in order.
    pub steps: Vec<String>,
    /// Step ids finished.
    pub completed_steps: Vec<String>,
    /// Preview, once deployed.
    pub preview_url: Option<String>,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Signed URL of the full build log.
    pub build_log_url: Option<String>,
    /// Sequence of the newest event applied.
    pub last_seq: u64,
    /// When the progress last changed.
    pub updated_at: DateTime<Utc>,
}

/// `GET /v1/builds/{id}/events`: a page of history, oldest first.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventsPage {
    /// Events with `seq` greater than the request's `after`.
    pub events: Vec<Event>,
    /// Whether more events follow this page (ask again with `after` = the last `seq`).
    pub has_more: bool,
}

/// `POST /v1/builds/{id}/token`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuildToken {
    /// JWT for the build's streams.
    pub build_token: String,
    /// When it expires.
    pub token_expires_at: DateTime<Utc>,
}

/// An error answer (`application/problem+json`, RFC 9457) with buildwire's `code`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong in this case.
    pub detail: String,
    /// Machine-readable code (`RATE_LIMITED`, `CIRCUIT_OPEN`, ...).
    pub code: String,
    /// Whether the same request may succeed later.
    pub retryable: bool,
}

/// What a browser may send on a build's WebSocket.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Send everything after `after` (a `seq`).
    Resume {
        /// The last `seq` the client has.
        after: u64,
    },
    /// Liveness check; answered with a `heartbeat`.
    Ping {},
}
