//! The fake OpenAI-compatible Chat Completions API: `POST /v1/chat/completions`, an
//! `Authorization: Bearer` key when the fake has one (local servers have none), answered
//! with `data: {chat.completion.chunk}` frames (content deltas, `tool_calls` deltas whose
//! `arguments` arrive in fragments keyed by `index`, `finish_reason`, a usage chunk with
//! empty `choices`) and `data: [DONE]`, or a public error body (`{"error":{...}}`).

use serde_json::{Value, json};

use crate::server::Protocol;
use crate::{End, Fake, Frame, Recorded, Reply, pieces};

impl Fake {
    /// A fake OpenAI-compatible server; with `api_key`, requests must carry
    /// `Authorization: Bearer <api_key>`. Its [`Fake::base_url`] ends with `/v1`.
    pub async fn openai(api_key: Option<&str>) -> Fake {
        let key = api_key.map(str::to_string);
        Fake::start(Protocol {
            base_path: "/v1",
            check: Box::new(move |request| check(key.as_deref(), request)),
            exhausted: error(
                400,
                "invalid_request_error",
                "buildwire-fakes: the test scripted no more replies",
            ),
        })
        .await
    }
}

fn check(key: Option<&str>, request: &Recorded) -> Option<Reply> {
    if request.method != "POST" || request.path != "/v1/chat/completions" {
        return Some(error(404, "invalid_request_error", "Unknown request URL"));
    }
    if let Some(key) = key
        && request.header("authorization") != Some(format!("Bearer {key}").as_str())
    {
        return Some(Reply::Json {
            status: 401,
            headers: Vec::new(),
            body: json!({"error": {
                "message": "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error", "param": null, "code": "invalid_api_key"
            }})
            .to_string(),
        });
    }
    let body = &request.body;
    if !(body["model"].is_string() && body["messages"].is_array() && body["stream"] == json!(true))
    {
        return Some(error(
            400,
            "invalid_request_error",
            "model, messages and stream: true are required",
        ));
    }
    None
}

/// A public error answer: `{"error":{"message","type","param":null,"code":null}}`.
pub fn error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::Json {
        status,
        headers: Vec::new(),
        body: json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
            .to_string(),
    }
}

/// Token counts of the final usage chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// `prompt_tokens` (cached ones included, as OpenAI counts).
    pub prompt_tokens: u64,
    /// `completion_tokens`.
    pub completion_tokens: u64,
    /// `prompt_tokens_details.cached_tokens`.
    pub cached_tokens: u64,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            prompt_tokens: 1500,
            completion_tokens: 420,
            cached_tokens: 1024,
        }
    }
}

struct Call {
    id: String,
    name: String,
    arguments: String,
    keep: Option<usize>,
}

/// One streamed completion, built part by part; [`Chunks::reply`] renders its frames.
pub struct Chunks {
    text: Vec<String>,
    calls: Vec<Call>,
    interleave: bool,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    done: bool,
    extra: Vec<Frame>,
    interrupt: Option<(Vec<String>, End)>,
    fragment: usize,
}

/// A completion that stops (`finish_reason: stop`, or `tool_calls` once a call is added),
/// reports usage and ends with `data: [DONE]`.
pub fn chunks() -> Chunks {
    Chunks {
        text: Vec::new(),
        calls: Vec::new(),
        interleave: false,
        finish_reason: None,
        usage: Some(Usage::default()),
        done: true,
        extra: Vec::new(),
        interrupt: None,
        fragment: 10,
    }
}

fn data(value: &Value) -> String {
    format!("data: {value}\n\n")
}

fn chunk(delta: Value, finish_reason: Option<&str>) -> Frame {
    Frame::Text(data(&json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": "fake-model", "system_fingerprint": null,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        "usage": null
    })))
}

impl Chunks {
    /// Assistant text.
    pub fn text(mut self, text: &str) -> Chunks {
        self.text.push(text.into());
        self
    }

    /// A complete tool call; `arguments` arrive in fragments.
    pub fn tool_call(self, id: &str, name: &str, arguments: &Value) -> Chunks {
        self.tool_call_raw(id, name, &arguments.to_string())
    }

    /// A tool call whose `arguments` fragments make `raw` (which may be invalid JSON).
    pub fn tool_call_raw(mut self, id: &str, name: &str, raw: &str) -> Chunks {
        self.calls.push(Call {
            id: id.into(),
            name: name.into(),
            arguments: raw.into(),
            keep: None,
        });
        self
    }

