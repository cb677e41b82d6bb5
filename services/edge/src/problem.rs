//! Every refusal as `application/problem+json` (RFC 9457) with buildwire's `code` and
//! `retryable`: [`ApiError`] is the one error type of the edge's handlers, and
//! [`to_problem`] turns any other poem error (bad JSON, unknown route) into the same shape.

use std::marker::PhantomData;

use buildwire_schemas::api::{Problem, ProblemCode};
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;

/// The content type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// `Retry-After` of a 429 or 503 that did not say how long to wait.
const DEFAULT_WAIT_SECS: u64 = 2;

/// A refusal with its HTTP status and machine-readable code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code.
    pub code: ProblemCode,
    /// What went wrong in this case.
    pub detail: String,
    /// Whether the same request may succeed later.
    pub retryable: bool,
    /// Seconds to wait (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A refusal that retrying will not fix.
    pub fn new(status: StatusCode, code: ProblemCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            retryable: false,
            retry_after: None,
        }
    }

    /// 400.
    pub fn bad_request(code: ProblemCode, detail: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 422: well-formed but invalid input.
    pub fn invalid(code: ProblemCode, detail: impl Into<String>) -> ApiError {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 404 for an unknown build.
    pub fn unknown_build(build_id: &str) -> ApiError {
        Self::new(
            StatusCode::NOT_FOUND,
            ProblemCode::BuildNotFound,
            format!("no build {build_id} is known"),
        )
    }

    /// 503: a dependency (NATS) is away; retry shortly.
    pub fn unavailable(detail: impl Into<String>) -> ApiError {
        ApiError {
            retryable: true,
            retry_after: Some(DEFAULT_WAIT_SECS),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ProblemCode::Unavailable,
                detail,
            )
        }
    }

    /// The problem body.
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!(
                "https://buildwire.dev/problems/{}",
                self.code.as_str().to_ascii_lowercase().replace('_', "-")
            ),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            retryable: self.retryable,
        }
    }
}

impl From<crate::log::LogError> for ApiError {
    fn from(err: crate::log::LogError) -> Self {
        ApiError::unavailable(err.to_string())
    }
}

impl From<crate::tokens::TokenError> for ApiError {
    fn from(err: crate::tokens::TokenError) -> Self {
        let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        ApiError::new(status, err.code(), err.to_string())
    }
}

impl From<buildwire_runtime::Error> for ApiError {
    fn from(err: buildwire_runtime::Error) -> Self {
        ApiError::unavailable(err.to_string())
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        let body = serde_json::to_string(&self.problem()).unwrap_or_default();
        let mut response = Response::builder()
            .status(self.status)
            .content_type(PROBLEM_JSON)
            .body(body);
        let wait = self.retry_after.or_else(|| {
            WAIT_STATUSES
                .contains(&self.status.as_u16())
                .then_some(DEFAULT_WAIT_SECS)
        });
        if let Some(seconds) = wait
            && let Ok(value) = seconds.to_string().parse()
        {
            response.headers_mut().insert("Retry-After", value);
        }
        response
    }
}

/// One documented refusal of a group of routes: its status and what it means there.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// What it means on these routes, with the `code`s it carries.
    pub description: &'static str,
}

/// The refusals a group of routes can really give; they become its OpenAPI responses.
pub trait Refusals: Send + Sync + 'static {
    /// Every refusal, by status.
    const ANSWERS: &'static [Answer];
}

/// Declares a [`Refusals`] set: `refusals!(/// doc\n Name: [(404, "..."), ...]);`.
macro_rules! refusals {
    ($(#[$doc:meta])* $name:ident: [$(($status:literal, $description:expr)),* $(,)?]) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::problem::Refusals for $name {
            const ANSWERS: &'static [$crate::problem::Answer] = &[$(
                $crate::problem::Answer { status: $status, description: $description }
            ),*];
        }
    };
}
pub(crate) use refusals;

