//! The provider trait every LLM backend implements (`anthropic`, `openai`, `offline`), shaped
//! after a streaming, tool-using Messages API so a real model and the offline one are
//! swappable, and the deltas a completion streams: text, finished tool calls, live progress
//! of a tool call being written, token usage, retries.

use std::time::Duration;

use buildwire_schemas::events::PlanTask;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::{LlmError, ProjectFile};

/// A tool the model may call, in the Messages API's shape (`name`, `description`,
/// `input_schema`), so a provider can send it as is.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ToolSpec {
    /// The tool's name (`submit_plan`, `write_file`).
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON Schema of the tool's input object.
    pub input_schema: serde_json::Value,
}

/// One request to a provider: instructions, the user's words, the project as it stands,
/// the plan task being worked on (when writing code) and the tools on offer.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// System instructions.
    pub system: String,
    /// The user's request ("Create a todo app with dark mode", "Add a search feature").
    pub prompt: String,
    /// The project's current files (empty for a new project).
    pub files: Vec<ProjectFile>,
    /// The plan task to carry out, when writing code for one.
    pub task: Option<PlanTask>,
    /// Tools the model may call.
    pub tools: Vec<ToolSpec>,
}

impl Completion {
    /// Whether a tool named `name` is on offer.
    pub fn offers(&self, name: &str) -> bool {
        self.tools.iter().any(|tool| tool.name == name)
    }

    /// The user turn a chat-style provider sends: the project's files, the task and the
    /// request, in tagged sections. Providers that speak a Messages API use this so every
    /// one of them shows the model the same thing.
    pub fn user_message(&self) -> String {
        let mut out = String::new();
        if self.files.is_empty() {
            out.push_str("<project>(new project, no files yet)</project>\n");
        } else {
            out.push_str("<project>\n");
            for file in &self.files {
                out.push_str(&format!(
                    "<file path=\"{}\">\n{}\n</file>\n",
                    file.path, file.content
                ));
            }
            out.push_str("</project>\n");
        }
        if let Some(task) = &self.task {
            out.push_str(&format!(
                "<task id=\"{}\" name=\"{}\">\n{}\n</task>\n",
                task.id, task.name, task.description
            ));
        }
        out.push_str(&format!("<request>\n{}\n</request>\n", self.prompt));
        out
    }
}

/// One piece of a provider's streamed answer.
///
/// Order and guarantees: `ToolProgress` and `Retry` are live signals; everything else of a
/// model turn (its `Text`, its `ToolUse` calls, its `Usage`) is emitted once the turn has
/// arrived whole, so a turn retried after a fault never emits a call twice and a truncated
/// turn emits none. After a `Retry`, progress of the restarted turn starts again from zero.
#[derive(Clone, Debug, PartialEq)]
pub enum Delta {
    /// Text the model says (shown to people, never parsed).
    Text(String),
    /// A complete tool call: providers that receive a tool's input in fragments assemble
    /// it and emit it once whole.
    ToolUse {
        /// The call's id (`toolu_...`, `call_...`).
        id: String,
        /// The tool called.
        name: String,
        /// The tool's input, as the model gave it (checked by whoever consumes it).
        input: serde_json::Value,
    },
    /// A tool call still being written, for live views ("Creating src/App.tsx... 120
    /// lines"). For `write_file`, `path` appears once the model has written it whole, and
    /// `bytes` / `lines` count the decoded `content` so far (UTF-8 bytes; lines like an
    /// editor shows them, a last line without newline included). For other tools `path`
    /// is `None`, `bytes` counts the raw input JSON and `lines` is 0. Sent when the path
    /// becomes known, a line grows the count, every 2 KiB otherwise, and once when the
    /// call's input is complete; consumers batch them for viewers.
    ToolProgress {
        /// The call's id, the same as its later `ToolUse`.
        id: String,
        /// The tool being called.
        name: String,
        /// `write_file`'s `path`, once complete.
        path: Option<String>,
        /// Content bytes so far.
        bytes: u64,
        /// Content lines so far.
        lines: u64,
    },
    /// Tokens one model call used (one per turn of the tool loop), as the provider
    /// reported them.
    Usage(Usage),
    /// The provider failed (429, 529, 5xx, an `error` event, a cut or silent stream) and
    /// the turn is being retried from its start after `wait`; `attempt` counts retries
    /// of this completion from 1.
    Retry {
        /// Retries so far in this completion, this one included.
        attempt: u32,
        /// How long the provider waits before trying again.
        wait: Duration,
        /// What failed.
        reason: String,
    },
}

/// Tokens used by one model call (or, summed with [`Usage::add`], by several), named by
/// provider and model so they can be priced. `input_tokens` excludes cached input on both
/// providers (OpenAI's `prompt_tokens` minus its `cached_tokens`), so the total input is
/// `input_tokens + cache_creation_input_tokens + cache_read_input_tokens`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// `anthropic`, `openai`, `offline`.
    pub provider: &'static str,
    /// The model that answered, as the provider named it in its answer, else as
    /// configured (`claude-sonnet-4-5-20250929`, `qwen2.5-coder`).
    pub model: String,
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens written to the prompt cache (Anthropic; 0 elsewhere).
    pub cache_creation_input_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_input_tokens: u64,
}

impl Usage {
    /// Adds `other`'s counts to these (the first non-empty provider and model are kept).
    pub fn add(&mut self, other: &Usage) {
        if self.provider.is_empty() {
            self.provider = other.provider;
        }
        if self.model.is_empty() {
            self.model.clone_from(&other.model);
        }
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
    }
}

/// An LLM backend. Object safe: stages hold an `Arc<dyn Provider>` chosen by
/// `BUILDWIRE_LLM`.
pub trait Provider: Send + Sync + 'static {
    /// The provider's name (`anthropic`, `openai`, `offline`), for logs and errors.
    fn name(&self) -> &'static str;

    /// Runs one completion, streaming its answer. The stream owns everything it needs, so
    /// it can outlive `self`'s borrow; an `Err` item ends the answer. Dropping the stream
    /// cancels the completion: an HTTP provider's request is aborted at once.
    fn complete(&self, request: Completion) -> BoxStream<'static, Result<Delta, LlmError>>;
}
