//! Bodies of the HTTP API and of the WebSocket client messages.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::events::{BuildStatus, Event};

/// `POST /v1/builds` (and `POST /build-preview`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(rename_all = "camelCase"))]
pub struct SubmitBuild {
    /// What to build or change.
    pub prompt: String,
    /// The main app's user.
    pub user_id: String,
    /// The project a follow-up belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub project_id: Option<String>,
    /// The build a follow-up starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub parent_build_id: Option<String>,
    /// The caller's request id, for tracing; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub request_id: Option<String>,
}

/// `202` answer to a submission.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(rename_all = "camelCase"))]
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
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(rename_all = "camelCase"))]
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
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(rename_all = "camelCase"))]
pub struct EventsPage {
    /// Events with `seq` greater than the request's `after`.
    pub events: Vec<Event>,
    /// Whether more events follow this page (ask again with `after` = the last `seq`).
    pub has_more: bool,
}

/// `POST /v1/builds/{id}/token`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(rename_all = "camelCase"))]
pub struct BuildToken {
    /// JWT for the build's streams.
    pub build_token: String,
    /// When it expires.
    pub token_expires_at: DateTime<Utc>,
}

/// An error answer (`application/problem+json`, RFC 9457) with buildwire's `code`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(rename_all = "camelCase"))]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", oai(rename = "type"))]
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
