//! The fake Anthropic Messages API: `POST /v1/messages` with `x-api-key` and
//! `anthropic-version: 2023-06-01`, answered with the public SSE event sequence
//! (`message_start`, `ping`, `content_block_start` / `content_block_delta` (`text_delta`,
//! `input_json_delta` whose first `partial_json` is empty) / `content_block_stop`,
//! `message_delta` with `stop_reason` and usage, `message_stop`) or a public error body
//! (`{"type":"error","error":{"type":"overloaded_error",...}}`). Faults are scripted with
//! [`Message`]'s builders: `error` events after the 200, cuts, hangs, truncated tool input.

use serde_json::{Value, json};

use crate::server::Protocol;
use crate::{End, Fake, Frame, Recorded, Reply, pieces};

/// The `anthropic-version` the fake accepts (the one buildwire sends).
pub const VERSION: &str = "2023-06-01";

impl Fake {
    /// A fake Anthropic API accepting `api_key` only; its [`Fake::base_url`] has no `/v1`.
    pub async fn anthropic(api_key: &str) -> Fake {
        let key = api_key.to_string();
        Fake::start(Protocol {
            base_path: "",
            check: Box::new(move |request| check(&key, request)),
            exhausted: error(
                400,
                "invalid_request_error",
                "buildwire-fakes: the test scripted no more replies",
            ),
        })
        .await
    }
}

fn check(key: &str, request: &Recorded) -> Option<Reply> {
    if request.method != "POST" || request.path != "/v1/messages" {
        return Some(error(404, "not_found_error", "Not found"));
    }
    if request.header("x-api-key") != Some(key) {
        return Some(error(401, "authentication_error", "invalid x-api-key"));
    }
    if request.header("anthropic-version") != Some(VERSION) {
        return Some(error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required and must be 2023-06-01",
        ));
    }
    let body = &request.body;
    let fields_ok = body["model"].is_string()
        && body["max_tokens"].is_u64()
        && body["messages"].is_array()
        && body["stream"] == json!(true);
    if !fields_ok {
        return Some(error(
            400,
            "invalid_request_error",
            "model, max_tokens, messages and stream: true are required",
        ));
    }
    None
}

/// A public error answer: `{"type":"error","error":{"type":kind,"message":message}}`.
pub fn error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::Json {
        status,
        headers: vec![("request-id".into(), "req_fake".into())],
        body: json!({"type": "error", "error": {"type": kind, "message": message}}).to_string(),
    }
}

/// Token counts the fake reports (`message_start` carries the input side, `message_delta`
/// the output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// `input_tokens`.
    pub input_tokens: u64,
    /// `output_tokens` (sent in `message_delta`).
    pub output_tokens: u64,
    /// `cache_creation_input_tokens`.
    pub cache_creation_input_tokens: u64,
    /// `cache_read_input_tokens`.
    pub cache_read_input_tokens: u64,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            input_tokens: 1200,
            output_tokens: 340,
            cache_creation_input_tokens: 900,
            cache_read_input_tokens: 0,
        }
    }
}

enum Part {
    Text(String),
    Tool {
        id: String,
        name: String,
        json: String,
        /// Fragments sent (all when `None`), and whether `content_block_stop` follows.
        keep: Option<usize>,
        stop: bool,
    },
    Raw(String),
    Pause(std::time::Duration),
}

/// One streamed message, built part by part; [`Message::reply`] renders its frames.
pub struct Message {
    parts: Vec<Part>,
    stop_reason: String,
    usage: Usage,
    /// How the stream ends early, instead of `message_delta` + `message_stop`.
    interrupt: Option<(Vec<String>, End)>,
    fragment: usize,
}

/// A message that ends its turn (`stop_reason: end_turn`) unless told otherwise.
pub fn message() -> Message {
    Message {
        parts: Vec::new(),
        stop_reason: "end_turn".into(),
        usage: Usage::default(),
        interrupt: None,
        fragment: 12,
    }
}

fn sse(kind: &str, data: &Value) -> String {
    format!("event: {kind}\ndata: {data}\n\n")
}

impl Message {
    /// A text block.
    pub fn text(mut self, text: &str) -> Message {
        self.parts.push(Part::Text(text.into()));
        self
    }

    /// A complete `tool_use` block whose input streams in fragments (the first empty).
    pub fn tool_use(mut self, id: &str, name: &str, input: &Value) -> Message {
        self.parts.push(Part::Tool {
            id: id.into(),
            name: name.into(),
            json: input.to_string(),
            keep: None,
            stop: true,
        });
        if self.stop_reason == "end_turn" {
            self.stop_reason = "tool_use".into();
        }
        self
    }

    /// A `tool_use` block whose `partial_json` pieces make `raw` (which may be invalid).
    pub fn tool_use_raw(mut self, id: &str, name: &str, raw: &str) -> Message {
        self.parts.push(Part::Tool {
            id: id.into(),
            name: name.into(),
            json: raw.into(),
            keep: None,
            stop: true,
        });
        self.stop_reason = "tool_use".into();
        self
    }

    /// A `tool_use` block that stops after `fragments` pieces of its input, as when the
    /// model hits `max_tokens`: the block is closed and the message stops with
    /// `stop_reason: max_tokens`.
    pub fn truncated_tool_use(
        mut self,
        id: &str,
        name: &str,
        input: &Value,
        fragments: usize,
    ) -> Message {
        self.parts.push(Part::Tool {
            id: id.into(),
            name: name.into(),
            json: input.to_string(),
            keep: Some(fragments),
            stop: true,
        });
        self.stop_reason = "max_tokens".into();
        self
    }

