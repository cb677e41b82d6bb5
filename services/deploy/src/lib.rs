//! The deploy stage (`build.*.cmd.deploy`): makes a built app reachable through the
//! configured [`Target`] and ends the build with `complete`.
//!
//! - [`local`]: the default; the edge serves the artifacts at `/preview/<buildId>/`.
//! - [`cloudflare`]: Cloudflare Pages Direct Upload (`BUILDWIRE_DEPLOY_TARGET=cloudflare`).
//!
//! The whole deploy is bounded by `DEPLOY_TIMEOUT_MS`. A target failure (refused token,
//! missing project, failed deployment, timeout) ends the build with `deploy_failed`
//! (`code`, `retryable`, `suggestedAction`) and a soft `failed`: the platform's trouble,
//! never counted against the user's circuit breaker. Everything else (cancel, SIGTERM
//! hand-back, NATS unavailable, no artifacts) goes to the stage loop as before.

pub mod cloudflare;
pub mod error;
pub mod files;
pub mod local;
pub mod logs;
pub mod target;

use std::time::Duration;

use buildwire_runtime::objects::{Artifacts, Bucket};
use buildwire_runtime::stage::{Job, StageError, StageHandler};
use buildwire_runtime::{Config, nats::Nats};
use buildwire_schemas::commands::build_log_path;
use buildwire_schemas::events::{
    Complete, DeployUpdate, ErrorSeverity, Failed, StageFailure, StatusCode, StatusUpdate,
};
use buildwire_schemas::{BuildStatus, EventBody, Stage};
use tokio::time::Instant;

pub use cloudflare::{CloudflareOptions, CloudflareTarget};
pub use error::DeployError;
pub use local::LocalTarget;
pub use logs::LogStore;
pub use target::{Deployed, Target};

/// Extra time past the deadline a target gets to report its own timeout (with the
/// problem it was retrying) before the stage reports a bare one.
const GRACE: Duration = Duration::from_secs(1);

/// The configured target.
#[derive(Clone, Debug)]
pub enum Targets {
    /// `local`.
    Local(Box<LocalTarget>),
    /// `cloudflare`.
    Cloudflare(Box<CloudflareTarget>),
}

impl Target for Targets {
    fn name(&self) -> &'static str {
        match self {
            Targets::Local(t) => t.name(),
            Targets::Cloudflare(t) => t.name(),
        }
    }

    async fn deploy(&self, job: &mut Job, deadline: Instant) -> Result<Deployed, DeployError> {
        match self {
            Targets::Local(t) => t.deploy(job, deadline).await,
            Targets::Cloudflare(t) => t.deploy(job, deadline).await,
        }
    }
}

/// The deploy stage's handler.
#[derive(Clone, Debug)]
pub struct DeployStage {
    target: Targets,
    timeout: Duration,
}

impl DeployStage {
    /// A stage deploying to `target`, each deploy bounded by `timeout`.
    pub fn new(target: Targets, timeout: Duration) -> DeployStage {
        DeployStage { target, timeout }
    }

    /// A local deployer; previews are announced under `public_base` (the edge's URL).
    pub fn local(artifacts: Artifacts, public_base: &str) -> DeployStage {
        DeployStage::new(
            Targets::Local(Box::new(LocalTarget::new(artifacts, public_base))),
            Config::default().deploy_timeout(),
        )
    }

    /// The target `BUILDWIRE_DEPLOY_TARGET` names, bounded by `DEPLOY_TIMEOUT_MS`.
    pub async fn from_config(config: &Config, nats: &Nats) -> Result<DeployStage, DeployError> {
        let target = match config.deploy_target.as_str() {
            "cloudflare" => {
                let logs = LogStore::new(Bucket::open(nats, "logs").await?);
                Targets::Cloudflare(Box::new(
                    CloudflareTarget::from_config(config, nats, logs).await?,
                ))
            }
            _ => Targets::Local(Box::new(LocalTarget::new(
                Artifacts::open(nats).await?,
                &config.public_base(),
            ))),
        };
        Ok(DeployStage::new(target, config.deploy_timeout()))
    }

