//! The Anthropic provider against the fake Messages API: a plan and a multi-file task
//! through the tool loop, the exact request (headers, caching, tools, tool results), live
//! progress and usage figures equal to what the fake reported.

use buildwire_fakes::anthropic::{self, Usage as FakeUsage};
use buildwire_llm::{Delta, ProjectFile, Usage, tools};
use serde_json::json;

use crate::common::{Kit, Which, call_ids, file, file_json};

fn usage(fake: FakeUsage) -> Usage {
    Usage {
        provider: "anthropic",
        model: "claude-fake".into(),
        input_tokens: fake.input_tokens,
        output_tokens: fake.output_tokens,
        cache_creation_input_tokens: fake.cache_creation_input_tokens,
        cache_read_input_tokens: fake.cache_read_input_tokens,
    }
}

#[tokio::test]
async fn plans_with_submit_plan_only_and_caches_the_prompt() {
    let kit = Kit::new(Which::Anthropic).await;
    let figures = FakeUsage {
        input_tokens: 3210,
        output_tokens: 456,
        cache_creation_input_tokens: 2048,
        cache_read_input_tokens: 17,
    };
    let tasks = json!({"tasks": [
        {"id": "config", "name": "Set up", "description": "package.json", "estimatedDuration": 10000},
        {"id": "ui", "name": "Build the UI", "description": "src/App.tsx", "estimatedDuration": 30000}
    ]});
    kit.fake.push(
        anthropic::message()
            .text("Here is the plan.")
            .ping()
            .tool_use("toolu_plan", tools::SUBMIT_PLAN, &tasks)
            .usage(figures)
            .reply(),
    );
    let (plan, summary, seen) = kit.plan("Create a todo app").await;
    assert_eq!(plan.tasks.len(), 2);
    assert_eq!(plan.total_estimated_time, 40_000);
    assert_eq!(summary.usage, usage(figures));
    assert_eq!((summary.calls, summary.retries), (1, 0));
    assert!(seen.contains(&Delta::Usage(usage(figures))));

    let requests = kit.fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.header("x-api-key"), Some(crate::common::KEY));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    let body = &request.body;
    assert_eq!(body["model"], "model-under-test");
    assert_eq!(
        (body["max_tokens"].clone(), body["temperature"].clone()),
        (json!(4096), json!(0.2))
    );
    assert_eq!(body["stream"], true);
    let names: Vec<_> = body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [tools::SUBMIT_PLAN]);
    assert_eq!(
        body["tools"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert_eq!(
        body["system"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert!(
        body["system"][0]["text"]
            .as_str()
            .expect("system")
            .contains("React")
    );
    assert!(
        body["messages"][0]["content"][0]["text"]
            .as_str()
            .expect("user")
            .contains("Create a todo app")
    );
}

#[tokio::test]
async fn writes_a_multi_file_task_through_the_tool_loop() {
    let kit = Kit::new(Which::Anthropic).await;
    let app = "import { TodoList } from './components/TodoList';\n\nexport default function App() {\n  return <TodoList />;\n}\n";
    let list =
        "export function TodoList() {\n  return <ul className=\"space-y-2\">\u{e9}</ul>;\n}\n";
    // Turn 1: two files (the first `partial_json` of each is empty, as Anthropic sends).
    kit.fake.push(
        anthropic::message()
            .text("Writing the list and the app.")
            .tool_use(
                "toolu_1",
                tools::WRITE_FILE,
                &file("src/components/TodoList.tsx", list),
            )
            .ping()
            .unknown_event()
            .tool_use_raw("toolu_2", tools::WRITE_FILE, &file_json("src/App.tsx", app))
            .fragment(5)
            .reply(),
    );
    // Turn 2: one more file; turn 3: the model ends its turn.
    kit.fake.push(
        anthropic::message()
            .tool_use(
                "toolu_3",
                tools::WRITE_FILE,
                &file("src/index.css", "@tailwind base;\n"),
            )
            .reply(),
    );
    kit.fake.push(
        anthropic::message()
            .text("Done: list, app and styles.")
            .reply(),
    );

    let existing = [ProjectFile::new("package.json", "{}")];
    let (files, summary, seen) = kit.write("Create a todo app", &existing).await;
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "src/components/TodoList.tsx",
            "src/App.tsx",
            "src/index.css"
        ]
    );
    assert_eq!(files[1].content, app);
    assert_eq!(call_ids(&seen), ["toolu_1", "toolu_2", "toolu_3"]);
    assert_eq!(summary.calls, 3);
    let each = usage(FakeUsage::default());
    assert_eq!(summary.usage.input_tokens, 3 * each.input_tokens);
    assert_eq!(summary.usage.output_tokens, 3 * each.output_tokens);
    assert_eq!(
        seen.iter()
            .filter(|d| **d == Delta::Usage(each.clone()))
            .count(),
        3
    );

    // Progress: the path before the call, and the final figures equal the content.
    let progress: Vec<_> = seen
        .iter()
        .filter_map(|d| match d {
            Delta::ToolProgress {
                id,
                path,
                bytes,
                lines,
                ..
            } if id == "toolu_2" => Some((path.clone(), *bytes, *lines)),
            _ => None,
        })
        .collect();
    assert!(progress.len() >= 3, "{progress:?}");
    assert!(
        progress
            .iter()
            .all(|(path, _, _)| path.as_deref() == Some("src/App.tsx"))
    );
    assert_eq!(
        progress.last(),
        Some(&(Some("src/App.tsx".into()), app.len() as u64, 5))
    );
    let first_progress = seen
        .iter()
        .position(|d| matches!(d, Delta::ToolProgress { id, .. } if id == "toolu_2"));
    let call = seen
        .iter()
        .position(|d| matches!(d, Delta::ToolUse { id, .. } if id == "toolu_2"));
    assert!(first_progress < call);

    // The conversation: each turn sends back the assistant content and a tool_result per call.
    let requests = kit.fake.requests();
    assert_eq!(requests.len(), 3);
    let names: Vec<_> = requests[0].body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [tools::WRITE_FILE]);
    let second = requests[1].body["messages"].as_array().expect("messages");
    assert_eq!(second.len(), 3);
    assert_eq!(second[1]["role"], "assistant");
    assert_eq!(
        second[1]["content"][0],
        json!({"type": "text", "text": "Writing the list and the app."})
    );
    assert_eq!(second[1]["content"][1]["type"], "tool_use");
    assert_eq!(second[1]["content"][2]["input"]["path"], "src/App.tsx");
    assert_eq!(second[2]["content"][0]["type"], "tool_result");
    assert_eq!(second[2]["content"][0]["tool_use_id"], "toolu_1");
    assert_eq!(second[2]["content"][1]["tool_use_id"], "toolu_2");
    assert_eq!(second[2]["content"][1]["content"], "written");
    let third = requests[2].body["messages"].as_array().expect("messages");
    assert_eq!(third.len(), 5);
    assert_eq!(third[4]["content"][0]["tool_use_id"], "toolu_3");
    assert_eq!(
        requests[2]
            .body
            .to_string()
            .matches("cache_control")
            .count(),
        4
    );
    assert_eq!(kit.fake.unused(), 0);
}
