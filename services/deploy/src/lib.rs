//! The deploy stage (`build.*.cmd.deploy`): makes a built app reachable and ends the build
//! with `complete`. Target `local`: the artifacts are already in the `artifacts` bucket, and
//! every edge node serves them at `/preview/<buildId>/`, so deploying is checking they are
//! there and announcing the URL. (Target `cloudflare` arrives with its own issue.)

use buildwire_runtime::objects::Artifacts;
use buildwire_runtime::stage::{Job, StageError, StageHandler};
use buildwire_schemas::events::{Complete, DeployUpdate, StatusCode, StatusUpdate};
use buildwire_schemas::{BuildStatus, EventBody, Stage};

/// Deploys to the edge's own preview route.
#[derive(Clone, Debug)]
pub struct DeployStage {
    artifacts: Artifacts,
    public_base: String,
}

impl DeployStage {
    /// A local deployer; previews are announced under `public_base` (the edge's URL).
    pub fn local(artifacts: Artifacts, public_base: &str) -> DeployStage {
        DeployStage {
            artifacts,
            public_base: public_base.trim_end_matches('/').to_string(),
        }
    }

    /// Where the edge serves `build_id`'s preview.
    pub fn preview_url(&self, build_id: &str) -> String {
        format!("{}/preview/{build_id}/", self.public_base)
    }
}

impl StageHandler for DeployStage {
    fn stage(&self) -> Stage {
        Stage::Deploy
    }

    async fn handle(&self, job: &mut Job) -> Result<(), StageError> {
        let build_id = job.command.build_id.clone();
        job.emit(EventBody::Status(StatusUpdate {
            code: StatusCode::Deploy,
            message: "Deploying to preview...".into(),
            progress: Some(90),
            build_status: Some(BuildStatus::Deploying),
        }))
        .await?;
        job.emit(EventBody::DeployStarted(DeployUpdate {
            message: Some("Publishing the built app".into()),
            ..DeployUpdate::default()
        }))
        .await?;
        if !self.artifacts.has_index(&build_id).await? {
            return Err(StageError::fatal(
                "NO_ARTIFACTS",
                "the build stored no index.html to serve",
            ));
        }
        let preview_url = self.preview_url(&build_id);
        let build_log_url = job
            .command
            .extra
            .get("buildLogUrl")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        job.emit(EventBody::DeployCompleted(DeployUpdate {
            preview_url: Some(preview_url.clone()),
            deployment_id: Some(build_id.clone()),
            message: Some("Preview is live".into()),
            ..DeployUpdate::default()
        }))
        .await?;
        job.emit(EventBody::Complete(Complete {
            preview_url: preview_url.clone(),
            message: "Your app is ready!".into(),
            build_log_url,
        }))
        .await?;
        tracing::info!(%preview_url, "deployed");
        Ok(())
    }
}
