//! Bodies of the HTTP API and of the WebSocket client messages.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::events::{BuildStatus, Event, TokenUsage};

/// A build id: a ULID in canonical form (what `subjects::check_build_id` accepts).
pub const BUILD_ID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$";
/// A W3C trace id: 32 lowercase hex digits.
pub const TRACE_ID_PATTERN: &str = "^[0-9a-f]{32}$";
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
    /// Restore: rebuild and redeploy the file tree this earlier build of the same user
    /// left (a build id), without the LLM; `prompt` is then only the build's label. The
    /// restored tree becomes the project's newest, so the next follow-up starts from it.
    /// Not with `parentBuildId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(BUILD_ID_PATTERN))]
    pub restore_from_build_id: Option<String>,
    /// Where this build's webhooks go instead of `MAIN_APP_URL` (an `http(s)` URL of at
    /// most 2048 characters; loopback and private addresses are refused unless
    /// `BUILDWIRE_WEBHOOK_ALLOW_PRIVATE` is set). Signed with `MAIN_APP_WEBHOOK_SECRET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(url, length(max = MAX_WEBHOOK_URL_CHARS))]
    pub webhook_url: Option<String>,
}

/// Longest per-build `webhookUrl`, in characters.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2_048;

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
    /// LLM tokens the build used so far: the sum of its `usage` events (null until one;
    /// the offline provider reports none).
    #[serde(default)]
    pub usage: Option<TokenUsage>,
    /// The build's trace id (32 hex digits, W3C trace context): the main app's trace when
    /// it sent a `traceparent` with the submission, else the one the edge started. Look the
    /// build up in the trace backend (Jaeger) with it. Set by `GET /v1/builds/{id}` and
    /// the cancel answer; `null` when not known (the build's first event no longer held by
    /// JetStream) and in a stream's `snapshot`.
    #[serde(default)]
    #[schemars(pattern(TRACE_ID_PATTERN))]
    pub trace_id: Option<String>,
    /// Signed URL of the deploy target's log (Cloudflare Pages' stage logs), once the
    /// deploy kept one; `null` otherwise (the `local` target keeps none).
    #[serde(default)]
    pub deploy_log_url: Option<String>,
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
    /// Machine-readable code, what a client branches on (`RATE_LIMITED`, `CIRCUIT_OPEN`,
    /// ...): one of a fixed list.
    pub code: ProblemCode,
    /// Whether the same request may succeed later.
    pub retryable: bool,
}

/// Declares [`ProblemCode`] with the text each variant has on the wire, so the enum, its
/// JSON Schema and [`ProblemCode::as_str`] cannot disagree.
macro_rules! problem_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// Every `code` a problem+json answer can carry: one enum, so the spec and the
        /// TypeScript types list them and a client can match them exhaustively.
        #[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ProblemCode {
            $($(#[$doc])* #[serde(rename = $text)] $variant,)*
        }

        impl ProblemCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant,)*];

            /// The code as it is written on the wire (`BUILD_NOT_FOUND`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $text,)*
                }
            }
        }
    };
}

