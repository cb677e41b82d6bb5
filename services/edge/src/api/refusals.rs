//! Which problems each group of routes can really answer, as the spec documents them
//! (every one `application/problem+json` with a `code`; 429 and 503 with `Retry-After`).

use crate::problem::refusals;

const BAD_ID: &str = "The build id is not a ULID (`INVALID_BUILD_ID`).";
const NO_KEY: &str = "No service key, or not one of `BUILDWIRE_SERVICE_KEYS` \
    (`SERVICE_KEY_REQUIRED`, `SERVICE_KEY_INVALID`).";
const UNKNOWN: &str = "No build has this id (`BUILD_NOT_FOUND`).";
const AWAY: &str = "NATS is unavailable (`UNAVAILABLE`); retry after `Retry-After` seconds.";
const BAD_LINK: &str = "The build id is not a ULID (`INVALID_BUILD_ID`), or `expires`, `kid` \
    or `sig` is missing or malformed (`BAD_REQUEST`).";
const WRONG_SIGNATURE: &str =
    "The signature does not match, or the link expired (`LOG_LINK_INVALID`).";

refusals!(
    /// `POST /v1/builds`, `POST /build-preview`.
    SubmitRefusals: [
        (400, "The body is not JSON (`INVALID_JSON`), or the `Idempotency-Key` is not 1-255 \
               visible ASCII characters or is sent twice (`INVALID_IDEMPOTENCY_KEY`)."),
        (401, NO_KEY),
        (413, "The body is over 64 KiB (`PAYLOAD_TOO_LARGE`)."),
        (404, "`projectId`, `parentBuildId` or `restoreFromBuildId` names a project or build \
               this user (for a restore: and project) does not own, or none at all \
               (`PROJECT_NOT_FOUND`, `PARENT_BUILD_NOT_FOUND`, `RESTORE_BUILD_NOT_FOUND`)."),
        (409, "The build named by `restoreFromBuildId` has no saved file tree: it has not \
               written its files yet, or failed before (`SOURCE_NOT_SAVED`)."),
        (415, "The body is not `application/json` (`UNSUPPORTED_MEDIA_TYPE`)."),
        (422, "A field is missing, has the wrong JSON type or an invalid value; `code` names \
               it (`INVALID_PROMPT`, `INVALID_USER_ID`, `INVALID_PROJECT_ID`, \
               `INVALID_PARENT_BUILD_ID`, `INVALID_REQUEST_ID`, `INVALID_RESTORE_FROM_BUILD_ID` \
               (also when it comes with `parentBuildId`), `INVALID_WEBHOOK_URL` (not http(s), \
               or a loopback or private address), `INVALID_BODY`), or the \
               `Idempotency-Key` was used with another body (`IDEMPOTENCY_KEY_REUSED`)."),
        (429, "The user's or this node's submission rate is spent (`RATE_LIMITED`), or the \
               user's circuit is open after repeated fatal failures (`CIRCUIT_OPEN`). A retry \
               with the `Idempotency-Key` of an accepted build is never refused so."),
        (503, AWAY),
    ]
);

refusals!(
    /// `GET /v1/builds/{id}`, `POST /v1/builds/{id}/token`.
    BuildRefusals: [(400, BAD_ID), (401, NO_KEY), (404, UNKNOWN), (503, AWAY)]
);

refusals!(
    /// `GET /v1/builds/{id}/events`.
    HistoryRefusals: [
        (400, "The build id is not a ULID (`INVALID_BUILD_ID`), or `after` is not an event \
               `seq` up to 2^53 - 1 (`INVALID_CURSOR`)."),
        (401, NO_KEY),
        (404, UNKNOWN),
        (422, "`limit` is not 1-1000 (`INVALID_LIMIT`)."),
        (503, AWAY),
    ]
);

refusals!(
    /// `POST /v1/builds/{id}/cancel`.
    CancelRefusals: [
        (400, BAD_ID),
        (401, NO_KEY),
        (404, UNKNOWN),
        (409, "The build already completed or failed (`BUILD_FINISHED`)."),
        (503, AWAY),
    ]
);

