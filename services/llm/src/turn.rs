//! What both HTTP providers have in common at the level of one model turn: the parsed turn
//! (text, tool calls, why it stopped, usage), the [`Dialect`] a provider implements (its
//! request, its stream parser, how the conversation continues after tool calls) and the
//! [`TurnParser`] that reads one response's SSE events.

use eventsource_stream::Event;
use serde_json::Value;

use crate::http::{Fault, SettingNames};
use crate::{Completion, Delta, Settings, Usage};

/// One tool call of a turn, as assembled from the stream.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// The call's id.
    pub id: String,
    /// The tool called.
    pub name: String,
    /// The input as sent (a JSON text), echoed back in the conversation.
    pub arguments: String,
    /// The parsed input, or why it is unusable (not JSON, never completed).
    pub input: Result<Value, String>,
}

/// Why a turn stopped.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Stop {
    /// The model ended its turn (`end_turn`, `stop`, a stop sequence).
    EndTurn,
    /// The model wants tool results (`tool_use`, `tool_calls`).
    ToolUse,
    /// The output limit was hit (`max_tokens`, `length`).
    MaxTokens,
    /// The model or a filter declined (`refusal`, `content_filter`).
    Refusal(String),
    /// Anything else the provider said.
    Other(String),
}

/// One model turn, whole.
#[derive(Clone, Debug)]
pub(crate) struct Turn {
    /// Everything the model said, concatenated.
    pub text: String,
    /// Tool calls in order, including unusable ones (their `input` is `Err`).
    pub calls: Vec<Call>,
    /// Why it stopped.
    pub stop: Stop,
    /// Tokens it used, when the provider said.
    pub usage: Option<Usage>,
}

/// The protocol of one provider.
pub(crate) trait Dialect: Send + Sync + 'static {
    /// Its stream parser.
    type Parser: TurnParser;
    /// `anthropic`, `openai`.
    const NAME: &'static str;
    /// The settings its errors point at.
    const NAMES: SettingNames;

    /// Its settings.
    fn settings(&self) -> &Settings;

    /// The streaming request for `completion` with the conversation so far (`history`:
    /// the messages after the first user message).
    fn request(&self, completion: &Completion, history: &[Value]) -> reqwest::RequestBuilder;

    /// A parser for one response.
    fn parser(&self) -> Self::Parser;

    /// The messages that continue the conversation after `turn`: the assistant's message
    /// as it was, then one result per call (`results`: call id and text).
    fn follow_up(&self, turn: &Turn, results: &[(String, String)]) -> Vec<Value>;
}

/// Reads one response's SSE events into a [`Turn`].
pub(crate) trait TurnParser: Send + 'static {
    /// Takes one event; live deltas (tool progress) go to `live`. `Ok(true)` when the turn
    /// is complete and the rest of the stream is not needed.
    fn event(&mut self, event: &Event, live: &mut Vec<Delta>) -> Result<bool, Fault>;

    /// The turn, once [`TurnParser::event`] said it is complete or the stream ended; a
    /// stream that ended early is a transient fault (a cut).
    fn finish(self) -> Result<Turn, Fault>;
}

/// Whether an `error` payload's type (after a 200) is worth retrying: everything except
/// the client's own mistakes.
pub(crate) fn transient_error_type(kind: &str) -> bool {
    !matches!(
        kind,
        "invalid_request_error"
            | "authentication_error"
            | "permission_error"
            | "not_found_error"
            | "request_too_large"
    )
}

/// A live progress delta for call `id` of tool `name`.
pub(crate) fn progress_delta(id: &str, name: &str, figures: crate::progress::Figures) -> Delta {
    let (path, bytes, lines) = figures;
    Delta::ToolProgress {
        id: id.to_string(),
        name: name.to_string(),
        path,
        bytes,
        lines,
    }
}

/// Parses a finished call's input: empty is `{}` (a tool with no input), otherwise it
/// must be a JSON object.
pub(crate) fn parse_input(arguments: &str) -> Result<Value, String> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err("the input is not a JSON object".into()),
        Err(err) => Err(format!("the input is not valid JSON ({err})")),
    }
}
