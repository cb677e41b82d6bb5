//! What both stream transports share before a session opens: reading the cursor and token
//! of a request, and refusing bad ones (problem+json) before any upgrade or body.

use buildwire_schemas::api::ProblemCode;
use poem::Request;
use serde::Deserialize;

use crate::api::validate;
use crate::hub::Session;
use crate::hub::cursor::OpenError;
use crate::problem::ApiError;
use crate::state::EdgeState;

/// Query parameters of `/ws/builds/{id}` and `/events/{id}`.
#[derive(Deserialize, Debug, Default)]
pub struct StreamQuery {
    /// The build token (or `Authorization: Bearer`).
    pub token: Option<String>,
    /// Resume after this `seq`.
    pub after: Option<u64>,
    /// Set by the browser client (`fallback=1`) when SSE is its fallback after a failed
    /// WebSocket handshake.
    pub fallback: Option<String>,
}

impl StreamQuery {
    /// Whether the client says this stream is a WebSocket fallback (`1` or `true`).
    pub fn is_fallback(&self) -> bool {
        matches!(self.fallback.as_deref(), Some("1" | "true"))
    }
}

/// The token of a stream request: `?token=`, else `Authorization: Bearer`.
pub fn token<'a>(req: &'a Request, query: &'a StreamQuery) -> &'a str {
    if let Some(token) = query.token.as_deref() {
        return token;
    }
    req.header("Authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("")
        .trim()
}

/// Checks the build id, the browser origin, the token and the quotas, then opens the
/// session (over `transport`, for metrics); it holds the stream's place in the quotas.
pub async fn open(
    state: &EdgeState,
    req: &Request,
    build_id: &str,
    query: &StreamQuery,
    after: u64,
    transport: &'static str,
) -> Result<Session, ApiError> {
    validate::build_id(build_id)?;
    if !state.origin_allowed(req.header("Origin")) {
        return Err(ApiError::new(
            poem::http::StatusCode::FORBIDDEN,
            ProblemCode::OriginNotAllowed,
            "this origin is not in WEBSOCKET_CORS_ORIGIN",
        ));
    }
    let claims = state.keyring.verify(token(req, query), build_id)?;
    let address = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let ticket = state.guards.viewer(address, build_id, &claims.uid)?;
    Session::open(&state.hub, build_id, after, transport, Some(ticket))
        .await
        .map_err(|err| match err {
            OpenError::UnknownBuild(id) => ApiError::unknown_build(&id),
            OpenError::Log(err) => err.into(),
        })
}
