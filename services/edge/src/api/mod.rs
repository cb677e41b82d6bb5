//! The HTTP API of design.md as poem-openapi routes: the spec at `/openapi.json` is
//! generated from these signatures (and checked in as `schemas/openapi.json`).

pub mod builds;
pub mod ops;
pub mod submit;
pub mod validate;

use poem_openapi::Tags;

/// Groups in the docs.
#[derive(Tags)]
pub enum ApiTags {
    /// Main-app calls (service key).
    Builds,
    /// Health and metrics.
    Operations,
}

pub use builds::BuildsApi;
pub use ops::OpsApi;

/// Every OpenAPI route, for `OpenApiService::new`.
pub fn all() -> (BuildsApi, OpsApi) {
    (BuildsApi, OpsApi)
}

/// The OpenAPI service (routes + spec) with buildwire's title and version.
pub fn service() -> poem_openapi::OpenApiService<(BuildsApi, OpsApi), ()> {
    poem_openapi::OpenApiService::new(all(), "buildwire", env!("CARGO_PKG_VERSION")).description(
        "Submit prompts, read build progress and history, cancel builds, mint build tokens. \
         Live events stream over WebSocket `GET /ws/builds/{id}?token=` and SSE \
         `GET /events/{id}?token=` (see design.md).",
    )
}

#[cfg(test)]
mod tests {
    /// `schemas/openapi.json` is the checked-in spec clients are generated from.
    #[test]
    fn the_checked_in_spec_matches_the_routes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/openapi.json");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk.trim() == super::service().spec().trim(),
            "schemas/openapi.json drifted from the edge's routes: run \
             `cargo run -p buildwire -- openapi > schemas/openapi.json`"
        );
    }
}