refusals!(
    /// `GET /readyz`.
    ReadyRefusals: [(503, "NATS is not connected, or the `EVENTS` or `CMDS` stream is \
                           missing (`UNAVAILABLE`).")]
);

const NO_TOKEN: &str = "No build token, or one that is malformed, expired, or signed with a \
    key the keyring does not hold (`TOKEN_MISSING`, `TOKEN_MALFORMED`, `TOKEN_EXPIRED`, \
    `TOKEN_UNKNOWN_KEY`, `TOKEN_BAD_SIGNATURE`).";
const WRONG_TOKEN: &str = "The token is for another build or scope (`TOKEN_WRONG_BUILD`, \
    `TOKEN_WRONG_SCOPE`), or the `Origin` is not in `WEBSOCKET_CORS_ORIGIN` \
    (`ORIGIN_NOT_ALLOWED`).";
const QUOTA: &str = "Too many viewers of this build or user on this node (`VIEWER_QUOTA`), or \
    too many new connections from this address (`RATE_LIMITED`).";
const NO_HISTORY: &str = "History cannot be read (`UNAVAILABLE`); retry after `Retry-After` \
    seconds.";

/// A stream route's refusals: its own 400, then those every stream shares.
macro_rules! stream_refusals {
    ($(#[$doc:meta])* $name:ident: $bad_request:expr) => {
        refusals!(
            $(#[$doc])*
            $name: [
                (400, $bad_request),
                (401, NO_TOKEN),
                (403, WRONG_TOKEN),
                (404, UNKNOWN),
                (429, QUOTA),
                (503, NO_HISTORY),
            ]
        );
    };
}

stream_refusals!(
    /// `GET /ws/builds/{id}` (before the upgrade).
    WebSocketRefusals: "The build id is not a ULID (`INVALID_BUILD_ID`), `after` is not an \
        event `seq`, or the request is not a WebSocket handshake (`BAD_REQUEST`)."
);

stream_refusals!(
    /// `GET /events/{id}`.
    SseRefusals: "The build id is not a ULID (`INVALID_BUILD_ID`), or `Last-Event-ID` or \
        `after` is not an event `seq` (`INVALID_CURSOR`, `BAD_REQUEST`)."
);

refusals!(
    /// `GET /v1/builds/{id}/logs/build`.
    LogRefusals: [
        (400, BAD_LINK),
        (403, WRONG_SIGNATURE),
        (404, "The build has no stored log (`LOG_NOT_FOUND`)."),
        (503, AWAY),
    ]
);

refusals!(
    /// `GET /v1/builds/{id}/logs/deploy`.
    DeployLogRefusals: [
        (400, BAD_LINK),
        (403, WRONG_SIGNATURE),
        (404, "The build has no stored deploy log (`LOG_NOT_FOUND`): it did not deploy yet, \
               or its target keeps none."),
        (503, AWAY),
    ]
);

refusals!(
    /// `GET /v1/builds/{id}/source.zip`.
    SourceZipRefusals: [
        (400, BAD_ID),
        (401, "Neither the service key nor a valid build token (`TOKEN_MISSING`, \
               `TOKEN_MALFORMED`, `TOKEN_EXPIRED`, `TOKEN_UNKNOWN_KEY`, \
               `TOKEN_BAD_SIGNATURE`)."),
        (403, "The token is for another build or scope (`TOKEN_WRONG_BUILD`, \
               `TOKEN_WRONG_SCOPE`)."),
        (404, UNKNOWN),
        (409, "The build is known but its file tree is not saved: it has not written its \
               files yet, or failed before (`SOURCE_NOT_SAVED`)."),
        (500, "The stored tree holds a path that would leave the archive's folder \
               (`INTERNAL`); nothing is sent."),
        (503, AWAY),
    ]
);

refusals!(
    /// `GET /preview/{id}`.
    PreviewRootRefusals: [(400, BAD_ID)]
);

refusals!(
    /// `GET /preview/{id}/{path}`.
    PreviewRefusals: [
        (400, BAD_ID),
        (404, "The build has no such preview file (`PREVIEW_NOT_FOUND`)."),
        (503, AWAY),
    ]
);

refusals!(
    /// `GET /client/{file}`.
    ClientRefusals: [(404, "No such module (`NOT_FOUND`).")]
);
