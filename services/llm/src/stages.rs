//! What the plan, execute and build stages call: one completion each, offering one tool,
//! turned into wire types (`Plan`) or files. The `*_observed` forms also hand every delta
//! to a callback as it arrives (live [`Delta::ToolProgress`], [`Delta::Usage`],
//! [`Delta::Retry`]) and return a [`CallSummary`]; the plain forms are the same without.

use std::ops::ControlFlow;

use buildwire_schemas::events::{Plan, PlanTask};
use futures::StreamExt;

use crate::tools::{self, SUBMIT_PLAN, WRITE_FILE};
use crate::{Completion, Delta, LlmError, ProjectFile, Provider, Usage, apply_writes};

/// System instructions for planning (`src/prompts/plan.md`).
pub const PLAN_SYSTEM: &str = include_str!("prompts/plan.md");

/// System instructions for carrying out one task (`src/prompts/write.md`).
pub const WRITE_SYSTEM: &str = include_str!("prompts/write.md");

/// System instructions for fixing a failed build (`src/prompts/fix.md`).
pub const FIX_SYSTEM: &str = include_str!("prompts/fix.md");

/// The id of the task [`fix_build`] hands the model.
pub const FIX_TASK_ID: &str = "fix-build";

/// A callback that sees every delta of a completion as it arrives (sync: push to a
/// channel or a batcher to emit events from it).
pub type Observer<'a> = &'a mut (dyn FnMut(&Delta) + Send);

/// What a stage call used, besides its answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallSummary {
    /// Tokens of every model call it made, summed (provider and model named).
    pub usage: Usage,
    /// Model calls (turns) that reported usage (servers that report none count 0).
    pub calls: u32,
    /// Retries it spent.
    pub retries: u32,
}

impl CallSummary {
    fn see(&mut self, delta: &Delta) {
        match delta {
            Delta::Usage(usage) => {
                self.usage.add(usage);
                self.calls += 1;
            }
            Delta::Retry { .. } => self.retries += 1,
            _ => {}
        }
    }
}

/// Asks `provider` for a plan for `prompt` (a new app when `files` is empty, otherwise a
/// change to those files). The first `submit_plan` call is the answer; none, or an invalid
/// one, is an error. The plan's id is derived from its content, so the same answer gives
/// the same plan.
pub async fn plan(
    provider: &dyn Provider,
    prompt: &str,
    files: &[ProjectFile],
) -> Result<Plan, LlmError> {
    Ok(plan_observed(provider, prompt, files, &mut |_| {}).await?.0)
}

/// [`plan`], handing every delta to `observe` and returning what the call used. The
/// completion is dropped (its request aborted) as soon as `submit_plan` arrives. On an
/// error, the usage so far was seen by `observe` only.
pub async fn plan_observed(
    provider: &dyn Provider,
    prompt: &str,
    files: &[ProjectFile],
    observe: Observer<'_>,
) -> Result<(Plan, CallSummary), LlmError> {
    let completion = Completion {
        system: PLAN_SYSTEM.into(),
        prompt: prompt.into(),
        files: files.to_vec(),
        task: None,
        tools: vec![tools::submit_plan()],
    };
    let reading = read_calls(
        provider,
        completion,
        SUBMIT_PLAN,
        observe,
        &mut |input| {
            let tasks = tools::parse_plan_input(input)?;
            Ok(ControlFlow::Break(Plan {
                id: plan_id(prompt, &tasks),
                total_estimated_time: tasks.iter().map(|task| task.estimated_duration).sum(),
                tasks,
            }))
        },
        &|name| {
            tracing::warn!(provider = provider.name(), tool = %name, "ignoring an unexpected tool call while planning");
        },
    )
    .await?;
    match reading.found {
        Some(plan) => Ok((plan, reading.summary)),
        None => Err(LlmError::MissingToolCall {
            tool: SUBMIT_PLAN,
            detail: replied(&reading.said),
        }),
    }
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
    Ok(
        write_task_observed(provider, prompt, task, files, &mut |_| {})
            .await?
            .0,
    )
}

