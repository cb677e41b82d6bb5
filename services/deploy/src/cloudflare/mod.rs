//! Target `cloudflare`: Cloudflare Pages Direct Upload, as wrangler does it. The build's
//! files are hashed ([`manifest`]), only those Cloudflare lacks are uploaded
//! ([`uploads`]), a deployment is created with the manifest, then polled until live
//! ([`polling`]) while its stage logs stream as `deploy_log` events.
//!
//! Projects: `CLOUDFLARE_PAGES_PROJECT` names one project every build deploys to (branch
//! `preview`; a missing project fails with `PAGES_PROJECT_NOT_FOUND`). Unset, each
//! buildwire project gets its own Pages project, `bw-<project slug>-<hash>`, created on
//! its first deploy with production branch `main`, which its builds deploy to (so
//! `<name>.pages.dev` is always the newest build; the `previewUrl` of each build is its
//! deployment's own URL). Check-missing is per project: a follow-up uploads only the
//! files that changed.

pub mod api;
pub mod manifest;
pub mod polling;
pub mod uploads;

use std::time::Duration;

use buildwire_runtime::Config;
use buildwire_runtime::nats::Nats;
use buildwire_runtime::stage::Job;
use buildwire_schemas::events::DeployUpdate;
use buildwire_schemas::{EventBody, StageCommand};
use reqwest::Method;
use serde_json::json;
use tokio::time::Instant;

use self::api::{Api, Auth, Backoff, Call};
use self::polling::Deployment;
use self::uploads::Uploader;
use crate::files::BuildOutput;
use crate::logs::{LogForwarder, LogStore};
use crate::{DeployError, Deployed, Target};

/// How the target paces itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloudflareOptions {
    /// Pause between polls of a deployment.
    pub poll_every: Duration,
    /// Retry pacing of API calls.
    pub backoff: Backoff,
}

impl Default for CloudflareOptions {
    fn default() -> Self {
        CloudflareOptions {
            poll_every: Duration::from_secs(1),
            backoff: Backoff::default(),
        }
    }
}

/// Which Pages project a build goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Projects {
    /// `CLOUDFLARE_PAGES_PROJECT`: this one, never created.
    Fixed(String),
    /// One per buildwire project, created when missing.
    PerProject,
}

/// Deploys to Cloudflare Pages.
#[derive(Clone, Debug)]
pub struct CloudflareTarget {
    api: Api,
    projects: Projects,
    output: BuildOutput,
    logs: LogStore,
    options: CloudflareOptions,
}

impl CloudflareTarget {
    /// From the `CLOUDFLARE_*` settings; reads artifacts and stores logs through `nats`.
    pub async fn from_config(
        config: &Config,
        nats: &Nats,
        logs: LogStore,
    ) -> Result<CloudflareTarget, DeployError> {
        let (Some(account), Some(token)) = (
            config.cloudflare_account_id.as_deref(),
            config.cloudflare_api_token.as_deref(),
        ) else {
            return Err(DeployError::Config(
                "BUILDWIRE_DEPLOY_TARGET=cloudflare needs CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN".into(),
            ));
        };
        let projects = match &config.cloudflare_pages_project {
            Some(name) => Projects::Fixed(name.clone()),
            None => Projects::PerProject,
        };
        Ok(CloudflareTarget {
            api: Api::new(
                &config.cloudflare_api_base,
                token,
                account,
                config.deploy_timeout(),
            )?,
            projects,
            output: BuildOutput::open(nats).await?,
            logs,
            options: CloudflareOptions::default(),
        })
    }

    /// With other pacing (tests poll faster).
    pub fn with_options(mut self, options: CloudflareOptions) -> CloudflareTarget {
        self.api = self.api.with_backoff(options.backoff);
        self.options = options;
        self
    }

    /// The project `command` deploys to, and the branch.
    fn project_of(&self, command: &StageCommand) -> (String, &'static str) {
        match &self.projects {
            Projects::Fixed(name) => (name.clone(), "preview"),
            Projects::PerProject => (
                project_name(command.project_id.as_deref().unwrap_or(&command.build_id)),
                "main",
            ),
        }
    }

