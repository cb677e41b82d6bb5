//! The execute stage (`build.*.cmd.execute`): runs the plan's tasks in order. Each task asks
//! the LLM provider for files (viewers see them being written as `file_progress`, and the
//! task's tokens as `usage`), checks every path (nothing may leave the project), applies
//! them to the project tree and reports `task_completed` with `filesCreated` /
//! `filesModified` (or `task_failed`, then `execute_failed` with `code`, `retryable` and
//! `suggestedAction` for a model or provider failure). The finished tree is saved to
//! `sources` (so a follow-up starts from it on any host) and the build goes to `build`.
//! A restore's one task copies the restored build's saved tree instead ([`restore`]).

use std::sync::Arc;

use buildwire_llm::Provider;
use buildwire_plan::{LlmStep, fail_llm, restore, starting_files};
use buildwire_runtime::objects::{FileTree, Sources};
use buildwire_runtime::paths;
use buildwire_runtime::stage::{Job, StageError, StageHandler};
use buildwire_schemas::events::{PlanTask, StatusCode, StatusUpdate, TaskDetails, TaskUpdate};
use buildwire_schemas::{BuildStatus, EventBody, Stage};

/// Runs plans with `provider`.
#[derive(Clone)]
pub struct ExecuteStage {
    provider: Arc<dyn Provider>,
    sources: Sources,
}

impl ExecuteStage {
    /// An execute stage over `provider`, saving trees to `sources`.
    pub fn new(provider: Arc<dyn Provider>, sources: Sources) -> ExecuteStage {
        ExecuteStage {
            provider: buildwire_plan::TracedProvider::wrap(provider),
            sources,
        }
    }
}

fn task(task_id: &str, task_name: &str, details: Option<TaskDetails>) -> TaskUpdate {
    TaskUpdate {
        task_id: task_id.into(),
        task_name: task_name.into(),
        details,
    }
}

impl ExecuteStage {
    /// A restore: the one task copies `from`'s saved tree, which is saved as this build's
    /// (and its project's newest), then the build goes on to `build`.
    async fn restore(&self, job: &mut Job, from: &str) -> Result<(), StageError> {
        let name = format!("Restore the files of build {from}");
        job.emit(EventBody::Status(StatusUpdate {
            code: StatusCode::Write,
            message: format!("Restoring the files of build {from}..."),
            progress: Some(15),
            build_status: Some(BuildStatus::Executing),
        }))
        .await?;
        job.emit(EventBody::TaskStarted(task(restore::TASK_ID, &name, None)))
            .await?;
        let tree = restore::tree(&self.sources, from).await?;
        let command = job.command.clone();
        self.sources
            .save(&command.build_id, command.project_id.as_deref(), &tree)
            .await?;
        let details = TaskDetails {
            files_created: Some(tree.keys().cloned().collect()),
            files_modified: Some(Vec::new()),
            error: None,
        };
        job.emit(EventBody::TaskCompleted(task(
            restore::TASK_ID,
            &name,
            Some(details),
        )))
        .await?;
        job.forward(Stage::Build, &command).await?;
        Ok(())
    }
}

impl StageHandler for ExecuteStage {
    fn stage(&self) -> Stage {
        Stage::Execute
    }

    async fn handle(&self, job: &mut Job) -> Result<(), StageError> {
        let plan =
            job.command.plan.clone().ok_or_else(|| {
                StageError::fatal("NO_PLAN", "the execute command carries no plan")
            })?;
        if let Some(from) = job.command.restore_from_build_id.clone() {
            return self.restore(job, &from).await;
        }
        let mut files = starting_files(&self.sources, job).await?;
        job.emit(EventBody::Status(StatusUpdate {
            code: StatusCode::Write,
            message: "Writing the project's files...".into(),
            progress: Some(15),
            build_status: Some(BuildStatus::Executing),
        }))
        .await?;
        for planned in &plan.tasks {
            job.emit(EventBody::TaskStarted(task(
                &planned.id,
                &planned.name,
                None,
            )))
            .await?;
            let step = LlmStep::new(Stage::Execute, Some(&planned.id));
            let mut observe = step.observer();
            let prompt = job.command.prompt.clone();
            let call = buildwire_llm::write_task_observed(
                self.provider.as_ref(),
                &prompt,
                planned,
                &files,
                &mut observe,
            );
            let written = match step.drive(job, call).await? {
                Ok(written) => written,
                Err(err) => {
                    task_failed(job, planned, err.to_string()).await?;
                    return fail_llm(job, &err).await;
                }
            };
            // Every path is checked before anything of the task is applied.
            let mut checked = Vec::with_capacity(written.len());
            for mut file in written {
                match paths::check(&file.path) {
                    Ok(path) => {
                        file.path = path;
                        checked.push(file);
                    }
                    Err(err) => {
                        task_failed(job, planned, err.to_string()).await?;
                        return Err(StageError::fatal("INVALID_PATH", err.to_string()));
                    }
                }
            }
            let (mut created, mut modified) = (Vec::new(), Vec::new());
            for file in &checked {
                match files.iter().find(|f| f.path == file.path) {
                    Some(old) if old.content == file.content => {}
                    Some(_) => modified.push(file.path.clone()),
                    None => created.push(file.path.clone()),
                }
            }
            buildwire_llm::apply_writes(&mut files, &checked);
            let details = TaskDetails {
                files_created: Some(created),
                files_modified: Some(modified),
                error: None,
            };
            job.emit(EventBody::TaskCompleted(task(
                &planned.id,
                &planned.name,
                Some(details),
            )))
            .await?;
        }
        let tree: FileTree = files.into_iter().map(|f| (f.path, f.content)).collect();
        self.sources
            .save(
                &job.command.build_id,
                job.command.project_id.as_deref(),
                &tree,
            )
            .await?;
        let command = job.command.clone();
        job.forward(Stage::Build, &command).await?;
        Ok(())
    }
}

/// Emits `task_failed` for `planned`, with `error` as its error.
async fn task_failed(job: &mut Job, planned: &PlanTask, error: String) -> Result<(), StageError> {
    let details = TaskDetails {
        error: Some(error),
        ..TaskDetails::default()
    };
    job.emit(EventBody::TaskFailed(task(
        &planned.id,
        &planned.name,
        Some(details),
    )))
    .await?;
    Ok(())
}
