//! Stage handlers with a scripted LLM provider against a real nats-server: what an
//! untrusted model answer can and cannot do.

use std::sync::Arc;
use std::time::Duration;

use buildwire_execute::ExecuteStage;
use buildwire_llm::{Completion, Delta, LlmError, Provider};
use buildwire_runtime::nats::Definitions;
use buildwire_runtime::objects::Sources;
use buildwire_runtime::publish::Publisher;
use buildwire_runtime::stage::{self, WorkerOptions};
use buildwire_schemas::events::{Plan, PlanTask};
use buildwire_schemas::{Stage, StageCommand};
use buildwire_testkit::{NatsFixture, connect, eventually, stored_events};
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// A model that writes the files it was given, whatever their paths.
struct Scripted {
    files: Vec<(&'static str, &'static str)>,
}

impl Provider for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn complete(&self, _request: Completion) -> BoxStream<'static, Result<Delta, LlmError>> {
        let deltas: Vec<Result<Delta, LlmError>> = self
            .files
            .iter()
            .enumerate()
            .map(|(i, (path, content))| {
                Ok(Delta::ToolUse {
                    id: format!("toolu_{i}"),
                    name: "write_file".into(),
                    input: json!({ "path": path, "content": content }),
                })
            })
            .collect();
        stream::iter(deltas).boxed()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_writing_outside_the_project_is_refused_and_nothing_is_saved() {
    let fixture = NatsFixture::start();
    let nats = connect(&fixture.url()).await;
    Definitions::embedded()
        .expect("definitions")
        .apply(&nats, None)
        .await
        .expect("apply");
    let sources = Sources::open(&nats).await.expect("sources");
    for bad in ["../x", "/etc/x", "src/../../x", "node_modules/.bin/x"] {
        let provider = Arc::new(Scripted {
            files: vec![("index.html", "<p>fine</p>"), (bad, "pwned")],
        });
        let stop = CancellationToken::new();
        let worker = tokio::spawn(stage::run(
            ExecuteStage::new(provider, sources.clone()),
            nats.clone(),
            WorkerOptions {
                concurrency: 1,
                drain_timeout: Duration::from_secs(1),
                interrupt_grace: Duration::from_secs(1),
                pull_wait: Duration::from_millis(300),
            },
            stop.clone(),
        ));
        let id = ulid::Ulid::generate().to_string();
        let command = StageCommand {
            build_id: id.clone(),
            request_id: id.clone(),
            user_id: "user-1".into(),
            prompt: "write somewhere".into(),
            project_id: None,
            parent_build_id: None,
            restore_from_build_id: None,
            plan: Some(Plan {
                id: "p".into(),
                tasks: vec![PlanTask {
                    id: "t1".into(),
                    name: "Write files".into(),
                    description: "writes".into(),
                    estimated_duration: 1,
                }],
                total_estimated_time: 1,
            }),
            extra: Default::default(),
        };
        Publisher::new(nats.js.clone())
            .command(Stage::Execute, &command, &format!("{id}:test"))
            .await
            .expect("command");
        let events = eventually(Duration::from_secs(20), "the build to fail", || async {
            let events = stored_events(&nats, &id).await;
            events.iter().any(|e| e.is_terminal()).then_some(events)
        })
        .await;
        let types: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
        assert_eq!(
            types,
            [
                "status",
                "task_started",
                "task_failed",
                "execute_failed",
                "failed"
            ],
            "{bad}"
        );
        let failed = serde_json::to_value(&events[2]).expect("json");
        assert!(
            failed["details"]["error"]
                .as_str()
                .expect("error")
                .contains("refused path"),
            "{failed}"
        );
        assert!(
            sources.of_build(&id).await.expect("read").is_none(),
            "nothing saved for {bad}"
        );
        stop.cancel();
        worker.await.expect("join").expect("worker");
    }
}
