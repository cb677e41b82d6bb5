//! The `offline` provider: deterministic, no key, no network. It answers like a real model
//! would, with a short text then tool calls: a `submit_plan` for a new app picked by
//! keywords (todo, notes, kanban, timer, landing page, generic) or for the changes a
//! follow-up asks for, and `write_file` calls carrying real React + TypeScript + Tailwind
//! apps on Vite (type-checked by their build) or the edited components.

mod apps;
mod followups;
mod intent;
mod markup;
mod tasks;
mod text;

use buildwire_schemas::events::PlanTask;
use futures::StreamExt;
use futures::stream::BoxStream;

pub use apps::VITE_VERSION;
pub use intent::AppKind;

use crate::tools::{self, SUBMIT_PLAN, WRITE_FILE};
use crate::{Completion, Delta, LlmError, ProjectFile, Provider, Usage, apply_writes, find_file};
use intent::Change;

/// The deterministic built-in provider (`BUILDWIRE_LLM=offline`): the same request always
/// gets the same answer.
#[derive(Clone, Copy, Debug, Default)]
pub struct OfflineProvider;

impl Provider for OfflineProvider {
    fn name(&self) -> &'static str {
        "offline"
    }

    fn complete(&self, request: Completion) -> BoxStream<'static, Result<Delta, LlmError>> {
        futures::stream::iter(answer(&request).into_iter().map(Ok)).boxed()
    }
}

/// The deltas answering `request`.
fn answer(request: &Completion) -> Vec<Delta> {
    match &request.task {
        None if request.offers(SUBMIT_PLAN) => {
            let (said, tasks) = plan_tasks(&request.prompt, &request.files);
            vec![
                no_usage(),
                Delta::Text(said),
                tool_use(0, SUBMIT_PLAN, tools::plan_input(&tasks)),
            ]
        }
        Some(task) if request.offers(WRITE_FILE) => {
            let files = task_files(&request.prompt, task, &request.files);
            let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
            let mut deltas = Vec::with_capacity(files.len() * 2 + 2);
            for (index, file) in files.iter().enumerate() {
                deltas.push(progress(index, file));
            }
            deltas.push(no_usage());
            deltas.push(Delta::Text(format!(
                "{}: writing {}.",
                task.name,
                paths.join(", ")
            )));
            deltas.extend(
                files.iter().enumerate().map(|(index, file)| {
                    tool_use(index, WRITE_FILE, tools::write_file_input(file))
                }),
            );
            deltas
        }
        _ => vec![Delta::Text(
            "The offline provider plans (submit_plan) and writes files (write_file); \
             this request offered neither."
                .into(),
        )],
    }
}

/// The offline provider's usage: no tokens, named like a real model's.
fn no_usage() -> Delta {
    Delta::Usage(Usage {
        provider: "offline",
        model: "offline".into(),
        ..Usage::default()
    })
}

/// The one progress figure of a file the offline provider writes whole.
fn progress(index: usize, file: &ProjectFile) -> Delta {
    let content = &file.content;
    let lines = content.matches('\n').count()
        + usize::from(!content.is_empty() && !content.ends_with('\n'));
    Delta::ToolProgress {
        id: format!("toolu_offline_{index:02}"),
        name: WRITE_FILE.into(),
        path: Some(file.path.clone()),
        bytes: content.len() as u64,
        lines: lines as u64,
    }
}

fn tool_use(index: usize, name: &str, input: serde_json::Value) -> Delta {
    Delta::ToolUse {
        id: format!("toolu_offline_{index:02}"),
        name: name.into(),
        input,
    }
}

/// What to say and the tasks to submit: a new app when there are no files, else the
/// follow-up's changes.
fn plan_tasks(prompt: &str, files: &[ProjectFile]) -> (String, Vec<PlanTask>) {
    if files.is_empty() {
        let kind = AppKind::detect(prompt);
        let tasks = tasks::new_app_tasks(kind, &apps::app_files(kind, prompt));
        let said = format!(
            "I'll build a {} with React, TypeScript and Tailwind CSS on Vite in {} steps.",
            kind.label(),
            tasks.len()
        );
        (said, tasks)
    } else {
        let tasks = tasks::change_tasks(&Change::detect(prompt));
        let names: Vec<&str> = tasks.iter().map(|task| task.name.as_str()).collect();
        let said = format!("I'll change the existing app: {}.", names.join("; "));
        (said, tasks)
    }
}

/// The files `task` writes. Unknown task ids (a plan from elsewhere) get the whole app
/// for a project without `index.html`, else every change the prompt asks for.
fn task_files(prompt: &str, task: &PlanTask, files: &[ProjectFile]) -> Vec<ProjectFile> {
    if tasks::is_new_app_task(&task.id) {
        return apps::app_files(AppKind::detect(prompt), prompt)
            .into_iter()
            .filter(|file| tasks::task_of(&file.path) == task.id)
            .collect();
    }
    if let Some(change) = tasks::change_for(task, prompt) {
        return followups::apply(&change, files);
    }
    if find_file(files, "index.html").is_none() {
        return apps::app_files(AppKind::detect(prompt), prompt);
    }
    let mut tree = files.to_vec();
    let mut written = Vec::new();
    for change in Change::detect(prompt) {
        let changed = followups::apply(&change, &tree);
        apply_writes(&mut tree, &changed);
        apply_writes(&mut written, &changed);
    }
    written
}

#[cfg(test)]
mod tests;