/// A refusal of a route whose documented refusals are `R`: problem+json with the
/// [`ApiError`]'s own status (a status missing from `R` is a documentation bug that the
/// conformance test finds, never silently turned into another status).
pub struct Refused<R>(pub ApiError, PhantomData<fn() -> R>);

impl<R> std::fmt::Debug for Refused<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<R> From<ApiError> for Refused<R> {
    fn from(err: ApiError) -> Self {
        Refused(err, PhantomData)
    }
}

impl<R> From<Refused<R>> for poem::Error {
    fn from(refused: Refused<R>) -> Self {
        poem::Error::from(refused.0)
    }
}

impl<R> IntoResponse for Refused<R> {
    fn into_response(self) -> Response {
        poem::error::ResponseError::as_response(&self.0)
    }
}

/// Statuses whose answers carry `Retry-After`.
const WAIT_STATUSES: [u16; 2] = [429, 503];

fn retry_after() -> MetaHeader {
    MetaHeader {
        name: "Retry-After".into(),
        description: Some("Seconds to wait before trying again.".into()),
        required: true,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema {
            example: Some(2.into()),
            minimum: Some(0.0),
            ..MetaSchema::new_with_format("integer", "uint64")
        })),
    }
}

impl<R: Refusals> ApiResponse for Refused<R> {
    fn meta() -> MetaResponses {
        let responses = R::ANSWERS
            .iter()
            .map(|answer| MetaResponse {
                description: answer.description,
                status: Some(answer.status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: PROBLEM_JSON,
                    schema: Problem::schema_ref(),
                }],
                headers: if WAIT_STATUSES.contains(&answer.status) {
                    vec![retry_after()]
                } else {
                    Vec::new()
                },
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

fn code_for(status: StatusCode) -> ProblemCode {
    match status.as_u16() {
        400 => ProblemCode::BadRequest,
        401 => ProblemCode::Unauthorized,
        403 => ProblemCode::Forbidden,
        404 => ProblemCode::NotFound,
        405 => ProblemCode::MethodNotAllowed,
        411 => ProblemCode::LengthRequired,
        413 => ProblemCode::PayloadTooLarge,
        415 => ProblemCode::UnsupportedMediaType,
        422 => ProblemCode::InvalidInput,
        429 => ProblemCode::RateLimited,
        503 => ProblemCode::Unavailable,
        _ => ProblemCode::Internal,
    }
}

/// Any poem error as an [`ApiError`] (its own, or one made from its status and message).
pub fn api_error(err: &poem::Error) -> ApiError {
    if let Some(api) = err.downcast_ref::<ApiError>() {
        return api.clone();
    }
    use poem_openapi::error::{ParseParamError, ParsePathError};
    if let Some(param) = err.downcast_ref::<ParseParamError>() {
        return crate::api::params::refusal(param.name, &param.reason);
    }
    if let Some(param) = err.downcast_ref::<ParsePathError>() {
        return crate::api::params::path_refusal(&param.reason);
    }
    let status = err.status();
    let detail = if status == StatusCode::NOT_FOUND && err.to_string() == "not found" {
        "no such route".to_string()
    } else {
        err.to_string()
    };
    let mut api = ApiError::new(status, code_for(status), detail);
    if status == StatusCode::UNAUTHORIZED {
        api.code = ProblemCode::ServiceKeyRequired;
    }
    api
}

/// The app-wide catch-all: renders every error as problem+json.
pub async fn to_problem(err: poem::Error) -> Response {
    if err.is_from_response() {
        // A response an endpoint made itself: kept when it is already problem+json.
        let response = err.into_response();
        if response.content_type() == Some(PROBLEM_JSON) {
            return response;
        }
        let status = response.status();
        let api = ApiError::new(status, code_for(status), status.to_string());
        return poem::error::ResponseError::as_response(&api);
    }
    let api = api_error(&err);
    if api.status.is_server_error() {
        tracing::error!(status = %api.status, detail = %api.detail, "request failed");
    }
    poem::error::ResponseError::as_response(&api).into_response()
}
