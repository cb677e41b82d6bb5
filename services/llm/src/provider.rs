//! The provider trait every LLM backend implements (`anthropic`, `offline`), shaped after a
//! streaming, tool-using Messages API so a real model and the offline one are swappable.

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
#[derive(Clone, Debug, PartialEq)]
pub enum Delta {
    /// Text the model says (shown to people as it arrives, never parsed).
    Text(String),
    /// A complete tool call: providers that receive a tool's input in fragments assemble
    /// it and emit it once whole.
    ToolUse {
        /// The call's id (`toolu_...`).
        id: String,
        /// The tool called.
        name: String,
        /// The tool's input, as the model gave it (checked by whoever consumes it).
        input: serde_json::Value,
    },
}

/// An LLM backend. Object safe: stages hold an `Arc<dyn Provider>` chosen by
/// `BUILDWIRE_LLM`.
pub trait Provider: Send + Sync + 'static {
    /// The provider's name (`anthropic`, `offline`), for logs and errors.
    fn name(&self) -> &'static str;

    /// Runs one completion, streaming its answer. The stream owns everything it needs, so
    /// it can outlive `self`'s borrow; an `Err` item ends the answer.
    fn complete(&self, request: Completion) -> BoxStream<'static, Result<Delta, LlmError>>;
}