    /// Reports a target failure: `deploy_failed` and the terminal `failed` under the same
    /// `Nats-Msg-Id`s the stage loop uses for failures, so either is stored once.
    async fn fail(&self, job: &mut Job, err: DeployError) -> Result<(), StageError> {
        tracing::error!(code = err.code(), %err, "deploy failed");
        let (deployment_id, deploy_log_url) = match &err {
            DeployError::DeploymentFailed { id, log_url, .. } => {
                (Some(id.clone()), log_url.clone())
            }
            _ => (None, None),
        };
        let code = err.code().to_string();
        let failure = StageFailure {
            code: code.clone(),
            error: err.to_string(),
            retryable: err.retryable(),
            attempts: job.attempt,
        };
        job.emit_keyed(
            "failed",
            EventBody::DeployFailed(DeployUpdate {
                deployment_id,
                deploy_log_url,
                message: Some(format!("Deploying to {} failed", self.target.name())),
                suggested_action: err.suggested_action(),
                failure: Some(failure),
                ..DeployUpdate::default()
            }),
        )
        .await?;
        job.emit_keyed(
            "failed:terminal",
            EventBody::Failed(Failed {
                stage: Stage::Deploy,
                code,
                message: format!("deploy failed: {err}"),
                severity: ErrorSeverity::Soft,
            }),
        )
        .await?;
        Ok(())
    }
}

impl StageHandler for DeployStage {
    fn stage(&self) -> Stage {
        Stage::Deploy
    }

    async fn handle(&self, job: &mut Job) -> Result<(), StageError> {
        job.emit(EventBody::Status(StatusUpdate {
            code: StatusCode::Deploy,
            message: "Deploying to preview...".into(),
            progress: Some(90),
            build_status: Some(BuildStatus::Deploying),
        }))
        .await?;
        job.emit(EventBody::DeployStarted(DeployUpdate {
            message: Some(format!(
                "Publishing the built app to {}",
                self.target.name()
            )),
            ..DeployUpdate::default()
        }))
        .await?;
        let deadline = Instant::now() + self.timeout;
        let (cancelled, interrupted) = (job.cancelled().clone(), job.interrupted().clone());
        let outcome = tokio::select! {
            _ = cancelled.cancelled() => return Err(StageError::Cancelled),
            _ = interrupted.cancelled() => return Err(StageError::Interrupted),
            outcome = tokio::time::timeout_at(deadline + GRACE, self.target.deploy(job, deadline)) => outcome,
        };
        let deployed = match outcome {
            Ok(Ok(deployed)) => deployed,
            Ok(Err(DeployError::Stage(err))) => return Err(err),
            Ok(Err(err)) => return self.fail(job, err).await,
            Err(_) => {
                let limit_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
                return self
                    .fail(
                        job,
                        DeployError::Timeout {
                            limit_ms,
                            last: None,
                        },
                    )
                    .await;
            }
        };
        // The build stage stored the log before handing over: its reference, which the edge
        // signs each time it hands the event out.
        let build_log_url = Some(build_log_path(&job.command.build_id));
        job.emit_keyed(
            "completed",
            EventBody::DeployCompleted(DeployUpdate {
                preview_url: Some(deployed.preview_url.clone()),
                deployment_id: Some(deployed.deployment_id.clone()),
                deploy_log_url: deployed.deploy_log_url.clone(),
                message: Some("Preview is live".into()),
                ..DeployUpdate::default()
            }),
        )
        .await?;
        job.emit_keyed(
            "complete",
            EventBody::Complete(Complete {
                preview_url: deployed.preview_url.clone(),
                message: "Your app is ready!".into(),
                build_log_url,
            }),
        )
        .await?;
        tracing::info!(preview_url = %deployed.preview_url, deployment_id = %deployed.deployment_id, "deployed");
        Ok(())
    }
}
