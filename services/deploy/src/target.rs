//! What a deploy target does: make one build's output reachable at a URL, within a
//! deadline, reporting through the build's job (`deploy_progress`, `deploy_log`).

use std::future::Future;

use buildwire_runtime::stage::Job;
use tokio::time::Instant;

use crate::DeployError;

/// A finished deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployed {
    /// Where the app is served (`previewUrl`).
    pub preview_url: String,
    /// The target's id of this deployment (`deploymentId`).
    pub deployment_id: String,
    /// The deployment's log, when the target has one (`deployLogUrl`: a reference the edge
    /// signs, `/v1/builds/<id>/logs/deploy`).
    pub deploy_log_url: Option<String>,
}

/// Where builds are deployed (`BUILDWIRE_DEPLOY_TARGET`).
pub trait Target: Send + Sync + 'static {
    /// A short name for messages ("the local preview", "Cloudflare Pages").
    fn name(&self) -> &'static str;

    /// Deploys `job.command.build_id`'s artifacts, finishing by `deadline` (else
    /// [`DeployError::Timeout`]). Events it emits must be keyed (`job.emit_keyed`) so a
    /// retried attempt stores each once.
    fn deploy(
        &self,
        job: &mut Job,
        deadline: Instant,
    ) -> impl Future<Output = Result<Deployed, DeployError>> + Send;
}
