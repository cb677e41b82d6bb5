//! Messages API request bodies: model, limits, `stream: true`, the system prompt and tools
//! with `cache_control` breakpoints (system, last tool, the project message, the latest
//! tool results: four, the API's maximum), and the conversation after tool calls.

use serde_json::{Value, json};

use crate::turn::Turn;
use crate::{Completion, Settings};

fn ephemeral() -> Value {
    json!({"type": "ephemeral"})
}

/// The request body for `completion` with the conversation so far.
pub(crate) fn body(settings: &Settings, completion: &Completion, history: &[Value]) -> Value {
    let mut body = json!({
        "model": settings.model,
        "max_tokens": settings.max_tokens,
        "stream": true,
    });
    if let Some(temperature) = settings.temperature {
        body["temperature"] = json!(temperature);
    }
    if !completion.system.trim().is_empty() {
        body["system"] = json!([{
            "type": "text",
            "text": completion.system,
            "cache_control": ephemeral(),
        }]);
    }
    if !completion.tools.is_empty() {
        let mut tools: Vec<Value> = completion
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.input_schema,
                })
            })
            .collect();
        if let Some(last) = tools.last_mut() {
            last["cache_control"] = ephemeral();
        }
        body["tools"] = Value::Array(tools);
    }
    let mut messages = vec![json!({
        "role": "user",
        "content": [{
            "type": "text",
            "text": completion.user_message(),
            "cache_control": ephemeral(),
        }],
    })];
    messages.extend(history.iter().cloned());
    if history.len() > 1
        && let Some(block) = messages
            .last_mut()
            .and_then(|message| message["content"].as_array_mut())
            .and_then(|content| content.last_mut())
    {
        block["cache_control"] = ephemeral();
    }
    body["messages"] = Value::Array(messages);
    body
}

/// The assistant message as the model sent it (text, then its `tool_use` blocks) and a
/// user message with one `tool_result` per call.
pub(crate) fn follow_up(turn: &Turn, results: &[(String, String)]) -> Vec<Value> {
    let mut content = Vec::new();
    if !turn.text.trim().is_empty() {
        content.push(json!({"type": "text", "text": turn.text}));
    }
    for call in &turn.calls {
        content.push(json!({
            "type": "tool_use",
            "id": call.id,
            "name": call.name,
            "input": call.input.as_ref().ok().cloned().unwrap_or_else(|| json!({})),
        }));
    }
    let results: Vec<Value> = results
        .iter()
        .map(|(id, text)| json!({"type": "tool_result", "tool_use_id": id, "content": text}))
        .collect();
    vec![
        json!({"role": "assistant", "content": content}),
        json!({"role": "user", "content": results}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools;
    use crate::turn::{Call, Stop};

    fn completion() -> Completion {
        Completion {
            system: "be good".into(),
            prompt: "p".into(),
            files: vec![],
            task: None,
            tools: vec![tools::submit_plan(), tools::write_file()],
        }
    }

    #[test]
    fn caches_system_last_tool_project_and_latest_results() {
        let mut settings = Settings::new("http://x", "claude-x");
        settings.temperature = Some(0.3);
        let first = body(&settings, &completion(), &[]);
        assert_eq!(first["system"][0]["cache_control"], ephemeral());
        assert_eq!(first["tools"][1]["cache_control"], ephemeral());
        assert!(first["tools"][0].get("cache_control").is_none());
        assert_eq!(
            first["messages"][0]["content"][0]["cache_control"],
            ephemeral()
        );
        assert_eq!(
            (first["temperature"].clone(), first["stream"].clone()),
            (json!(0.3), json!(true))
        );
        let turn = Turn {
            text: "ok".into(),
            calls: vec![Call {
                id: "toolu_1".into(),
                name: "write_file".into(),
                arguments: "{}".into(),
                input: Ok(json!({"path": "a", "content": "b"})),
            }],
            stop: Stop::ToolUse,
            usage: None,
        };
        let history = follow_up(&turn, &[("toolu_1".into(), "written".into())]);
        let next = body(&settings, &completion(), &history);
        let messages = next["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[1]["content"][1]["input"]["path"], "a");
        assert_eq!(messages[2]["content"][0]["tool_use_id"], "toolu_1");
        assert_eq!(messages[2]["content"][0]["cache_control"], ephemeral());
        let breakpoints = next.to_string().matches("cache_control").count();
        assert_eq!(breakpoints, 4);
    }
}
