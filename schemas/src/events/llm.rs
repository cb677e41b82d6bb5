//! Events of the LLM steps (issue 16): a stage failure with what to do about it, files
//! being written live, and the tokens each step used.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Stage, StageFailure};

/// `plan_failed`, `execute_failed`: why the stage gave up ([`StageFailure`]'s fields) and
/// what to do about it. Derefs to the [`StageFailure`].
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StageFailed {
    /// Code, error, retryable, attempts.
    #[serde(flatten)]
    pub failure: StageFailure,
    /// What the user or the operator could do about it ("Set a valid ANTHROPIC_API_KEY").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_action: Option<String>,
}

impl From<StageFailure> for StageFailed {
    fn from(failure: StageFailure) -> Self {
        StageFailed {
            failure,
            suggested_action: None,
        }
    }
}

impl std::ops::Deref for StageFailed {
    type Target = StageFailure;
    fn deref(&self) -> &StageFailure {
        &self.failure
    }
}

/// `file_progress`: how far the model has written one file of a task (`write_file`
/// streaming), for views such as "Creating src/components/TodoList.tsx... 120 lines".
/// Batched: at most one per file every 250 ms while it grows, plus its final figure; a file
/// written whole within 250 ms has none (its task's `task_completed` lists it).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct FileProgress {
    /// The task writing it (a plan task's id, or `fix-build-<n>` for an auto-fix attempt).
    pub task_id: String,
    /// The file, relative to the project root (as the model wrote it; checked when the
    /// task applies it).
    pub path: String,
    /// Content written so far, in UTF-8 bytes.
    pub bytes: u64,
    /// Content lines written so far (a last line without newline included).
    pub lines: u64,
}

/// Tokens used by LLM calls, as the provider reported them. `inputTokens` excludes cached
/// input, so the whole input is `inputTokens + cacheCreationInputTokens +
/// cacheReadInputTokens`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    /// `anthropic`, `openai`.
    pub provider: String,
    /// The model that answered, as the provider named it.
    pub model: String,
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens written to the prompt cache.
    pub cache_creation_input_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_input_tokens: u64,
    /// Model calls (turns) counted.
    pub calls: u64,
}

impl TokenUsage {
    /// Adds `other`'s counts to these (the first non-empty provider and model are kept).
    pub fn add(&mut self, other: &TokenUsage) {
        if self.provider.is_empty() {
            self.provider.clone_from(&other.provider);
        }
        if self.model.is_empty() {
            self.model.clone_from(&other.model);
        }
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
        self.calls += other.calls;
    }

    /// Whether any token was counted.
    pub fn is_empty(&self) -> bool {
        self.input_tokens == 0
            && self.output_tokens == 0
            && self.cache_creation_input_tokens == 0
            && self.cache_read_input_tokens == 0
    }
}

/// `usage`: the tokens one LLM step used (the plan, one task, one auto-fix attempt), sent
/// once the step's calls are over, whether it succeeded or not. A build's total is the
/// sum, in `GET /v1/builds/{id}` (`usage`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    /// The stage that made the calls (`plan`, `execute`, `build` for auto-fix).
    pub stage: Stage,
    /// The task, for `execute` and auto-fix steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The tokens.
    #[serde(flatten)]
    pub usage: TokenUsage,
    /// Retries the step spent (429, 529, 5xx, cut streams).
    #[serde(default)]
    pub retries: u64,
}
