//! Reads a Messages API stream into a turn: `message_start` (model, input usage),
//! `content_block_start` / `content_block_delta` (`text_delta`, `input_json_delta`, the
//! first `partial_json` possibly empty) / `content_block_stop`, `message_delta`
//! (`stop_reason`, output usage), `message_stop`. `ping`s and unknown event or delta types
//! are ignored; an `error` event is a fault (retried unless it is the client's mistake);
//! a stream that ends before `message_stop` was cut.

use std::collections::BTreeMap;

use eventsource_stream::Event;
use serde_json::Value;

use crate::http::Fault;
use crate::progress::Progress;
use crate::turn::{
    Call, Stop, Turn, TurnParser, parse_input, progress_delta, transient_error_type,
};
use crate::{Delta, LlmError, Usage};

enum Block {
    Text(String),
    Tool {
        id: String,
        name: String,
        json: String,
        progress: Box<Progress>,
        done: bool,
    },
    Other,
}

/// The parser of one Messages API response.
pub(crate) struct Parser {
    usage: Usage,
    started: bool,
    blocks: BTreeMap<u64, Block>,
    stop_reason: Option<String>,
    stopped: bool,
}

impl Parser {
    pub(crate) fn new(model: &str) -> Parser {
        Parser {
            usage: Usage {
                provider: "anthropic",
                model: model.to_string(),
                ..Usage::default()
            },
            started: false,
            blocks: BTreeMap::new(),
            stop_reason: None,
            stopped: false,
        }
    }

    fn read_usage(&mut self, usage: &Value) {
        let set = |field: &str, into: &mut u64| {
            if let Some(n) = usage[field].as_u64() {
                *into = n;
            }
        };
        set("input_tokens", &mut self.usage.input_tokens);
        set("output_tokens", &mut self.usage.output_tokens);
        set(
            "cache_creation_input_tokens",
            &mut self.usage.cache_creation_input_tokens,
        );
        set(
            "cache_read_input_tokens",
            &mut self.usage.cache_read_input_tokens,
        );
    }
}

fn malformed(kind: &str, err: &serde_json::Error) -> Fault {
    Fault::transient(format!("a malformed `{kind}` event ({err})"))
}

impl TurnParser for Parser {
    fn event(&mut self, event: &Event, live: &mut Vec<Delta>) -> Result<bool, Fault> {
        let kind = event.event.as_str();
        if !matches!(
            kind,
            "message_start"
                | "content_block_start"
                | "content_block_delta"
                | "content_block_stop"
                | "message_delta"
                | "message_stop"
                | "error"
        ) {
            return Ok(false); // `ping`, and event types newer than this client
        }
        let data: Value = serde_json::from_str(&event.data).map_err(|err| malformed(kind, &err))?;
        let index = data["index"].as_u64().unwrap_or(0);
        match kind {
            "message_start" => {
                self.started = true;
                let message = &data["message"];
                if let Some(model) = message["model"].as_str().filter(|m| !m.is_empty()) {
                    self.usage.model = model.to_string();
                }
                self.read_usage(&message["usage"]);
            }
            "content_block_start" => {
                let block = &data["content_block"];
                let block = match block["type"].as_str() {
                    Some("text") => Block::Text(block["text"].as_str().unwrap_or_default().into()),
                    Some("tool_use") => Block::Tool {
                        id: block["id"].as_str().unwrap_or_default().into(),
                        name: block["name"].as_str().unwrap_or_default().into(),
                        json: String::new(),
                        progress: Box::default(),
                        done: false,
                    },
                    _ => Block::Other,
                };
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match (self.blocks.get_mut(&index), delta["type"].as_str()) {
                    (Some(Block::Text(text)), Some("text_delta")) => {
                        text.push_str(delta["text"].as_str().unwrap_or_default());
                    }
                    (
                        Some(Block::Tool {
                            id,
                            name,
                            json,
                            progress,
                            ..
                        }),
                        Some("input_json_delta"),
                    ) => {
                        let fragment = delta["partial_json"].as_str().unwrap_or_default();
                        json.push_str(fragment);
                        if let Some(figures) = progress.feed(name, fragment) {
                            live.push(progress_delta(id, name, figures));
                        }
                    }
                    _ => {} // thinking, citations, signatures: not used
                }
            }
            "content_block_stop" => {
                if let Some(Block::Tool {
                    id,
                    name,
                    progress,
                    done,
                    ..
                }) = self.blocks.get_mut(&index)
                {
                    *done = true;
                    if let Some(figures) = progress.finish(name) {
                        live.push(progress_delta(id, name, figures));
                    }
                }
            }
            "message_delta" => {
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(reason.to_string());
                }
                self.read_usage(&data["usage"]);
            }
            "message_stop" => {
                self.stopped = true;
                return Ok(true);
            }
            _ => return Err(error_event(&data)),
        }
        Ok(false)
    }

    fn finish(self) -> Result<Turn, Fault> {
        if !self.stopped {
            return Err(Fault::transient(
                "the stream ended before `message_stop` (connection cut)",
            ));
        }
        let mut text = String::new();
        let mut calls = Vec::new();
        for block in self.blocks.into_values() {
            match block {
                Block::Text(said) => text.push_str(&said),
                Block::Tool {
                    id,
                    name,
                    json,
                    done,
                    ..
                } => {
                    let input = if done {
                        parse_input(&json)
                    } else {
                        Err("its input never completed".into())
                    };
                    calls.push(Call {
                        id,
                        name,
                        arguments: json,
                        input,
                    });
                }
                Block::Other => {}
            }
        }
        let stop = match self.stop_reason.as_deref() {
            Some("end_turn" | "stop_sequence") => Stop::EndTurn,
            Some("tool_use") => Stop::ToolUse,
            Some("max_tokens") => Stop::MaxTokens,
            Some("refusal") => Stop::Refusal("stop_reason: refusal".into()),
            Some(other) => Stop::Other(other.into()),
            None => Stop::Other("no stop_reason".into()),
        };
        Ok(Turn {
            text,
            calls,
            stop,
            usage: self.started.then_some(self.usage),
        })
    }
}

/// An `error` event after the 200: `overloaded_error`, `api_error` and the like are
/// retried; the client's own mistakes are final.
fn error_event(data: &Value) -> Fault {
    let kind = data["error"]["type"].as_str().unwrap_or("unknown_error");
    let message = data["error"]["message"].as_str().unwrap_or_default();
    let reason = format!("an `error` event in the stream: {kind}: {message}");
    if transient_error_type(kind) {
        Fault::transient(reason)
    } else {
        Fault::Fatal(LlmError::Refused {
            provider: "anthropic",
            status: None,
            setting: None,
            message: reason,
        })
    }
}