    /// A tool call of which only the first `fragments` pieces of arguments are sent.
    pub fn partial_tool_call(
        mut self,
        id: &str,
        name: &str,
        arguments: &Value,
        fragments: usize,
    ) -> Chunks {
        self.calls.push(Call {
            id: id.into(),
            name: name.into(),
            arguments: arguments.to_string(),
            keep: Some(fragments),
        });
        self
    }

    /// Sends the tool calls' fragments interleaved (round robin), told apart by `index`.
    pub fn interleaved(mut self) -> Chunks {
        self.interleave = true;
        self
    }

    /// The final chunk's `finish_reason` (`stop`, `tool_calls`, `length`).
    pub fn finish_reason(mut self, reason: &str) -> Chunks {
        self.finish_reason = Some(reason.into());
        self
    }

    /// Token counts of the usage chunk (`None`: no usage chunk, as some servers do).
    pub fn usage(mut self, usage: Option<Usage>) -> Chunks {
        self.usage = usage;
        self
    }

    /// Whether `data: [DONE]` ends the stream (default true).
    pub fn done(mut self, done: bool) -> Chunks {
        self.done = done;
        self
    }

    /// An SSE comment (`: ...`, as OpenRouter sends while processing) before the content.
    pub fn comment(mut self, text: &str) -> Chunks {
        self.extra.push(Frame::Text(format!(": {text}\n\n")));
        self
    }

    /// Arguments fragments' size in characters (default 10).
    pub fn fragment(mut self, size: usize) -> Chunks {
        self.fragment = size;
        self
    }

    /// After the content: an error object in the stream, then the stream ends.
    pub fn error_chunk(mut self, kind: &str, message: &str) -> Chunks {
        let frame = data(
            &json!({"error": {"message": message, "type": kind, "param": null, "code": null}}),
        );
        self.interrupt = Some((vec![frame], End::Close));
        self
    }

    /// After the content: the connection is cut.
    pub fn cut(mut self) -> Chunks {
        self.interrupt = Some((Vec::new(), End::Cut));
        self
    }

    /// After the content: the stream stays open with SSE comments every 50 ms.
    pub fn hang(mut self) -> Chunks {
        self.interrupt = Some((Vec::new(), End::Hang(": keep-alive\n\n".into())));
        self
    }

    /// After the content: the stream stays open and silent.
    pub fn stall(mut self) -> Chunks {
        self.interrupt = Some((Vec::new(), End::Stall));
        self
    }

    /// The scripted answer: `200 text/event-stream` with the completion's chunks.
    pub fn reply(self) -> Reply {
        let mut frames = self.extra.clone();
        frames.push(chunk(json!({"role": "assistant", "content": ""}), None));
        for text in &self.text {
            for piece in pieces(text, 8) {
                frames.push(chunk(json!({"content": piece}), None));
            }
        }
        let mut streams: Vec<Vec<Value>> =
            self.calls
                .iter()
                .enumerate()
                .map(|(index, call)| {
                    let mut out = vec![json!({"index": index, "id": call.id, "type": "function",
                    "function": {"name": call.name, "arguments": ""}})];
                    let mut fragments = pieces(&call.arguments, self.fragment);
                    fragments.truncate(call.keep.unwrap_or(usize::MAX));
                    out.extend(fragments.into_iter().map(
                        |fragment| json!({"index": index, "function": {"arguments": fragment}}),
                    ));
                    out
                })
                .collect();
        if self.interleave {
            let longest = streams.iter().map(Vec::len).max().unwrap_or(0);
            for step in 0..longest {
                for stream in &streams {
                    if let Some(piece) = stream.get(step) {
                        frames.push(chunk(json!({"tool_calls": [piece]}), None));
                    }
                }
            }
        } else {
            for piece in streams.drain(..).flatten() {
                frames.push(chunk(json!({"tool_calls": [piece]}), None));
            }
        }
        if let Some((tail, end)) = self.interrupt {
            frames.extend(tail.into_iter().map(Frame::Text));
            return Reply::Stream { frames, end };
        }
        let finish = self.finish_reason.clone().unwrap_or_else(|| {
            if self.calls.is_empty() {
                "stop"
            } else {
                "tool_calls"
            }
            .into()
        });
        frames.push(chunk(json!({}), Some(&finish)));
        if let Some(usage) = self.usage {
            frames.push(Frame::Text(data(&json!({
                "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
                "model": "fake-model", "choices": [],
                "usage": {
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                    "total_tokens": usage.prompt_tokens + usage.completion_tokens,
                    "prompt_tokens_details": {"cached_tokens": usage.cached_tokens}
                }
            }))));
        }
        if self.done {
            frames.push(Frame::Text("data: [DONE]\n\n".into()));
        }
        Reply::Stream {
            frames,
            end: End::Close,
        }
    }
}