    /// A `tool_use` block left open after `fragments` pieces (follow with an interrupt:
    /// [`Message::cut`], [`Message::error_event`], [`Message::hang`]).
    pub fn partial_tool_use(
        mut self,
        id: &str,
        name: &str,
        input: &Value,
        fragments: usize,
    ) -> Message {
        self.parts.push(Part::Tool {
            id: id.into(),
            name: name.into(),
            json: input.to_string(),
            keep: Some(fragments),
            stop: false,
        });
        self
    }

    /// A `ping` event here.
    pub fn ping(mut self) -> Message {
        self.parts
            .push(Part::Raw(sse("ping", &json!({"type": "ping"}))));
        self
    }

    /// An event of a type this client has never heard of (must be ignored).
    pub fn unknown_event(mut self) -> Message {
        self.parts.push(Part::Raw(sse(
            "content_block_flourish",
            &json!({"type": "content_block_flourish", "index": 0, "sparkle": true}),
        )));
        self
    }

    /// Silence for `pause` here.
    pub fn pause(mut self, pause: std::time::Duration) -> Message {
        self.parts.push(Part::Pause(pause));
        self
    }

    /// `stop_reason` of the final `message_delta`.
    pub fn stop_reason(mut self, reason: &str) -> Message {
        self.stop_reason = reason.into();
        self
    }

    /// Token counts to report.
    pub fn usage(mut self, usage: Usage) -> Message {
        self.usage = usage;
        self
    }

    /// Input fragments' size in characters (default 12).
    pub fn fragment(mut self, size: usize) -> Message {
        self.fragment = size;
        self
    }

    /// After the parts: an `error` event (after the 200), then the stream ends.
    pub fn error_event(mut self, kind: &str, message: &str) -> Message {
        let frame = sse(
            "error",
            &json!({"type": "error", "error": {"type": kind, "message": message}}),
        );
        self.interrupt = Some((vec![frame], End::Close));
        self
    }

    /// After the parts: the connection is cut.
    pub fn cut(mut self) -> Message {
        self.interrupt = Some((Vec::new(), End::Cut));
        self
    }

    /// After the parts: the stream stays open with `ping`s every 50 ms.
    pub fn hang(mut self) -> Message {
        let ping = sse("ping", &json!({"type": "ping"}));
        self.interrupt = Some((Vec::new(), End::Hang(ping)));
        self
    }

    /// After the parts: the stream stays open and silent.
    pub fn stall(mut self) -> Message {
        self.interrupt = Some((Vec::new(), End::Stall));
        self
    }

    /// The scripted answer: `200 text/event-stream` with the message's frames.
    pub fn reply(self) -> Reply {
        let mut frames = vec![Frame::Text(sse(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "content": [],
                "model": "claude-fake", "stop_reason": null, "stop_sequence": null,
                "usage": {
                    "input_tokens": self.usage.input_tokens,
                    "cache_creation_input_tokens": self.usage.cache_creation_input_tokens,
                    "cache_read_input_tokens": self.usage.cache_read_input_tokens,
                    "output_tokens": 1
                }
            }}),
        ))];
        frames.push(Frame::Text(sse("ping", &json!({"type": "ping"}))));
        let mut index = 0;
        for part in &self.parts {
            match part {
                Part::Raw(text) => frames.push(Frame::Text(text.clone())),
                Part::Pause(pause) => frames.push(Frame::Pause(*pause)),
                Part::Text(text) => {
                    frames.push(block_start(index, json!({"type": "text", "text": ""})));
                    for piece in pieces(text, 8) {
                        frames.push(block_delta(
                            index,
                            json!({"type": "text_delta", "text": piece}),
                        ));
                    }
                    frames.push(block_stop(index));
                    index += 1;
                }
                Part::Tool {
                    id,
                    name,
                    json: input,
                    keep,
                    stop,
                } => {
                    frames.push(block_start(
                        index,
                        json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                    ));
                    let mut fragments = vec![String::new()];
                    fragments.extend(pieces(input, self.fragment));
                    fragments.truncate(keep.map_or(usize::MAX, |keep| keep + 1));
                    for fragment in fragments {
                        frames.push(block_delta(
                            index,
                            json!({"type": "input_json_delta", "partial_json": fragment}),
                        ));
                    }
                    if *stop {
                        frames.push(block_stop(index));
                    }
                    index += 1;
                }
            }
        }
        if let Some((tail, end)) = self.interrupt {
            frames.extend(tail.into_iter().map(Frame::Text));
            return Reply::Stream { frames, end };
        }
        frames.push(Frame::Text(sse(
            "message_delta",
            &json!({"type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": null},
                "usage": {"output_tokens": self.usage.output_tokens}}),
        )));
        frames.push(Frame::Text(sse(
            "message_stop",
            &json!({"type": "message_stop"}),
        )));
        Reply::Stream {
            frames,
            end: End::Close,
        }
    }
}

fn block_start(index: usize, block: Value) -> Frame {
    Frame::Text(sse(
        "content_block_start",
        &json!({"type": "content_block_start", "index": index, "content_block": block}),
    ))
}

fn block_delta(index: usize, delta: Value) -> Frame {
    Frame::Text(sse(
        "content_block_delta",
        &json!({"type": "content_block_delta", "index": index, "delta": delta}),
    ))
}

fn block_stop(index: usize) -> Frame {
    Frame::Text(sse(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": index}),
    ))
}
