//! What both stream transports share: reading the cursor and token of a request,
//! refusing bad ones before any upgrade, and opening the connection's [`Viewer`].

use poem::Request;
use serde::Deserialize;

use crate::api::validate;
use crate::guard::ViewerTicket;
use crate::hub::viewer::OpenError;
use crate::hub::{Greeting, Viewer};
use crate::problem::ApiError;
use crate::state::EdgeState;

/// The heartbeat tick of both transports: a stream that sent nothing since the previous
/// tick gets a heartbeat (so one after 15 to 30 s of silence, under proxies' idle limits).
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(15);
/// Events ready together are written as one run (one `send`), at most this many.
pub const MAX_RUN: usize = 64;

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
/// viewer; the ticket holds the stream's place in the quotas.
pub async fn open(
    state: &EdgeState,
    req: &Request,
    build_id: &str,
    query: &StreamQuery,
    after: u64,
) -> Result<(Viewer, Greeting, ViewerTicket), ApiError> {
    validate::build_id(build_id)?;
    if !state.origin_allowed(req.header("Origin")) {
        return Err(ApiError::new(
            poem::http::StatusCode::FORBIDDEN,
            "ORIGIN_NOT_ALLOWED",
            "this origin is not in WEBSOCKET_CORS_ORIGIN",
        ));
    }
    let claims = state.keyring.verify(token(req, query), build_id)?;
    let address = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let ticket = state.guards.viewer(address, build_id, &claims.uid)?;
    let (viewer, greeting) = Viewer::open(&state.hub, build_id, after)
        .await
        .map_err(|err| match err {
            OpenError::UnknownBuild(id) => ApiError::unknown_build(&id),
            OpenError::History(err) => err.into(),
        })?;
    Ok((viewer, greeting, ticket))
}