    /// An uploader of `project`, creating the project first when it is missing and ours
    /// to create.
    async fn uploader<'a>(
        &'a self,
        project: &'a str,
        deadline: Instant,
    ) -> Result<Uploader<'a>, DeployError> {
        match Uploader::start(&self.api, project, deadline).await {
            Err(DeployError::Api { status: 404, .. }) => match &self.projects {
                Projects::Fixed(_) => Err(DeployError::ProjectNotFound {
                    project: project.to_string(),
                    account: self.api.account.clone(),
                }),
                Projects::PerProject => {
                    self.create_project(project, deadline).await?;
                    Uploader::start(&self.api, project, deadline).await
                }
            },
            other => other,
        }
    }

    async fn create_project(&self, project: &str, deadline: Instant) -> Result<(), DeployError> {
        tracing::info!(%project, "creating the Pages project");
        let body = json!({ "name": project, "production_branch": "main" });
        let path = format!("/accounts/{}/pages/projects", self.api.account);
        let created: Result<serde_json::Value, _> = self
            .api
            .call(
                &Call::new(Method::POST, path, Auth::Token).json(&body),
                deadline,
            )
            .await;
        match created {
            // Another worker created it first.
            Err(DeployError::Api { status: 409, .. }) => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

/// A Pages project name for buildwire project (or build) `id`: lowercase letters, digits
/// and dashes, at most 58 characters, unique per id.
pub fn project_name(id: &str) -> String {
    let mut slug = String::new();
    for c in id.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (slug.is_empty() || slug.ends_with('-'))) {
            slug.push(c);
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let digest = blake3::hash(id.as_bytes()).to_hex();
    match slug.is_empty() {
        true => format!("bw-{}", &digest[..8]),
        false => format!("bw-{slug}-{}", &digest[..8]),
    }
}

fn progress(message: String, deployment_id: Option<String>) -> EventBody {
    EventBody::DeployProgress(DeployUpdate {
        message: Some(message),
        deployment_id,
        ..DeployUpdate::default()
    })
}

impl Target for CloudflareTarget {
    fn name(&self) -> &'static str {
        "Cloudflare Pages"
    }

    async fn deploy(&self, job: &mut Job, deadline: Instant) -> Result<Deployed, DeployError> {
        let build_id = job.command.build_id.clone();
        let files = self.output.files(&build_id).await?;
        let assets = manifest::assets(&files)?;
        let (project, branch) = self.project_of(&job.command);
        let mut uploader = self.uploader(&project, deadline).await?;
        let missing = uploader.missing(&assets).await?;
        let to_upload: Vec<&manifest::Asset> = assets
            .iter()
            .filter(|a| missing.contains(&a.hash))
            .collect();
        job.emit_keyed(
            "uploading",
            progress(
                format!(
                    "Uploading {} of {} files to Cloudflare Pages project {project} ({} already there)",
                    to_upload.len(),
                    assets.len(),
                    assets.len() - to_upload.len()
                ),
                None,
            ),
        )
        .await?;
        let requests = uploader.upload(&to_upload).await?;
        uploader.upsert(&assets).await?;
        tracing::info!(%project, uploaded = to_upload.len(), requests, total = assets.len(), "assets uploaded");

        let manifest = serde_json::to_string(&manifest::manifest(&assets))
            .map_err(|e| DeployError::Config(format!("manifest: {e}")))?;
        let form = [("manifest", manifest), ("branch", branch.to_string())];
        let path = self.api.project_path(&project, "/deployments");
        let created: Deployment = self
            .api
            .call(
                &Call::new(Method::POST, path, Auth::Token).form(&form),
                deadline,
            )
            .await?;
        job.emit_keyed(
            "created",
            progress(
                format!("Deployment {} created; waiting for Cloudflare", created.id),
                Some(created.id.clone()),
            ),
        )
        .await?;

        let mut forwarder = LogForwarder::default();
        let live = polling::wait_until_live(
            &self.api,
            &project,
            created,
            job,
            &mut forwarder,
            self.options.poll_every,
            deadline,
        )
        .await;
        match live {
            Ok(deployment) => Ok(Deployed {
                preview_url: deployment.url,
                deploy_log_url: self.logs.store(&build_id, forwarder.lines()).await,
                deployment_id: deployment.id,
            }),
            Err(DeployError::DeploymentFailed {
                id, stage, message, ..
            }) => Err(DeployError::DeploymentFailed {
                log_url: self.logs.store(&build_id, forwarder.lines()).await,
                id,
                stage,
                message,
            }),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_valid_and_distinct() {
        let a = project_name("My Todo App!");
        assert!(a.starts_with("bw-my-todo-app-"), "{a}");
        assert_ne!(a, project_name("my-todo-app"));
        let long = project_name(&"x".repeat(200));
        assert!(long.len() <= 58, "{long}");
        assert_eq!(project_name("!!!").len(), "bw-".len() + 8);
        for name in [a, long] {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            );
        }
    }
}
