//! The crate's one error type, so stages can map every LLM failure to retry-or-fail, and
//! report it with a stable `code` and a `suggestedAction` for people.

/// Why a completion, or the plan / file writing built on it, failed.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The provider could not answer now (network, rate limit, overload, 5xx, a cut or
    /// silent stream) and the retry budget is spent: try again later.
    #[error("{provider} is unavailable: {message}")]
    Unavailable {
        /// The provider's name (`anthropic`, `openai`, `offline`).
        provider: &'static str,
        /// What went wrong, and how many retries were spent.
        message: String,
    },
    /// The provider refused the request (bad key, unknown model, invalid request):
    /// retrying will not help.
    #[error("{provider} refused the request: {message}")]
    Refused {
        /// The provider's name.
        provider: &'static str,
        /// The HTTP status, when the refusal was one (401 and 403: the key).
        status: Option<u16>,
        /// The setting to fix (`ANTHROPIC_API_KEY`, `OPENAI_MODEL`), when known.
        setting: Option<&'static str>,
        /// What it said, naming the setting to fix when known.
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
    /// The model called a tool with input that is not valid JSON or does not match the
    /// tool's schema, or called a tool it was not offered.
    #[error("invalid `{tool}` input: {reason}")]
    InvalidToolInput {
        /// The tool that was called.
        tool: String,
        /// What is wrong with its input.
        reason: String,
    },
    /// The model hit its output limit (`max_tokens`, `finish_reason: length`) before its
    /// answer was whole; nothing of that answer was used.
    #[error(
        "{provider}: the model's answer was cut off at its {max_tokens}-token output limit{}",
        tool.as_ref().map(|tool| format!(" while writing a `{tool}` call")).unwrap_or_default()
    )]
    Truncated {
        /// The provider's name.
        provider: &'static str,
        /// The limit that was hit (`BUILDWIRE_LLM_MAX_TOKENS`).
        max_tokens: u32,
        /// The tool call that was being written, if any.
        tool: Option<String>,
    },
    /// The model kept calling tools for more turns than one step may take.
    #[error("{provider}: the model was still calling tools after {turns} turns")]
    TurnLimit {
        /// The provider's name.
        provider: &'static str,
        /// Turns taken.
        turns: u32,
    },
}

impl LlmError {
    /// Whether asking again may succeed: outages, and model output that a real model may
    /// get right on a second try. `Refused` is final.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, LlmError::Refused { .. })
    }

    /// A stable machine-readable code for `*_failed` events and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            LlmError::Unavailable { .. } => "LLM_UNAVAILABLE",
            LlmError::Refused {
                status: Some(401 | 403),
                ..
            } => "LLM_AUTH",
            LlmError::Refused { .. } => "LLM_REFUSED",
            LlmError::MissingToolCall { .. } => "LLM_NO_TOOL_CALL",
            LlmError::InvalidToolInput { .. } => "LLM_INVALID_TOOL_INPUT",
            LlmError::Truncated { .. } => "LLM_TRUNCATED",
            LlmError::TurnLimit { .. } => "LLM_TURN_LIMIT",
        }
    }

    /// What a person could do about it, for `suggestedAction`.
    pub fn suggested_action(&self) -> String {
        match self {
            LlmError::Unavailable { .. } => "The model provider is busy or unreachable. Try again \
                in a few minutes; operators can raise BUILDWIRE_LLM_RETRIES or BUILDWIRE_LLM_TIMEOUT_MS."
                .into(),
            LlmError::Refused {
                status: Some(401 | 403),
                setting: Some(setting),
                ..
            } => format!("Set a valid {setting}: the provider did not accept the key."),
            LlmError::Refused {
                setting: Some(setting),
                ..
            } => format!("Check {setting}: the provider refused the request."),
            LlmError::Refused { .. } => {
                "Check the LLM settings (BUILDWIRE_LLM, model, base URL): the provider refused \
                 the request."
                    .into()
            }
            LlmError::MissingToolCall { .. } | LlmError::InvalidToolInput { .. } => {
                "Try again, or rephrase the request: the model's answer could not be used.".into()
            }
            LlmError::Truncated { max_tokens, .. } => format!(
                "Raise BUILDWIRE_LLM_MAX_TOKENS (now {max_tokens}) or ask for a smaller change."
            ),
            LlmError::TurnLimit { .. } => {
                "Try again, or split the request into smaller changes.".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_actions_name_what_to_do() {
        let auth = LlmError::Refused {
            provider: "anthropic",
            status: Some(401),
            setting: Some("ANTHROPIC_API_KEY"),
            message: "invalid x-api-key; check ANTHROPIC_API_KEY".into(),
        };
        assert_eq!((auth.code(), auth.is_retryable()), ("LLM_AUTH", false));
        assert!(auth.suggested_action().contains("ANTHROPIC_API_KEY"));
        let cut = LlmError::Truncated {
            provider: "openai",
            max_tokens: 4096,
            tool: Some("write_file".into()),
        };
        assert_eq!((cut.code(), cut.is_retryable()), ("LLM_TRUNCATED", true));
        assert!(
            cut.suggested_action()
                .contains("BUILDWIRE_LLM_MAX_TOKENS (now 4096)")
        );
        assert!(cut.to_string().contains("`write_file`"), "{cut}");
    }
}
