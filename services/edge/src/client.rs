//! `GET /client/{file}`: the browser client's modules (`clients/web`), compiled into the
//! binary so every edge node serves the version that matches its wire contract.
//! `buildwire.js` (watchBuild), `progress.js` (the progress fold) and `react.js` (the
//! hook; it imports `react`, so pages map that name with an import map or a bundler).

use poem::http::StatusCode;
use poem::web::Path;
use poem::{IntoResponse, Response, handler};

use crate::problem::ApiError;

/// Every served module: its file name and source.
pub const MODULES: [(&str, &str); 3] = [
    (
        "buildwire.js",
        include_str!("../../../clients/web/buildwire.js"),
    ),
    (
        "progress.js",
        include_str!("../../../clients/web/progress.js"),
    ),
    ("react.js", include_str!("../../../clients/web/react.js")),
];

/// Serves one module.
#[handler]
pub fn module(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (_, source) = MODULES
        .iter()
        .find(|(name, _)| *name == file)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!(
                    "no client module {file:?} (there are buildwire.js, progress.js, react.js)"
                ),
            )
        })?;
    Ok(source
        .with_content_type("text/javascript; charset=utf-8")
        .with_header("Cache-Control", "public, max-age=300")
        .into_response())
}