problem_codes! {
    /// The request is malformed in a way no more specific code names.
    BadRequest = "BAD_REQUEST",
    /// The body could not be read.
    BadBody = "BAD_BODY",
    /// The body is not JSON.
    InvalidJson = "INVALID_JSON",
    /// The body is not a JSON object.
    InvalidBody = "INVALID_BODY",
    /// Well-formed input that breaks a rule no more specific code names.
    InvalidInput = "INVALID_INPUT",
    /// `prompt` is missing, empty, too long or has control characters.
    InvalidPrompt = "INVALID_PROMPT",
    /// `userId` is missing or not an id.
    InvalidUserId = "INVALID_USER_ID",
    /// `projectId` is not an id.
    InvalidProjectId = "INVALID_PROJECT_ID",
    /// `parentBuildId` is not a build id.
    InvalidParentBuildId = "INVALID_PARENT_BUILD_ID",
    /// `requestId` is not an id.
    InvalidRequestId = "INVALID_REQUEST_ID",
    /// `restoreFromBuildId` is not a build id, or comes with `parentBuildId`.
    InvalidRestoreFromBuildId = "INVALID_RESTORE_FROM_BUILD_ID",
    /// `webhookUrl` is not an http(s) URL, or reaches a loopback or private address.
    InvalidWebhookUrl = "INVALID_WEBHOOK_URL",
    /// The `Idempotency-Key` header is not 1-255 visible ASCII characters, or is repeated.
    InvalidIdempotencyKey = "INVALID_IDEMPOTENCY_KEY",
    /// The `Idempotency-Key` was used with another body.
    IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED",
    /// The build id is not a ULID.
    InvalidBuildId = "INVALID_BUILD_ID",
    /// `after` or `Last-Event-ID` is not an event `seq`.
    InvalidCursor = "INVALID_CURSOR",
    /// `limit` is not 1-1000.
    InvalidLimit = "INVALID_LIMIT",
    /// The body is over 64 KiB.
    PayloadTooLarge = "PAYLOAD_TOO_LARGE",
    /// A body without its length.
    LengthRequired = "LENGTH_REQUIRED",
    /// The body is not `application/json`.
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE",
    /// The method is not served on this route.
    MethodNotAllowed = "METHOD_NOT_ALLOWED",
    /// Authentication failed in a way no more specific code names.
    Unauthorized = "UNAUTHORIZED",
    /// Refused in a way no more specific code names.
    Forbidden = "FORBIDDEN",
    /// No service key.
    ServiceKeyRequired = "SERVICE_KEY_REQUIRED",
    /// Not one of `BUILDWIRE_SERVICE_KEYS`.
    ServiceKeyInvalid = "SERVICE_KEY_INVALID",
    /// No build token.
    TokenMissing = "TOKEN_MISSING",
    /// The build token is not a JWT of the expected shape.
    TokenMalformed = "TOKEN_MALFORMED",
    /// The build token names a key the keyring does not hold.
    TokenUnknownKey = "TOKEN_UNKNOWN_KEY",
    /// The build token's signature does not verify.
    TokenBadSignature = "TOKEN_BAD_SIGNATURE",
    /// The build token expired.
    TokenExpired = "TOKEN_EXPIRED",
    /// The build token is for another build.
    TokenWrongBuild = "TOKEN_WRONG_BUILD",
    /// The build token's scope does not allow this.
    TokenWrongScope = "TOKEN_WRONG_SCOPE",
    /// The browser `Origin` is not in `WEBSOCKET_CORS_ORIGIN`.
    OriginNotAllowed = "ORIGIN_NOT_ALLOWED",
    /// The build is not one of the demo user's.
    NotADemoBuild = "NOT_A_DEMO_BUILD",
    /// No such route or file.
    NotFound = "NOT_FOUND",
    /// No build has this id.
    BuildNotFound = "BUILD_NOT_FOUND",
    /// `projectId` names a project this user does not own, or none.
    ProjectNotFound = "PROJECT_NOT_FOUND",
    /// `parentBuildId` names a build this user does not own, or none.
    ParentBuildNotFound = "PARENT_BUILD_NOT_FOUND",
    /// `restoreFromBuildId` names a build this user (and project) does not own, or none.
    RestoreBuildNotFound = "RESTORE_BUILD_NOT_FOUND",
    /// The build's file tree is not saved (yet): it has not finished writing its files,
    /// or it failed before.
    SourceNotSaved = "SOURCE_NOT_SAVED",
    /// The build has no stored log.
    LogNotFound = "LOG_NOT_FOUND",
    /// The build has no such preview file.
    PreviewNotFound = "PREVIEW_NOT_FOUND",
    /// The log link's signature does not match, or it expired.
    LogLinkInvalid = "LOG_LINK_INVALID",
    /// The build already completed or failed.
    BuildFinished = "BUILD_FINISHED",
    /// A rate limit is spent; retry after `Retry-After` seconds.
    RateLimited = "RATE_LIMITED",
    /// The user's circuit is open after repeated fatal failures.
    CircuitOpen = "CIRCUIT_OPEN",
    /// Too many viewers of this build or user on this node.
    ViewerQuota = "VIEWER_QUOTA",
    /// A dependency (NATS) is away; retry after `Retry-After` seconds.
    Unavailable = "UNAVAILABLE",
    /// The edge failed in a way it did not expect.
    Internal = "INTERNAL",
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
