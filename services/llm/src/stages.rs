//! What the plan and execute stages call: one completion each, offering one tool, turned
//! into wire types (`Plan`) or files.

use buildwire_schemas::events::{Plan, PlanTask};
use futures::StreamExt;

use crate::tools::{self, SUBMIT_PLAN, WRITE_FILE};
use crate::{Completion, Delta, LlmError, ProjectFile, Provider, apply_writes};

/// System instructions for planning.
pub const PLAN_SYSTEM: &str = "You plan small web apps built with Vite and plain JavaScript \
(no frameworks). The project has package.json (private, \"type\": \"module\", script \
`build: vite build`, devDependency vite 5.4.11), vite.config.js with `base: './'`, \
index.html, src/main.js and src/style.css. When project files are given, the request \
changes that existing app: plan only the changes and keep every existing feature working. \
Call `submit_plan` exactly once with the ordered tasks; each task writes one or more files.";

/// System instructions for carrying out one task.
pub const WRITE_SYSTEM: &str = "You write the files of a small web app built with Vite and \
plain JavaScript (no frameworks). Carry out only the given task. For every file the task \
creates or changes, call `write_file` with its path relative to the project root and its \
complete new content. Keep every existing feature working. Escape user text before putting \
it into HTML. Never write outside the project.";

/// Asks `provider` for a plan for `prompt` (a new app when `files` is empty, otherwise a
/// change to those files). The first `submit_plan` call is the answer; none, or an invalid
/// one, is an error. The plan's id is derived from its content, so the same answer gives
/// the same plan.
pub async fn plan(
    provider: &dyn Provider,
    prompt: &str,
    files: &[ProjectFile],
) -> Result<Plan, LlmError> {
    let mut answer = provider.complete(Completion {
        system: PLAN_SYSTEM.into(),
        prompt: prompt.into(),
        files: files.to_vec(),
        task: None,
        tools: vec![tools::submit_plan()],
    });
    let mut said = String::new();
    while let Some(delta) = answer.next().await {
        match delta? {
            Delta::Text(text) => said.push_str(&text),
            Delta::ToolUse { name, input, .. } if name == SUBMIT_PLAN => {
                let tasks = tools::parse_plan_input(&input)?;
                return Ok(Plan {
                    id: plan_id(prompt, &tasks),
                    total_estimated_time: tasks.iter().map(|task| task.estimated_duration).sum(),
                    tasks,
                });
            }
            Delta::ToolUse { name, .. } => {
                tracing::warn!(provider = provider.name(), tool = %name, "ignoring an unexpected tool call while planning");
            }
        }
    }
    Err(LlmError::MissingToolCall {
        tool: SUBMIT_PLAN,
        detail: replied(&said),
    })
}

/// Asks `provider` to carry out `task` of the plan for `prompt`, given the project's
/// current `files` (including what earlier tasks wrote), and returns the files it wrote
/// with their full new contents, in first-written order (a path written twice keeps its
/// last content). Paths are only parsed, not validated: the execute stage must check that
/// each stays inside the project before writing it. A task that writes nothing is an error.
pub async fn write_task(
    provider: &dyn Provider,
    prompt: &str,
    task: &PlanTask,
    files: &[ProjectFile],
) -> Result<Vec<ProjectFile>, LlmError> {
    let mut answer = provider.complete(Completion {
        system: WRITE_SYSTEM.into(),
        prompt: prompt.into(),
        files: files.to_vec(),
        task: Some(task.clone()),
        tools: vec![tools::write_file()],
    });
    let mut said = String::new();
    let mut written = Vec::new();
    while let Some(delta) = answer.next().await {
        match delta? {
            Delta::Text(text) => said.push_str(&text),
            Delta::ToolUse { name, input, .. } if name == WRITE_FILE => {
                let file = tools::parse_write_file(&input)?;
                apply_writes(&mut written, std::slice::from_ref(&file));
            }
            Delta::ToolUse { name, .. } => {
                tracing::warn!(provider = provider.name(), tool = %name, task = %task.id, "ignoring an unexpected tool call while writing");
            }
        }
    }
    if written.is_empty() {
        return Err(LlmError::MissingToolCall {
            tool: WRITE_FILE,
            detail: format!("task `{}` wrote no files; {}", task.id, replied(&said)),
        });
    }
    Ok(written)
}

/// What the model said instead of calling the tool, shortened for an error message.
fn replied(said: &str) -> String {
    let said = said.trim();
    if said.is_empty() {
        return "it replied with no text".into();
    }
    let mut short: String = said.chars().take(200).collect();
    if short.len() < said.len() {
        short.push('…');
    }
    format!("it replied: {short}")
}

