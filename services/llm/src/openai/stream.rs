//! Reads a Chat Completions stream into a turn: `data: {chunk}` frames whose
//! `choices[0].delta` carries `content` and `tool_calls` fragments keyed by `index` (the
//! first with `id` and `function.name`, then `function.arguments` pieces), a
//! `finish_reason`, a usage chunk with empty `choices`, and `data: [DONE]`. SSE comments
//! and unknown fields are ignored; an `error` object in the stream is a fault; a stream
//! that ends before any `finish_reason` was cut.

use std::collections::BTreeMap;

use eventsource_stream::Event;
use serde_json::Value;

use crate::http::Fault;
use crate::progress::Progress;
use crate::turn::{
    Call, Stop, Turn, TurnParser, parse_input, progress_delta, transient_error_type,
};
use crate::{Delta, LlmError, Usage};

#[derive(Default)]
struct Pending {
    id: String,
    name: String,
    arguments: String,
    progress: Progress,
}

/// The parser of one Chat Completions response.
pub(crate) struct Parser {
    model: String,
    text: String,
    calls: BTreeMap<u64, Pending>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    done: bool,
}

impl Parser {
    pub(crate) fn new(model: &str) -> Parser {
        Parser {
            model: model.to_string(),
            text: String::new(),
            calls: BTreeMap::new(),
            finish_reason: None,
            usage: None,
            done: false,
        }
    }

    fn tool_fragments(&mut self, fragments: &[Value], live: &mut Vec<Delta>) {
        for (position, fragment) in fragments.iter().enumerate() {
            let index = fragment["index"].as_u64().unwrap_or(position as u64);
            let call = self.calls.entry(index).or_default();
            if let Some(id) = fragment["id"].as_str().filter(|id| !id.is_empty())
                && call.id.is_empty()
            {
                call.id = id.to_string();
            }
            let function = &fragment["function"];
            if let Some(name) = function["name"].as_str().filter(|name| !name.is_empty()) {
                call.name = name.to_string();
            }
            let piece = match &function["arguments"] {
                Value::String(piece) => piece.clone(),
                Value::Null => String::new(),
                whole => whole.to_string(), // some servers send the object itself
            };
            if piece.is_empty() {
                continue;
            }
            call.arguments.push_str(&piece);
            if let Some(figures) = call.progress.feed(&call.name, &piece) {
                live.push(progress_delta(
                    &call_id(index, &call.id),
                    &call.name,
                    figures,
                ));
            }
        }
    }

    fn read_usage(&mut self, usage: &Value) {
        if !usage.is_object() {
            return;
        }
        let count = |value: &Value| value.as_u64().unwrap_or(0);
        let prompt = count(&usage["prompt_tokens"]);
        let cached = count(&usage["prompt_tokens_details"]["cached_tokens"]).min(prompt);
        self.usage = Some(Usage {
            provider: "openai",
            model: self.model.clone(),
            input_tokens: prompt - cached,
            output_tokens: count(&usage["completion_tokens"]),
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: cached,
        });
    }
}

/// The call's id, or a stand-in for servers that send none.
fn call_id(index: u64, id: &str) -> String {
    if id.is_empty() {
        format!("call_{index}")
    } else {
        id.to_string()
    }
}

impl TurnParser for Parser {
    fn event(&mut self, event: &Event, live: &mut Vec<Delta>) -> Result<bool, Fault> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|err| Fault::transient(format!("a malformed stream chunk ({err})")))?;
        if chunk["error"].is_object() {
            return Err(error_chunk(&chunk["error"]));
        }
        if let Some(model) = chunk["model"].as_str().filter(|model| !model.is_empty()) {
            self.model = model.to_string();
        }
        self.read_usage(&chunk["usage"]);
        let Some(choice) = chunk["choices"]
            .as_array()
            .and_then(|choices| choices.first())
        else {
            return Ok(false);
        };
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str() {
            self.text.push_str(text);
        }
        if let Some(fragments) = delta["tool_calls"].as_array() {
            self.tool_fragments(fragments, live);
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_string());
            for (index, call) in &mut self.calls {
                if let Some(figures) = call.progress.finish(&call.name) {
                    live.push(progress_delta(
                        &call_id(*index, &call.id),
                        &call.name,
                        figures,
                    ));
                }
            }
        }
        Ok(false)
    }

    fn finish(self) -> Result<Turn, Fault> {
        let Some(reason) = self.finish_reason else {
            return Err(Fault::transient(if self.done {
                "the stream ended with [DONE] but no finish_reason"
            } else {
                "the stream ended before a finish_reason (connection cut)"
            }));
        };
        let calls: Vec<Call> = self
            .calls
            .into_iter()
            .map(|(index, call)| Call {
                id: call_id(index, &call.id),
                input: if call.name.is_empty() {
                    Err("the call names no tool".into())
                } else {
                    parse_input(&call.arguments)
                },
                name: call.name,
                arguments: call.arguments,
            })
            .collect();
        let stop = match reason.as_str() {
            "stop" => Stop::EndTurn,
            "tool_calls" | "function_call" => Stop::ToolUse,
            "length" => Stop::MaxTokens,
            "content_filter" => Stop::Refusal("finish_reason: content_filter".into()),
            other => Stop::Other(other.into()),
        };
        Ok(Turn {
            text: self.text,
            calls,
            stop,
            usage: self.usage,
        })
    }
}

/// An error object inside the stream: server-side failures are retried, the client's own
/// mistakes are final.
fn error_chunk(error: &Value) -> Fault {
    let kind = error["type"]
        .as_str()
        .or(error["code"].as_str())
        .unwrap_or("server_error");
    let message = error["message"].as_str().unwrap_or_default();
    let reason = format!("an error in the stream: {kind}: {message}");
    if transient_error_type(kind) {
        Fault::transient(reason)
    } else {
        Fault::Fatal(LlmError::Refused {
            provider: "openai",
            status: None,
            setting: None,
            message: reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::WRITE_FILE;

    fn event(data: &str) -> Event {
        Event {
            event: "message".into(),
            data: data.into(),
            id: String::new(),
            retry: None,
        }
    }

    #[test]
    fn fragments_keyed_by_index_assemble_even_interleaved() {
        let mut parser = Parser::new("m");
        let mut live = Vec::new();
        for data in [
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"write_file","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"write_file","arguments":"{\"path\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"path\":\"b\",\"content\":\"\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"a\",\"content\":\"x\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ] {
            parser.event(&event(data), &mut live).expect("event");
        }
        let turn = parser.finish().expect("turn");
        let paths: Vec<_> = turn
            .calls
            .iter()
            .map(|c| c.input.as_ref().expect("json")["path"].clone())
            .collect();
        assert_eq!(paths, ["a", "b"]);
        assert_eq!(turn.stop, Stop::ToolUse);
        assert!(live.iter().any(
            |d| matches!(d, Delta::ToolProgress { id, path: Some(p), .. } if id == "b" && p == "b")
        ));
        assert_eq!(WRITE_FILE, turn.calls[0].name);
    }
}
