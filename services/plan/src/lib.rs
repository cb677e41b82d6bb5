//! The plan stage (`build.*.cmd.plan`): asks the LLM provider for a plan of tasks for the
//! prompt, given the project's current files for a follow-up, reports it as
//! `plan_generated`, and hands the build to `execute` with the plan in the command.
//! Every LLM call is traced and its tokens counted ([`TracedProvider`]); [`live`] runs a
//! stage's LLM step in front of viewers (`file_progress`, `usage`, cancel, failures), for
//! this stage, `execute` and the build stage's auto-fix. A restore plans without the
//! provider ([`restore`]).

pub mod live;
pub mod restore;
mod traced;

pub use live::{LlmStep, fail_llm};
pub use traced::TracedProvider;

use std::sync::Arc;

use buildwire_llm::{ProjectFile, Provider};
use buildwire_runtime::objects::Sources;
use buildwire_runtime::stage::{Job, StageError, StageHandler};
use buildwire_schemas::events::{Plan, PlanGenerated, StatusCode, StatusUpdate};
use buildwire_schemas::{BuildStatus, EventBody, Stage};

/// The files a build starts from, as the provider sees them; a missing parent is fatal.
pub async fn starting_files(sources: &Sources, job: &Job) -> Result<Vec<ProjectFile>, StageError> {
    let command = &job.command;
    let tree = sources
        .starting_tree(
            command.parent_build_id.as_deref(),
            command.project_id.as_deref(),
        )
        .await?
        .ok_or_else(|| {
            StageError::fatal(
                "PARENT_NOT_FOUND",
                format!(
                    "parent build {} has no saved project files",
                    command.parent_build_id.as_deref().unwrap_or_default()
                ),
            )
        })?;
    Ok(tree
        .into_iter()
        .map(|(path, content)| ProjectFile { path, content })
        .collect())
}

/// Plans builds with `provider`.
#[derive(Clone)]
pub struct PlanStage {
    provider: Arc<dyn Provider>,
    sources: Sources,
}

impl PlanStage {
    /// A plan stage over `provider`, reading follow-ups' files from `sources`.
    pub fn new(provider: Arc<dyn Provider>, sources: Sources) -> PlanStage {
        PlanStage {
            provider: TracedProvider::wrap(provider),
            sources,
        }
    }
}

fn status(code: StatusCode, message: &str, progress: u8) -> EventBody {
    EventBody::Status(StatusUpdate {
        code,
        message: message.into(),
        progress: Some(progress),
        build_status: Some(BuildStatus::Planning),
    })
}

/// A restore's plan, made without the provider, handed to execute.
async fn restore_plan(job: &mut Job, from: &str) -> Result<(), StageError> {
    job.emit(status(
        StatusCode::Analyze,
        &format!("Restoring the files of build {from}..."),
        5,
    ))
    .await?;
    let plan = restore::plan(&job.command.build_id, from);
    hand_over(job, plan).await
}

/// Reports `plan` (`plan_generated`) and hands the build, carrying it, to execute.
async fn hand_over(job: &mut Job, plan: Plan) -> Result<(), StageError> {
    job.emit(EventBody::PlanGenerated(PlanGenerated {
        plan: plan.clone(),
    }))
    .await?;
    let mut command = job.command.clone();
    command.plan = Some(plan);
    job.forward(Stage::Execute, &command).await?;
    Ok(())
}

impl StageHandler for PlanStage {
    fn stage(&self) -> Stage {
        Stage::Plan
    }

    async fn handle(&self, job: &mut Job) -> Result<(), StageError> {
        if let Some(from) = job.command.restore_from_build_id.clone() {
            return restore_plan(job, &from).await;
        }
        job.emit(status(StatusCode::Analyze, "Analyzing requirements...", 5))
            .await?;
        let files = starting_files(&self.sources, job).await?;
        let step = LlmStep::new(Stage::Plan, None);
        let mut observe = step.observer();
        let prompt = job.command.prompt.clone();
        let call =
            buildwire_llm::plan_observed(self.provider.as_ref(), &prompt, &files, &mut observe);
        let plan = match step.drive(job, call).await? {
            Ok(plan) => plan,
            Err(err) => return fail_llm(job, &err).await,
        };
        job.emit(status(
            StatusCode::Struct,
            "Creating project structure...",
            10,
        ))
        .await?;
        hand_over(job, plan).await
    }
}
