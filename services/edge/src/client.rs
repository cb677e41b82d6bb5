//! `GET /client/buildwire.js`: the browser client (`clients/web/buildwire.js`), compiled
//! into the binary so every edge node serves the version that matches its wire contract.

use poem::{IntoResponse, Response, handler};

/// The client module's source.
pub const SOURCE: &str = include_str!("../../../clients/web/buildwire.js");

/// Serves the ES module.
#[handler]
pub fn module() -> Response {
    SOURCE
        .with_content_type("text/javascript; charset=utf-8")
        .with_header("Cache-Control", "public, max-age=300")
        .into_response()
}
