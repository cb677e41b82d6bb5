//! The HTTP API of design.md as poem-openapi routes: the spec at `/openapi.json` (and
//! `/docs`, and `buildwire openapi`) is generated from these signatures and checked in as
//! `schemas/openapi.json`. Routes poem serves with its own handlers (streams, logs,
//! previews, the browser client) are documented by [`served`], so the spec is the whole
//! public surface.

pub mod answers;
pub mod builds;
pub mod ops;
pub mod params;
pub mod refusals;
pub mod restore;
pub mod served;
pub mod submit;
pub mod validate;

use poem_openapi::{OpenApiService, Tags};

/// Groups in the docs.
#[derive(Tags)]
pub enum ApiTags {
    /// Main-app calls (service key).
    Builds,
    /// Browser streams of a build's events (build token).
    Streams,
    /// Full logs (signed links), previews and the browser client's modules.
    Files,
    /// Health and metrics.
    Operations,
}

pub use builds::{BuildsApi, SubmitApi};
pub use ops::OpsApi;
use served::{DocsOnly, ServedElsewhere};

/// Every documented API: the routed ones, then the documented-only ones.
pub type Apis = (SubmitApi, BuildsApi, OpsApi, DocsOnly<ServedElsewhere>);

/// Every OpenAPI route, for `OpenApiService::new`.
pub fn all() -> Apis {
    (SubmitApi, BuildsApi, OpsApi, DocsOnly(ServedElsewhere))
}

/// The OpenAPI service (routes + spec) with buildwire's title and version.
pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(all(), "buildwire", env!("CARGO_PKG_VERSION")).description(
        "The worker side of an AI app builder: the main app submits prompts, reads build \
         progress and history, cancels builds and mints build tokens (service key); \
         browsers watch a build's events over WebSocket `GET /ws/builds/{id}`, or \
         Server-Sent Events `GET /events/{id}` when WebSocket fails (build token). Every \
         refusal is `application/problem+json` with a machine-readable `code`.",
    )
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn spec() -> Value {
        serde_json::from_str(&super::service().spec()).unwrap_or_default()
    }

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

    fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(target) => {
                let name = target.trim_start_matches("#/components/schemas/");
                &spec["components"]["schemas"][name]
            }
            None => schema,
        }
    }

    /// Every operation has an id, a summary and a description, described responses, and
    /// an example in a parameter, its body or an answer.
    #[test]
    fn every_operation_is_described_with_an_example() {
        let spec = spec();
        let paths = spec["paths"].as_object().cloned().unwrap_or_default();
        let mut ids = Vec::new();
        for (path, operations) in &paths {
            for (method, op) in operations.as_object().into_iter().flatten() {
                let at = format!("{method} {path}");
                ids.push(op["operationId"].as_str().unwrap_or_default().to_string());
                assert!(op["operationId"].is_string(), "{at}: operationId");
                assert!(op["summary"].is_string(), "{at}: summary");
                assert!(op["description"].is_string(), "{at}: description");
                let mut examples = 0;
                for param in op["parameters"].as_array().into_iter().flatten() {
                    assert!(param["description"].is_string(), "{at}: {param}");
                    examples +=
                        usize::from(resolve(&spec, &param["schema"])["example"] != Value::Null);
                }
                let bodies = op["requestBody"]["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(_, media)| media);
                let answers = op["responses"].as_object().cloned().unwrap_or_default();
                for (status, answer) in &answers {
                    let text = answer["description"].as_str().unwrap_or_default();
                    assert!(!text.is_empty(), "{at} {status}: description");
                    assert!(
                        !(method == "get" && status == "413"),
                        "{at}: a GET has no body to be too large"
                    );
                }
                let contents = answers
                    .values()
                    .flat_map(|a| a["content"].as_object().cloned().unwrap_or_default())
                    .map(|(_, media)| media)
                    .collect::<Vec<_>>();
                for media in bodies.chain(contents.iter()) {
                    examples +=
                        usize::from(resolve(&spec, &media["schema"])["example"] != Value::Null);
                }
                assert!(examples > 0, "{at}: no example");
            }
        }
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "operation ids are unique");
        for path in [
            "/ws/builds/{id}",
            "/events/{id}",
            "/v1/builds/{id}/logs/build",
            "/v1/builds/{id}/logs/deploy",
            "/v1/builds/{id}/source.zip",
            "/preview/{id}/{path}",
            "/client/{file}",
        ] {
            assert!(paths.contains_key(path), "{path} documented");
        }
    }

    /// The build id's pattern, `Retry-After` as spelled, the token scheme, the event
    /// union, and a description and an example on every schema.
    #[test]
    fn shapes_clients_rely_on() {
        let spec = spec();
        let get = &spec["paths"]["/v1/builds/{id}"]["get"];
        let id = get["parameters"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "id"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(id["schema"]["pattern"], super::params::ULID_PATTERN);
        let submit = &spec["paths"]["/v1/builds"]["post"];
        assert!(submit["responses"]["429"]["headers"]["Retry-After"].is_object());
        let key = submit["parameters"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "Idempotency-Key"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(key["in"], "header");
        assert!(key["description"].is_string());
        for (name, schema) in spec["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            assert!(schema["description"].is_string(), "{name}: description");
            assert!(!schema["example"].is_null(), "{name}: example");
        }
        let schemes = &spec["components"]["securitySchemes"];
        assert_eq!(schemes["BuildToken"]["in"], "query");
        assert_eq!(schemes["BuildToken"]["name"], "token");
        assert_eq!(
            spec["components"]["schemas"]["Event"]["discriminator"]["propertyName"],
            "type"
        );
    }
}
