//! `GET /client/{file}`: the browser client's modules (`clients/web`), compiled into the
//! binary so every edge node serves the version that matches its wire contract.
//! `buildwire.js` (watchBuild), `progress.js` (the progress fold) and `react.js` (the
//! hook; it imports `react`, so pages map that name with an import map or a bundler).

use buildwire_schemas::api::ProblemCode;
use poem::http::StatusCode;
use poem::web::Path;
use poem::{IntoResponse, Response, handler};

use crate::problem::ApiError;

/// A file compiled into the binary and served as it is.
pub struct StaticFile {
    /// Its name in the URL.
    pub name: &'static str,
    /// Its content.
    pub body: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every served module.
pub const MODULES: [StaticFile; 3] = [
    StaticFile {
        name: "buildwire.js",
        body: include_str!("../../../clients/web/buildwire.js"),
        content_type: JS,
    },
    StaticFile {
        name: "progress.js",
        body: include_str!("../../../clients/web/progress.js"),
        content_type: JS,
    },
    StaticFile {
        name: "react.js",
        body: include_str!("../../../clients/web/react.js"),
        content_type: JS,
    },
];

/// `name` from `files` with `cache` as its `Cache-Control`, or a problem+json 404.
pub fn serve(files: &[StaticFile], name: &str, cache: &str) -> Result<Response, ApiError> {
    let file = files.iter().find(|f| f.name == name).ok_or_else(|| {
        let known: Vec<&str> = files.iter().map(|f| f.name).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            ProblemCode::NotFound,
            format!("no file {name:?} here (there are {})", known.join(", ")),
        )
    })?;
    Ok(file
        .body
        .with_content_type(file.content_type)
        .with_header("Cache-Control", cache)
        .with_header("X-Content-Type-Options", "nosniff")
        .into_response())
}

/// Serves one module.
#[handler]
pub fn module(Path(file): Path<String>) -> Result<Response, ApiError> {
    serve(&MODULES, &file, "public, max-age=300")
}
