//! The demo page (`clients/web/demo/`), served at `/` only when the edge runs inside `up`
//! or `demo` ([`Mode::Demo`]), and its server-side submission routes. The page never
//! holds a service key: `POST /demo/builds` submits on its behalf as user `demo` (same
//! validation, rate limits and breaker as `POST /v1/builds`), and
//! `POST /demo/builds/{id}/token` trades a demo build's token for a fresh one, also one
//! that expired less than [`EXPIRED_TOKEN_GRACE`] ago (a tab reopened the next morning).

use std::sync::Arc;

use buildwire_schemas::api::{BuildAccepted, BuildToken, ProblemCode, SubmitBuild};
use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Request, Response, handler};
use serde::{Deserialize, Serialize};

use crate::api::{submit, validate};
use crate::client::StaticFile;
use crate::problem::ApiError;
use crate::state::EdgeState;

/// Whether the edge serves the demo page and its routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The service alone (`buildwire edge`): API, streams, client, previews.
    Service,
    /// Also the demo page at `/` and `/demo/*` (`buildwire up`, `buildwire demo`).
    Demo,
}

/// The user every demo submission runs as.
pub const DEMO_USER: &str = "demo";

/// How long after its `exp` a demo build's token can still be traded for a fresh one.
/// Only demo builds and only tokens whose signature verifies: the demo's builds are the
/// demo user's anyway, and a bound keeps a leaked token from living forever.
pub const EXPIRED_TOKEN_GRACE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

const PAGE: &str = include_str!("../../../clients/web/demo/index.html");
const FILES: [StaticFile; 2] = [
    StaticFile {
        name: "app.js",
        body: include_str!("../../../clients/web/demo/app.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    StaticFile {
        name: "app.css",
        body: include_str!("../../../clients/web/demo/app.css"),
        content_type: "text/css; charset=utf-8",
    },
];
const POLICY: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
                      frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `GET /`: the page.
pub fn page() -> Response {
    PAGE.with_content_type("text/html; charset=utf-8")
        .with_header("Cache-Control", "no-store")
        .with_header("Content-Security-Policy", POLICY)
        .with_header("X-Content-Type-Options", "nosniff")
        .into_response()
}

/// `GET /demo/{file}`: the page's script and style.
#[handler]
pub fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    crate::client::serve(&FILES, &file, "no-store")
}

/// `POST /demo/builds`: what the page may ask for.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DemoSubmission {
    /// What to build or change.
    pub prompt: String,
    /// The project a follow-up belongs to; a new one when absent.
    #[serde(default)]
    pub project_id: Option<String>,
    /// The build a follow-up starts from.
    #[serde(default)]
    pub parent_build_id: Option<String>,
}

/// The 202 answer: the API's, plus the project the page keeps for follow-ups.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct DemoAccepted {
    #[serde(flatten)]
    accepted: BuildAccepted,
    project_id: String,
}

/// Refuses requests from another origin (a page elsewhere must not spend the demo's
/// builds); browsers always send `Origin` on a cross-origin POST.
fn same_origin(req: &Request) -> Result<(), ApiError> {
    let Some(origin) = req.header("Origin") else {
        return Ok(());
    };
    let host = req.header("Host").unwrap_or_default();
    let matches = origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host));
    if matches {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::OriginNotAllowed,
            format!("the demo routes answer their own page only, not {origin}"),
        ))
    }
}

/// Submits a prompt as the demo user.
#[handler]
pub async fn submit_build(
    req: &Request,
    Json(body): Json<DemoSubmission>,
    Data(state): Data<&Arc<EdgeState>>,
) -> Result<Response, ApiError> {
    same_origin(req)?;
    let project_id = body
        .project_id
        .unwrap_or_else(|| format!("demo-{}", ulid::Ulid::generate()));
    let submission = SubmitBuild {
        prompt: body.prompt,
        user_id: DEMO_USER.to_string(),
        project_id: Some(project_id.clone()),
        parent_build_id: body.parent_build_id,
        request_id: None,
        restore_from_build_id: None,
        webhook_url: None,
    };
    let accepted = submit::submit(state, submission, None).await?;
    Ok(Json(DemoAccepted {
        accepted,
        project_id,
    })
    .with_status(StatusCode::ACCEPTED)
    .into_response())
}

/// Trades the page's build token for a fresh one: a token of a demo build, signed by the
/// keyring, for this build, current or expired less than [`EXPIRED_TOKEN_GRACE`] ago.
#[handler]
pub async fn refresh_token(
    req: &Request,
    Path(build_id): Path<String>,
    Data(state): Data<&Arc<EdgeState>>,
) -> Result<Json<BuildToken>, ApiError> {
    same_origin(req)?;
    validate::build_id(&build_id)?;
    let presented = req
        .header("Authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    let claims = state
        .keyring
        .verify_expired_within(presented, &build_id, EXPIRED_TOKEN_GRACE)?;
    if claims.uid != DEMO_USER {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::NotADemoBuild,
            "the demo refreshes tokens of its own builds only",
        ));
    }
    let (build_token, token_expires_at) = state.keyring.issue(&build_id, &claims.uid);
    Ok(Json(BuildToken {
        build_token,
        token_expires_at,
    }))
}
