//! Waiting for a created deployment: poll `GET .../deployments/<id>` until its
//! `latest_stage` is `deploy` with `success` (live) or any stage fails, reading its stage
//! logs (`GET .../deployments/<id>/history/logs`) each time and forwarding new lines.

use std::time::Duration;

use buildwire_runtime::stage::Job;
use reqwest::Method;
use serde::Deserialize;
use tokio::time::Instant;

use super::api::{Api, Auth, Call};
use crate::DeployError;
use crate::logs::LogForwarder;

/// A Pages deployment, the fields buildwire reads.
#[derive(Clone, Debug, Deserialize)]
pub struct Deployment {
    /// Its id.
    pub id: String,
    /// Its unique URL (`https://<short id>.<project>.pages.dev`).
    #[serde(default)]
    pub url: String,
    /// The stage it is in.
    #[serde(default)]
    pub latest_stage: Option<StageState>,
}

/// One stage of a deployment (`queued`, `initialize`, `clone_repo`, `build`, `deploy`).
#[derive(Clone, Debug, Deserialize)]
pub struct StageState {
    /// The stage.
    pub name: String,
    /// `idle`, `active`, `success`, `failure`, `canceled`, `skipped`.
    #[serde(default)]
    pub status: String,
}

#[derive(Deserialize)]
struct Logs {
    #[serde(default)]
    data: Vec<LogLine>,
}

#[derive(Deserialize)]
struct LogLine {
    #[serde(default)]
    line: String,
}

/// Where a deployment stands.
enum State {
    Live,
    Failed(String),
    Pending(String),
}

fn state(deployment: &Deployment) -> State {
    match &deployment.latest_stage {
        Some(stage) if stage.status == "failure" || stage.status == "canceled" => {
            State::Failed(stage.name.clone())
        }
        Some(stage) if stage.name == "deploy" && stage.status == "success" => State::Live,
        Some(stage) => State::Pending(format!("{} ({})", stage.name, stage.status)),
        None => State::Pending("queued".into()),
    }
}

/// Polls `created` every `every` until it is live (answered) or failed
/// ([`DeployError::DeploymentFailed`], without a log URL yet), forwarding its log lines
/// through `forwarder` as they appear.
pub async fn wait_until_live(
    api: &Api,
    project: &str,
    created: Deployment,
    job: &mut Job,
    forwarder: &mut LogForwarder,
    every: Duration,
    deadline: Instant,
) -> Result<Deployment, DeployError> {
    let path = api.project_path(project, &format!("/deployments/{}", created.id));
    let mut deployment = created;
    loop {
        read_logs(api, &path, job, forwarder, deadline).await?;
        let pending = match state(&deployment) {
            State::Live => return Ok(deployment),
            State::Failed(stage) => {
                return Err(DeployError::DeploymentFailed {
                    id: deployment.id,
                    stage,
                    message: forwarder.tail(3),
                    log_url: None,
                });
            }
            State::Pending(pending) => pending,
        };
        if Instant::now() + every >= deadline {
            tokio::time::sleep_until(deadline).await;
            return Err(api.timeout(Some(format!(
                "deployment {} still in its {pending} stage",
                deployment.id
            ))));
        }
        tokio::time::sleep(every).await;
        deployment = api
            .call(
                &Call::new(Method::GET, path.as_str(), Auth::Token),
                deadline,
            )
            .await?;
    }
}

/// Reads the deployment's log and forwards new lines. A log that cannot be read is a
/// warning, not a failed deploy (the deployment's state decides that).
async fn read_logs(
    api: &Api,
    deployment_path: &str,
    job: &mut Job,
    forwarder: &mut LogForwarder,
    deadline: Instant,
) -> Result<(), DeployError> {
    let call = Call::new(
        Method::GET,
        format!("{deployment_path}/history/logs"),
        Auth::Token,
    );
    match api.call::<Logs>(&call, deadline).await {
        Ok(logs) => {
            let lines = logs.data.into_iter().map(|l| l.line).collect();
            forwarder.forward(job, lines).await
        }
        Err(DeployError::Api {
            status, message, ..
        }) => {
            tracing::warn!(status, %message, "deployment log not readable");
            Ok(())
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(name: &str, status: &str) -> Deployment {
        Deployment {
            id: "d".into(),
            url: String::new(),
            latest_stage: Some(StageState {
                name: name.into(),
                status: status.into(),
            }),
        }
    }

    #[test]
    fn live_only_when_the_deploy_stage_succeeded() {
        assert!(matches!(state(&at("deploy", "success")), State::Live));
        assert!(matches!(
            state(&at("initialize", "success")),
            State::Pending(_)
        ));
        assert!(matches!(state(&at("deploy", "active")), State::Pending(_)));
        assert!(matches!(state(&at("deploy", "failure")), State::Failed(s) if s == "deploy"));
        assert!(matches!(state(&at("build", "canceled")), State::Failed(_)));
    }
}
