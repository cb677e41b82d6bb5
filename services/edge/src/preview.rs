//! `GET /preview/{id}/...`: a build's preview (deploy target `local`), served from the
//! `artifacts` bucket, so any edge node serves any build's preview.

use std::sync::Arc;

use buildwire_schemas::api::ProblemCode;
use poem::http::StatusCode;
use poem::web::{Data, Path, Redirect};
use poem::{IntoResponse, Response, handler};

use crate::api::validate;
use crate::problem::ApiError;
use crate::state::EdgeState;

/// The content type of a file, by extension.
pub fn content_type(path: &str) -> &'static str {
    let extension = path
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

fn not_found(build_id: &str, path: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ProblemCode::PreviewNotFound,
        format!("build {build_id} has no preview file {path:?}"),
    )
}

/// `/preview/{id}` without the slash: relative asset URLs need it.
#[handler]
pub async fn root(Path(build_id): Path<String>) -> Result<Redirect, ApiError> {
    validate::build_id(&build_id)?;
    Ok(Redirect::moved_permanent(format!("/preview/{build_id}/")))
}

/// One file of a build's preview (`index.html` for the directory).
#[handler]
pub async fn file(
    Path((build_id, path)): Path<(String, String)>,
    Data(state): Data<&Arc<EdgeState>>,
) -> Result<Response, ApiError> {
    validate::build_id(&build_id)?;
    let path = if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path
    };
    let safe = path
        .split('/')
        .all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains('\\'));
    if !safe {
        return Err(not_found(&build_id, &path));
    }
    let data = state
        .artifacts
        .get(&build_id, &path)
        .await?
        .ok_or_else(|| not_found(&build_id, &path))?;
    let cache = if path.ends_with(".html") {
        "no-cache"
    } else {
        "public, max-age=300"
    };
    Ok(data
        .with_content_type(content_type(&path))
        .with_header("Cache-Control", cache)
        .with_header("X-Content-Type-Options", "nosniff")
        .into_response())
}