/// [`write_task`], handing every delta to `observe` (the files being written arrive as
/// [`Delta::ToolProgress`]) and returning what the call used.
pub async fn write_task_observed(
    provider: &dyn Provider,
    prompt: &str,
    task: &PlanTask,
    files: &[ProjectFile],
    observe: Observer<'_>,
) -> Result<(Vec<ProjectFile>, CallSummary), LlmError> {
    write_files(provider, WRITE_SYSTEM, prompt, task, files, observe).await
}

/// Asks `provider` to fix a project whose `npm run build` failed: `log_tail` (the build
/// log's last lines) goes to the model with the project's `files` and the user's
/// `prompt`, under the task [`FIX_TASK_ID`]; returns the files it rewrote, like
/// [`write_task_observed`].
pub async fn fix_build(
    provider: &dyn Provider,
    prompt: &str,
    log_tail: &str,
    files: &[ProjectFile],
    observe: Observer<'_>,
) -> Result<(Vec<ProjectFile>, CallSummary), LlmError> {
    let task = PlanTask {
        id: FIX_TASK_ID.into(),
        name: "Fix the build".into(),
        description: format!("`npm run build` failed. The end of its log:\n{log_tail}"),
        estimated_duration: 30_000,
    };
    write_files(provider, FIX_SYSTEM, prompt, &task, files, observe).await
}

async fn write_files(
    provider: &dyn Provider,
    system: &str,
    prompt: &str,
    task: &PlanTask,
    files: &[ProjectFile],
    observe: Observer<'_>,
) -> Result<(Vec<ProjectFile>, CallSummary), LlmError> {
    let completion = Completion {
        system: system.into(),
        prompt: prompt.into(),
        files: files.to_vec(),
        task: Some(task.clone()),
        tools: vec![tools::write_file()],
    };
    let mut written = Vec::new();
    let reading = read_calls(
        provider,
        completion,
        WRITE_FILE,
        observe,
        &mut |input| {
            let file = tools::parse_write_file(input)?;
            apply_writes(&mut written, std::slice::from_ref(&file));
            Ok(ControlFlow::<()>::Continue(()))
        },
        &|name| {
            tracing::warn!(provider = provider.name(), tool = %name, task = %task.id, "ignoring an unexpected tool call while writing");
        },
    )
    .await?;
    let (said, summary) = (reading.said, reading.summary);
    if written.is_empty() {
        return Err(LlmError::MissingToolCall {
            tool: WRITE_FILE,
            detail: format!("task `{}` wrote no files; {}", task.id, replied(&said)),
        });
    }
    Ok((written, summary))
}

/// One model call as [`read_calls`] read it.
struct Reading<T> {
    /// What `on_call` broke with (`None`: the answer ended first).
    found: Option<T>,
    /// The text the model said on the way.
    said: String,
    /// What the call used.
    summary: CallSummary,
}

/// Sends `completion` to `provider` and reads its answer: every delta goes to `observe`,
/// every call of `tool` (its input) to `on_call`, any other tool's name to `on_other`.
/// Stops (dropping the answer, which aborts its request) once `on_call` breaks.
async fn read_calls<T>(
    provider: &dyn Provider,
    completion: Completion,
    tool: &str,
    observe: Observer<'_>,
    on_call: &mut (dyn FnMut(&serde_json::Value) -> Result<ControlFlow<T>, LlmError> + Send),
    on_other: &(dyn Fn(&str) + Sync),
) -> Result<Reading<T>, LlmError> {
    let mut answer = provider.complete(completion);
    let mut said = String::new();
    let mut summary = CallSummary::default();
    while let Some(delta) = answer.next().await {
        let delta = delta?;
        summary.see(&delta);
        observe(&delta);
        match delta {
            Delta::Text(text) => said.push_str(&text),
            Delta::ToolUse { name, input, .. } if name == tool => {
                if let ControlFlow::Break(found) = on_call(&input)? {
                    return Ok(Reading {
                        found: Some(found),
                        said,
                        summary,
                    });
                }
            }
            Delta::ToolUse { name, .. } => on_other(&name),
            Delta::ToolProgress { .. } | Delta::Usage(_) | Delta::Retry { .. } => {}
        }
    }
    Ok(Reading {
        found: None,
        said,
        summary,
    })
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
