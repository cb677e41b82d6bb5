//! The crate's one error type, so stages can map every LLM failure to retry-or-fail.

/// Why a completion, or the plan / file writing built on it, failed.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The provider could not answer now (network, rate limit, overload, 5xx): try again later.
    #[error("{provider} is unavailable: {message}")]
    Unavailable {
        /// The provider's name (`anthropic`, `offline`).
        provider: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The provider refused the request (bad key, invalid request): retrying will not help.
    #[error("{provider} refused the request: {message}")]
    Refused {
        /// The provider's name.
        provider: &'static str,
        /// What it said.
        message: String,
    },
    /// The model answered without calling the tool the step needs (for example no
    /// `submit_plan`, or no `write_file` for a task).
    #[error("the model did not call `{tool}`: {detail}")]
    MissingToolCall {
        /// The tool that was expected.
        tool: &'static str,
        /// What arrived instead.
        detail: String,
    },
    /// The model called a tool with input that does not match the tool's schema.
    #[error("invalid `{tool}` input: {reason}")]
    InvalidToolInput {
        /// The tool that was called.
        tool: String,
        /// What is wrong with its input.
        reason: String,
    },
}

impl LlmError {
    /// Whether asking again may succeed: outages, and model output that a real model may
    /// get right on a second try. `Refused` is final.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, LlmError::Refused { .. })
    }
}