/// `plan-<16 hex>`: an FNV-1a hash of the prompt and the tasks.
fn plan_id(prompt: &str, tasks: &[PlanTask]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |text: &str| {
        for byte in text.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(prompt);
    for task in tasks {
        eat(&task.id);
        eat(&task.name);
        eat(&task.description);
        eat(&task.estimated_duration.to_string());
    }
    format!("plan-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::stream::BoxStream;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    /// A provider that replays fixed deltas and records the requests it got.
    struct Scripted {
        deltas: Vec<Result<Delta, &'static str>>,
        seen: Arc<Mutex<Vec<Completion>>>,
    }

    impl Scripted {
        fn new(deltas: Vec<Result<Delta, &'static str>>) -> Self {
            Scripted {
                deltas,
                seen: Arc::default(),
            }
        }
    }

    impl Provider for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }

        fn complete(&self, request: Completion) -> BoxStream<'static, Result<Delta, LlmError>> {
            self.seen.lock().expect("lock").push(request);
            let deltas: Vec<_> = self
                .deltas
                .iter()
                .map(|delta| {
                    delta.clone().map_err(|message| LlmError::Unavailable {
                        provider: "scripted",
                        message: message.into(),
                    })
                })
                .collect();
            futures::stream::iter(deltas).boxed()
        }
    }

    fn call(name: &str, input: serde_json::Value) -> Result<Delta, &'static str> {
        Ok(Delta::ToolUse {
            id: "toolu_1".into(),
            name: name.into(),
            input,
        })
    }

    fn task() -> PlanTask {
        PlanTask {
            id: "a".into(),
            name: "A".into(),
            description: "does a".into(),
            estimated_duration: 5,
        }
    }

    #[test]
    fn plan_takes_the_first_submit_plan_and_ignores_other_tools() {
        let provider = Scripted::new(vec![
            Ok(Delta::Text("thinking".into())),
            call("other", json!({})),
            call(
                SUBMIT_PLAN,
                json!({"tasks": [
                    {"id": "a", "name": "A", "description": "x", "estimatedDuration": 5},
                    {"id": "b", "name": "B", "description": "y", "estimatedDuration": 7}
                ]}),
            ),
            Err("never reached"),
        ]);
        let plan = block_on(plan(&provider, "p", &[])).expect("plan");
        assert_eq!(plan.tasks.len(), 2);
        assert_eq!(plan.total_estimated_time, 12);
        let seen = provider.seen.lock().expect("lock");
        assert_eq!(seen[0].tools, vec![tools::submit_plan()]);
        assert_eq!(
            (seen[0].prompt.as_str(), seen[0].task.is_none()),
            ("p", true)
        );
    }

    #[test]
    fn plan_without_a_tool_call_says_what_the_model_said() {
        let provider = Scripted::new(vec![Ok(Delta::Text("I cannot do that".into()))]);
        let error = block_on(plan(&provider, "p", &[])).expect_err("no plan");
        assert!(matches!(
            error,
            LlmError::MissingToolCall {
                tool: SUBMIT_PLAN,
                ..
            }
        ));
        assert!(error.to_string().contains("I cannot do that"), "{error}");
        let invalid = Scripted::new(vec![call(SUBMIT_PLAN, json!({"tasks": []}))]);
        assert!(matches!(
            block_on(plan(&invalid, "p", &[])),
            Err(LlmError::InvalidToolInput { .. })
        ));
        let down = Scripted::new(vec![Err("overloaded")]);
        let error = block_on(plan(&down, "p", &[])).expect_err("down");
        assert!(error.is_retryable() && error.to_string().contains("overloaded"));
    }

    #[test]
    fn write_task_collects_files_last_write_wins() {
        let provider = Scripted::new(vec![
            call(WRITE_FILE, json!({"path": "a.txt", "content": "1"})),
            call(WRITE_FILE, json!({"path": "b.txt", "content": "2"})),
            call(WRITE_FILE, json!({"path": "a.txt", "content": "3"})),
        ]);
        let existing = [ProjectFile::new("old.txt", "o")];
        let files = block_on(write_task(&provider, "p", &task(), &existing)).expect("files");
        assert_eq!(
            files,
            [
                ProjectFile::new("a.txt", "3"),
                ProjectFile::new("b.txt", "2")
            ]
        );
        let seen = provider.seen.lock().expect("lock");
        assert_eq!(seen[0].task, Some(task()));
        assert_eq!(seen[0].files, existing);
        assert!(
            seen[0]
                .user_message()
                .contains("<file path=\"old.txt\">\no\n</file>")
        );
    }

    #[test]
    fn write_task_fails_without_files_or_on_bad_input() {
        let silent = Scripted::new(vec![Ok(Delta::Text("done".into()))]);
        let error = block_on(write_task(&silent, "p", &task(), &[])).expect_err("nothing");
        assert!(matches!(
            error,
            LlmError::MissingToolCall {
                tool: WRITE_FILE,
                ..
            }
        ));
        let bad = Scripted::new(vec![call(WRITE_FILE, json!({"path": 3}))]);
        assert!(matches!(
            block_on(write_task(&bad, "p", &task(), &[])),
            Err(LlmError::InvalidToolInput { .. })
        ));
    }

    #[test]
    fn providers_are_object_safe() {
        let provider: Arc<dyn Provider> = Arc::new(crate::OfflineProvider);
        assert_eq!(provider.name(), "offline");
        assert!(block_on(plan(provider.as_ref(), "Create a todo app", &[])).is_ok());
    }
}
