//! Every refusal as `application/problem+json` (RFC 9457) with buildwire's `code` and
//! `retryable`: [`ApiError`] is the one error type of the edge's handlers, and
//! [`to_problem`] turns any other poem error (bad JSON, unknown route) into the same shape.

use buildwire_schemas::api::Problem;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;

/// The content type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A refusal with its HTTP status and machine-readable code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code.
    pub code: &'static str,
    /// What went wrong in this case.
    pub detail: String,
    /// Whether the same request may succeed later.
    pub retryable: bool,
    /// Seconds to wait (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A refusal that retrying will not fix.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            retryable: false,
            retry_after: None,
        }
    }

    /// 400.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 422: well-formed but invalid input.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> ApiError {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 404 for an unknown build.
    pub fn unknown_build(build_id: &str) -> ApiError {
        Self::new(
            StatusCode::NOT_FOUND,
            "BUILD_NOT_FOUND",
            format!("no build {build_id} is known"),
        )
    }

    /// 503: a dependency (NATS) is away; retry shortly.
    pub fn unavailable(detail: impl Into<String>) -> ApiError {
        ApiError {
            retryable: true,
            retry_after: Some(2),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", detail)
        }
    }

    /// The problem body.
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!(
                "https://buildwire.dev/problems/{}",
                self.code.to_ascii_lowercase().replace('_', "-")
            ),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            retryable: self.retryable,
        }
    }
}

impl From<crate::history::HistoryError> for ApiError {
    fn from(err: crate::history::HistoryError) -> Self {
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
        if let Some(seconds) = self.retry_after
            && let Ok(value) = seconds.to_string().parse()
        {
            response.headers_mut().insert("Retry-After", value);
        }
        response
    }
}

/// The documented error answers of the OpenAPI routes.
#[derive(ApiResponse, Debug)]
#[oai(bad_request_handler = "from_poem_error")]
pub enum ProblemResponse {
    /// Malformed request (not JSON, missing fields, bad id).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No or wrong service key / build token.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// Valid credentials that do not grant this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// Unknown build.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The build already finished, or an Idempotency-Key was reused with another body.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// Body over the limit.
    #[oai(status = 413, content_type = "application/problem+json")]
    TooLarge(Json<Problem>),
    /// Well-formed but invalid input.
    #[oai(status = 422, content_type = "application/problem+json")]
    Invalid(Json<Problem>),
    /// Rate limited or circuit open; `code` says which.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooMany(Json<Problem>, #[oai(header = "Retry-After")] u64),
    /// NATS unavailable.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>, #[oai(header = "Retry-After")] u64),
    /// Anything else.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
}

impl From<ApiError> for ProblemResponse {
    fn from(err: ApiError) -> Self {
        let body = Json(err.problem());
        let wait = err.retry_after.unwrap_or(1);
        match err.status.as_u16() {
            400 => ProblemResponse::BadRequest(body),
            401 => ProblemResponse::Unauthorized(body),
            403 => ProblemResponse::Forbidden(body),
            404 => ProblemResponse::NotFound(body),
            409 => ProblemResponse::Conflict(body),
            413 => ProblemResponse::TooLarge(body),
            422 => ProblemResponse::Invalid(body),
            429 => ProblemResponse::TooMany(body, wait),
            503 => ProblemResponse::Unavailable(body, wait),
            _ => ProblemResponse::Internal(body),
        }
    }
}

fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        411 => "LENGTH_REQUIRED",
        413 => "PAYLOAD_TOO_LARGE",
        415 => "UNSUPPORTED_MEDIA_TYPE",
        422 => "INVALID_INPUT",
        429 => "RATE_LIMITED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    }
}

/// Any poem error as an [`ApiError`] (its own, or one made from its status and message).
pub fn api_error(err: &poem::Error) -> ApiError {
    if let Some(api) = err.downcast_ref::<ApiError>() {
        return api.clone();
    }
    let status = err.status();
    let detail = if status == StatusCode::NOT_FOUND && err.to_string() == "not found" {
        "no such route".to_string()
    } else {
        err.to_string()
    };
    let mut api = ApiError::new(status, code_for(status), detail);
    if status == StatusCode::UNAUTHORIZED {
        api.code = "SERVICE_KEY_REQUIRED";
    }
    api
}

/// poem-openapi's parse errors (bad JSON, missing fields, bad parameters).
fn from_poem_error(err: poem::Error) -> ProblemResponse {
    api_error(&err).into()
}

/// The app-wide catch-all: renders every error as problem+json.
pub async fn to_problem(err: poem::Error) -> Response {
    if err.is_from_response() {
        // A documented ProblemResponse of an OpenAPI route: already problem+json.
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
