//! The OpenAI-compatible provider against the fake Chat Completions server: a plan and a
//! multi-file task through the tool loop (interleaved `tool_calls` fragments keyed by
//! `index`), the exact request (Bearer key or none, `stream_options`, functions, `role:
//! "tool"` results), live progress and usage equal to what the fake reported.

use buildwire_fakes::Fake;
use buildwire_fakes::openai::{self, Usage as FakeUsage};
use buildwire_llm::{Delta, OpenAiProvider, Usage, tools};
use serde_json::json;

use crate::common::{Kit, Which, call_ids, file_json, settings, task};

fn usage(fake: FakeUsage) -> Usage {
    Usage {
        provider: "openai",
        model: "fake-model".into(),
        input_tokens: fake.prompt_tokens - fake.cached_tokens,
        output_tokens: fake.completion_tokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: fake.cached_tokens,
    }
}

#[tokio::test]
async fn plans_with_submit_plan_and_a_bearer_key() {
    let kit = Kit::new(Which::OpenAi).await;
    let figures = FakeUsage {
        prompt_tokens: 2500,
        completion_tokens: 300,
        cached_tokens: 2000,
    };
    let tasks = json!({"tasks": [{"id": "all", "name": "Everything", "description": "x", "estimatedDuration": 9000}]});
    kit.fake.push(
        openai::chunks()
            .comment("OPENROUTER PROCESSING")
            .tool_call("call_plan", tools::SUBMIT_PLAN, &tasks)
            .usage(Some(figures))
            .reply(),
    );
    let (plan, summary, seen) = kit.plan("Create a notes app").await;
    assert_eq!(plan.tasks[0].id, "all");
    assert_eq!(summary.usage, usage(figures));
    assert!(seen.contains(&Delta::Usage(usage(figures))));

    let requests = kit.fake.requests();
    let request = &requests[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", crate::common::KEY).as_str())
    );
    let body = &request.body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        (body["max_tokens"].clone(), body["temperature"].clone()),
        (json!(4096), json!(0.2))
    );
    assert_eq!(body["tools"].as_array().expect("tools").len(), 1);
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], tools::SUBMIT_PLAN);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["role"], "user");
}

#[tokio::test]
async fn writes_a_multi_file_task_through_the_tool_loop_with_interleaved_calls() {
    let kit = Kit::new(Which::OpenAi).await;
    let app = "export default function App() {\n  return <main className=\"p-4\">Hi</main>;\n}\n";
    let item = "export type Item = { id: string; done: boolean };\n";
    kit.fake.push(
        openai::chunks()
            .text("Writing two files.")
            .tool_call_raw("call_a", tools::WRITE_FILE, &file_json("src/App.tsx", app))
            .tool_call_raw(
                "call_b",
                tools::WRITE_FILE,
                &file_json("src/types.ts", item),
            )
            .interleaved()
            .fragment(7)
            .reply(),
    );
    kit.fake.push(
        openai::chunks()
            .tool_call_raw(
                "call_c",
                tools::WRITE_FILE,
                &file_json("src/main.tsx", "import './index.css';\n"),
            )
            .reply(),
    );
    kit.fake.push(
        openai::chunks()
            .text("All three files are written.")
            .reply(),
    );

    let (files, summary, seen) = kit.write("Create a todo app", &[]).await;
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["src/App.tsx", "src/types.ts", "src/main.tsx"]);
    assert_eq!(
        (files[0].content.as_str(), files[1].content.as_str()),
        (app, item)
    );
    assert_eq!(call_ids(&seen), ["call_a", "call_b", "call_c"]);
    assert_eq!(summary.calls, 3);
    assert_eq!(
        summary.usage.output_tokens,
        3 * FakeUsage::default().completion_tokens
    );
    let last_a = seen
        .iter()
        .rev()
        .filter_map(|d| match d {
            Delta::ToolProgress {
                id,
                path,
                bytes,
                lines,
                ..
            } if id == "call_a" => Some((path.clone(), *bytes, *lines)),
            _ => None,
        })
        .next();
    assert_eq!(
        last_a,
        Some((Some("src/App.tsx".into()), app.len() as u64, 3))
    );

    let requests = kit.fake.requests();
    assert_eq!(requests.len(), 3);
    let second = requests[1].body["messages"].as_array().expect("messages");
    assert_eq!(second.len(), 5, "system, user, assistant, two tool results");
    assert_eq!(second[2]["role"], "assistant");
    assert_eq!(second[2]["content"], "Writing two files.");
    assert_eq!(second[2]["tool_calls"][0]["id"], "call_a");
    assert_eq!(
        second[2]["tool_calls"][1]["function"]["arguments"],
        file_json("src/types.ts", item)
    );
    assert_eq!(
        second[3],
        json!({"role": "tool", "tool_call_id": "call_a", "content": "written"})
    );
    assert_eq!(second[4]["tool_call_id"], "call_b");
    let third = requests[2].body["messages"].as_array().expect("messages");
    assert_eq!(third[5]["tool_calls"][0]["id"], "call_c");
    assert_eq!(third[6]["tool_call_id"], "call_c");
}

#[tokio::test]
async fn a_local_server_needs_no_key_and_may_omit_usage_and_done() {
    let fake = Fake::openai(None).await;
    let provider = OpenAiProvider::new(settings(fake.base_url(), None)).expect("provider");
    fake.push(
        openai::chunks()
            .tool_call_raw(
                "call_1",
                tools::WRITE_FILE,
                &file_json("index.html", "<div id=\"root\"></div>\n"),
            )
            .usage(None)
            .done(false)
            .reply(),
    );
    fake.push(openai::chunks().text("ok").usage(None).reply());
    let files = buildwire_llm::write_task(&provider, "p", &task(), &[])
        .await
        .expect("files");
    assert_eq!(files[0].path, "index.html");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("authorization"), None);
}
