//! `GET /v1/builds/{id}/logs/build?expires=&kid=&sig=`: a build's full log from the `logs`
//! bucket behind the signed, expiring URL the build stage handed out (the signature is the
//! authorization, so a browser can follow the link). Logs over 1 MiB are stored gzipped
//! and sent with `Content-Encoding: gzip`.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;

use crate::api::validate;
use crate::problem::ApiError;
use crate::state::EdgeState;

/// The signature of a log URL.
#[derive(Deserialize, Debug)]
pub struct Signed {
    expires: i64,
    kid: String,
    sig: String,
}

/// The path a log URL signs.
pub fn log_path(build_id: &str) -> String {
    format!("/v1/builds/{build_id}/logs/build")
}

/// A fresh signed URL of `build_id`'s log.
pub fn log_url(state: &EdgeState, build_id: &str) -> String {
    let path = log_path(build_id);
    let query = state.signer.sign(&path, chrono::Utc::now().timestamp());
    format!("{}{path}?{query}", state.urls.base())
}

/// Serves the log when the signature holds.
#[handler]
pub async fn build_log(
    Path(build_id): Path<String>,
    Query(signed): Query<Signed>,
    Data(state): Data<&Arc<EdgeState>>,
) -> Result<Response, ApiError> {
    validate::build_id(&build_id)?;
    state
        .signer
        .verify(
            &log_path(&build_id),
            signed.expires,
            &signed.kid,
            &signed.sig,
            chrono::Utc::now().timestamp(),
        )
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "LOG_LINK_INVALID", e.to_string()))?;
    for (name, encoding) in [("build.log", None), ("build.log.gz", Some("gzip"))] {
        if let Some(data) = state.logs.get(&format!("{build_id}/{name}")).await? {
            let mut response = data
                .with_content_type("text/plain; charset=utf-8")
                .with_header("Cache-Control", "private, no-store")
                .into_response();
            if let Some(encoding) = encoding
                && let Ok(value) = encoding.parse()
            {
                response.headers_mut().insert("Content-Encoding", value);
            }
            return Ok(response);
        }
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "LOG_NOT_FOUND",
        format!("build {build_id} has no stored log"),
    ))
}
