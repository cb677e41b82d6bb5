//! Stage commands: the messages on `build.<id>.cmd.<stage>` that hand a build from one
//! stage to the next. Each stage adds what it produced and forwards the command.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::events::Plan;

/// A build's work order, carried from stage to stage.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StageCommand {
    /// The build (a ULID).
    pub build_id: String,
    /// The request that started it.
    pub request_id: String,
    /// The user who asked.
    pub user_id: String,
    /// The user's prompt.
    pub prompt: String,
    /// The project a follow-up belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// The build whose sources a follow-up starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_build_id: Option<String>,
    /// A restore: the build whose saved tree this build rebuilds, with no LLM (the plan
    /// stage plans one task, execute copies the tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_from_build_id: Option<String>,
    /// The plan, once the plan stage made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// Test knobs (the e2e probe stage's `probe`), keyed by name. What a stage produces for
    /// the next travels in the typed fields above or follows from the build id (its log:
    /// [`build_log_path`]), never in here.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Where a build's full log is served (`/v1/builds/<id>/logs/build`): the reference the
/// build stage stores it under and that events keep in `buildLogUrl`. The edge signs it
/// each time it hands an event or a progress out, so no stored event holds a link that
/// expires.
pub fn build_log_path(build_id: &str) -> String {
    format!("/v1/builds/{build_id}/logs/build")
}

/// Where a build's deploy log is served (`/v1/builds/<id>/logs/deploy`): the reference
/// `deployLogUrl` keeps in stored events, signed by the edge on the way out.
pub fn deploy_log_path(build_id: &str) -> String {
    format!("/v1/builds/{build_id}/logs/deploy")
}
