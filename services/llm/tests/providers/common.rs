//! Shared pieces of the provider tests: a fake plus the real provider pointed at it, with
//! short backoffs, and scripted turns written once for both protocols.

use std::sync::Arc;
use std::time::Duration;

use buildwire_fakes::{Fake, Reply, anthropic, openai};
use buildwire_llm::{
    AnthropicProvider, CallSummary, Completion, Delta, LlmError, OpenAiProvider, ProjectFile,
    Provider, Settings, plan_observed, tools, write_task_observed,
};
use buildwire_schemas::events::{Plan, PlanTask};
use futures::StreamExt;
use serde_json::{Value, json};

/// The API key the fakes accept.
pub const KEY: &str = "sk-test-key";

/// Which provider a test drives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Which {
    Anthropic,
    OpenAi,
}

pub const BOTH: [Which; 2] = [Which::Anthropic, Which::OpenAi];

/// A fake and the real provider configured for it.
pub struct Kit {
    pub which: Which,
    pub fake: Fake,
    pub provider: Arc<dyn Provider>,
}

/// Test settings: 5 ms first backoff, 3 retries, a 2 s timeout.
pub fn settings(base_url: String, key: Option<&str>) -> Settings {
    let mut settings = Settings::new(base_url, "model-under-test");
    settings.api_key = key.map(str::to_string);
    settings.max_tokens = 4096;
    settings.temperature = Some(0.2);
    settings.timeout = Duration::from_secs(2);
    settings.retries = 3;
    settings.backoff = Duration::from_millis(5);
    settings.max_backoff = Duration::from_secs(2);
    settings
}

impl Kit {
    pub async fn new(which: Which) -> Kit {
        Kit::with(which, |_| {}).await
    }

    /// A kit whose settings `tweak` adjusts.
    pub async fn with(which: Which, tweak: impl FnOnce(&mut Settings)) -> Kit {
        let fake = match which {
            Which::Anthropic => Fake::anthropic(KEY).await,
            Which::OpenAi => Fake::openai(Some(KEY)).await,
        };
        let mut settings = settings(fake.base_url(), Some(KEY));
        tweak(&mut settings);
        let provider: Arc<dyn Provider> = match which {
            Which::Anthropic => Arc::new(AnthropicProvider::new(settings).expect("provider")),
            Which::OpenAi => Arc::new(OpenAiProvider::new(settings).expect("provider")),
        };
        Kit {
            which,
            fake,
            provider,
        }
    }

    /// A turn that writes `files` (`(id, path, content)`) and asks for tool results.
    pub fn writes(&self, files: &[(&str, &str, &str)]) -> Reply {
        match self.which {
            Which::Anthropic => files
                .iter()
                .fold(
                    anthropic::message().text("Writing."),
                    |m, (id, path, content)| {
                        m.tool_use(id, tools::WRITE_FILE, &file(path, content))
                    },
                )
                .reply(),
            Which::OpenAi => files
                .iter()
                .fold(
                    openai::chunks().text("Writing."),
                    |c, (id, path, content)| {
                        c.tool_call(id, tools::WRITE_FILE, &file(path, content))
                    },
                )
                .reply(),
        }
    }

    /// A turn that ends the model's turn with `text`.
    pub fn ends(&self, text: &str) -> Reply {
        match self.which {
            Which::Anthropic => anthropic::message().text(text).reply(),
            Which::OpenAi => openai::chunks().text(text).reply(),
        }
    }

    /// An error answer with the protocol's body (`kind` is its error type).
    pub fn status(&self, status: u16, kind: &str) -> Reply {
        match self.which {
            Which::Anthropic => anthropic::error(status, kind, "scripted failure"),
            Which::OpenAi => openai::error(status, kind, "scripted failure"),
        }
    }

    /// The provider's `*_API_KEY` setting name.
    pub fn key_setting(&self) -> &'static str {
        match self.which {
            Which::Anthropic => "ANTHROPIC_API_KEY",
            Which::OpenAi => "OPENAI_API_KEY",
        }
    }

    /// Plans `prompt` (no files) through the provider: the plan, what it used, and every
    /// delta it saw.
    pub async fn plan(&self, prompt: &str) -> (Plan, CallSummary, Vec<Delta>) {
        let mut seen = Vec::new();
        let (plan, summary) = plan_observed(self.provider.as_ref(), prompt, &[], &mut |d| {
            seen.push(d.clone())
        })
        .await
        .expect("plan");
        (plan, summary, seen)
    }

    /// Carries out [`task`] of `prompt` over `files` through the provider: the files
    /// written, what it used, and every delta it saw.
    pub async fn write(
        &self,
        prompt: &str,
        files: &[ProjectFile],
    ) -> (Vec<ProjectFile>, CallSummary, Vec<Delta>) {
        let mut seen = Vec::new();
        let (written, summary) =
            write_task_observed(self.provider.as_ref(), prompt, &task(), files, &mut |d| {
                seen.push(d.clone())
            })
            .await
            .expect("files");
        (written, summary, seen)
    }

    /// Runs a write completion and collects everything it streams.
    pub async fn run(&self, files: &[ProjectFile]) -> (Vec<Delta>, Option<LlmError>) {
        collect(self.provider.complete(write_completion(files))).await
    }
}

/// `write_file` input.
pub fn file(path: &str, content: &str) -> Value {
    json!({"path": path, "content": content})
}

/// `write_file` input as a model writes it: `path` first, then `content`.
pub fn file_json(path: &str, content: &str) -> String {
    format!(
        "{{\"path\": {}, \"content\": {}}}",
        json!(path),
        json!(content)
    )
}

/// A plan task.
pub fn task() -> PlanTask {
    PlanTask {
        id: "components".into(),
        name: "Components".into(),
        description: "Writes the list and its items".into(),
        estimated_duration: 20_000,
    }
}

/// A completion offering `write_file` for [`task`].
pub fn write_completion(files: &[ProjectFile]) -> Completion {
    Completion {
        system: buildwire_llm::stages::WRITE_SYSTEM.into(),
        prompt: "Create a todo app".into(),
        files: files.to_vec(),
        task: Some(task()),
        tools: vec![tools::write_file()],
    }
}

/// Every delta until the stream ends; the error that ended it, if any.
pub async fn collect(
    mut stream: futures::stream::BoxStream<'static, Result<Delta, LlmError>>,
) -> (Vec<Delta>, Option<LlmError>) {
    let mut deltas = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(delta) => deltas.push(delta),
            Err(error) => {
                assert!(stream.next().await.is_none(), "an error ends the stream");
                return (deltas, Some(error));
            }
        }
    }
    (deltas, None)
}

/// The ids of the tool calls emitted, in order.
pub fn call_ids(deltas: &[Delta]) -> Vec<String> {
    deltas
        .iter()
        .filter_map(|delta| match delta {
            Delta::ToolUse { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect()
}

/// The retries announced.
pub fn retries(deltas: &[Delta]) -> Vec<(Duration, String)> {
    deltas
        .iter()
        .filter_map(|delta| match delta {
            Delta::Retry { wait, reason, .. } => Some((*wait, reason.clone())),
            _ => None,
        })
        .collect()
}
