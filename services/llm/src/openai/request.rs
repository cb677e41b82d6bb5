//! Chat Completions request bodies: model, `max_tokens` (the field every compatible server
//! reads), `stream: true` with `stream_options.include_usage`, the system and user
//! messages, tools as functions, and the conversation after tool calls (`role: "tool"`).

use serde_json::{Value, json};

use crate::turn::Turn;
use crate::{Completion, Settings};

/// The request body for `completion` with the conversation so far.
pub(crate) fn body(settings: &Settings, completion: &Completion, history: &[Value]) -> Value {
    let mut messages = Vec::with_capacity(history.len() + 2);
    if !completion.system.trim().is_empty() {
        messages.push(json!({"role": "system", "content": completion.system}));
    }
    messages.push(json!({"role": "user", "content": completion.user_message()}));
    messages.extend(history.iter().cloned());
    let mut body = json!({
        "model": settings.model,
        "messages": messages,
        "max_tokens": settings.max_tokens,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if let Some(temperature) = settings.temperature {
        body["temperature"] = json!(temperature);
    }
    if !completion.tools.is_empty() {
        body["tools"] = completion
            .tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.input_schema,
                }})
            })
            .collect();
    }
    body
}

/// The assistant message with its `tool_calls` as received, then one `role: "tool"`
/// message per call.
pub(crate) fn follow_up(turn: &Turn, results: &[(String, String)]) -> Vec<Value> {
    let calls: Vec<Value> = turn
        .calls
        .iter()
        .map(|call| {
            json!({"id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": call.arguments}})
        })
        .collect();
    let content = if turn.text.is_empty() {
        Value::Null
    } else {
        Value::String(turn.text.clone())
    };
    let mut messages = vec![json!({"role": "assistant", "content": content, "tool_calls": calls})];
    messages.extend(
        results
            .iter()
            .map(|(id, text)| json!({"role": "tool", "tool_call_id": id, "content": text})),
    );
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools;

    #[test]
    fn tools_are_functions_and_usage_is_asked_for() {
        let completion = Completion {
            system: "sys".into(),
            prompt: "p".into(),
            files: vec![],
            task: None,
            tools: vec![tools::write_file()],
        };
        let body = body(&Settings::new("http://x/v1", "qwen"), &completion, &[]);
        assert_eq!(body["tools"][0]["function"]["name"], "write_file");
        assert_eq!(
            body["tools"][0]["function"]["parameters"]["required"],
            json!(["path", "content"])
        );
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["messages"][0]["role"], "system");
        assert!(body.get("temperature").is_none());
    }
}
