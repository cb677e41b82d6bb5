//! Faults inside the stream, for both providers: an error after the 200 and a cut
//! connection retry the turn from its start without emitting a call twice; pings, unknown
//! events and comments are ignored; `max_tokens` in the middle of a `write_file` emits
//! nothing and fails as `Truncated`; invalid JSON and a tool that was not offered fail
//! with nothing emitted; dropping the stream closes the connection within 0.5 s.

use std::time::{Duration, Instant};

use buildwire_fakes::{Reply, anthropic, openai};
use buildwire_llm::{Delta, LlmError, tools, write_task};
use futures::StreamExt;
use serde_json::json;

use crate::common::{BOTH, Kit, Which, call_ids, file, file_json, retries, task, write_completion};

/// A turn that completes `a.txt`, starts `b.txt`, then breaks as `how` says.
fn broken(which: Which, how: &str) -> Reply {
    let b = json!({"path": "b.txt", "content": "a long file\n".repeat(20)});
    match which {
        Which::Anthropic => {
            let message = anthropic::message()
                .tool_use("call_a", tools::WRITE_FILE, &file("a.txt", "a\n"))
                .partial_tool_use("call_b", tools::WRITE_FILE, &b, 4);
            match how {
                "error" => message.error_event("overloaded_error", "Overloaded"),
                "cut" => message.cut(),
                _ => message.hang(),
            }
            .reply()
        }
        Which::OpenAi => {
            let chunks = openai::chunks()
                .tool_call("call_a", tools::WRITE_FILE, &file("a.txt", "a\n"))
                .partial_tool_call("call_b", tools::WRITE_FILE, &b, 4);
            match how {
                "error" => chunks.error_chunk("server_error", "The server is overloaded"),
                "cut" => chunks.cut(),
                _ => chunks.hang(),
            }
            .reply()
        }
    }
}

#[tokio::test]
async fn an_error_after_the_200_or_a_cut_retries_the_turn_and_never_emits_a_call_twice() {
    for which in BOTH {
        for how in ["error", "cut"] {
            let kit = Kit::new(which).await;
            kit.fake.push(broken(which, how));
            kit.fake
                .push(kit.writes(&[("call_a", "a.txt", "a\n"), ("call_b", "b.txt", "b\n")]));
            kit.fake.push(kit.ends("done"));
            let (deltas, error) = kit.run(&[]).await;
            assert!(error.is_none(), "{which:?} {how}: {error:?}");
            assert_eq!(call_ids(&deltas), ["call_a", "call_b"], "{which:?} {how}");
            let retried = retries(&deltas);
            assert_eq!(retried.len(), 1, "{which:?} {how}");
            let expected = match (which, how) {
                (Which::Anthropic, "error") => "overloaded_error: Overloaded",
                (Which::OpenAi, "error") => "server_error",
                _ => "",
            };
            assert!(retried[0].1.contains(expected), "{}", retried[0].1);
            // The broken turn's usage and calls were not emitted; the retried turn's were.
            let usages = deltas
                .iter()
                .filter(|d| matches!(d, Delta::Usage(_)))
                .count();
            assert_eq!(usages, 2, "{which:?} {how}");
            assert_eq!(kit.fake.requests().len(), 3);
            // The retried request is the same turn again, not a continuation.
            assert_eq!(kit.fake.requests()[0].body, kit.fake.requests()[1].body);
        }
    }
}

#[tokio::test]
async fn pings_unknown_events_and_comments_anywhere_are_ignored() {
    let kit = Kit::new(Which::Anthropic).await;
    kit.fake.push(
        anthropic::message()
            .ping()
            .unknown_event()
            .text("Writing.")
            .ping()
            .tool_use("call_1", tools::WRITE_FILE, &file("a.txt", "a"))
            .unknown_event()
            .reply(),
    );
    kit.fake.push(
        anthropic::message()
            .unknown_event()
            .text("ok")
            .ping()
            .reply(),
    );
    let (deltas, error) = kit.run(&[]).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(call_ids(&deltas), ["call_1"]);
    assert!(retries(&deltas).is_empty());

    let kit = Kit::new(Which::OpenAi).await;
    kit.fake.push(
        openai::chunks()
            .comment("OPENROUTER PROCESSING")
            .comment("keep-alive")
            .tool_call("call_1", tools::WRITE_FILE, &file("a.txt", "a"))
            .reply(),
    );
    kit.fake.push(openai::chunks().text("ok").reply());
    let (deltas, error) = kit.run(&[]).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(call_ids(&deltas), ["call_1"]);
}

#[tokio::test]
async fn max_tokens_in_the_middle_of_a_write_file_emits_nothing_and_fails_clearly() {
    for which in BOTH {
        let kit = Kit::new(which).await;
        let long = json!({"path": "src/App.tsx", "content": "line\n".repeat(50)});
        kit.fake.push(match which {
            Which::Anthropic => anthropic::message()
                .tool_use("call_a", tools::WRITE_FILE, &file("a.txt", "a\n"))
                .truncated_tool_use("call_b", tools::WRITE_FILE, &long, 6)
                .reply(),
            Which::OpenAi => openai::chunks()
                .tool_call("call_a", tools::WRITE_FILE, &file("a.txt", "a\n"))
                .partial_tool_call("call_b", tools::WRITE_FILE, &long, 6)
                .finish_reason("length")
                .reply(),
        });
        let (deltas, error) = kit.run(&[]).await;
        let error = error.expect("truncated");
        assert!(
            matches!(&error, LlmError::Truncated { max_tokens: 4096, tool: Some(tool), .. } if tool == tools::WRITE_FILE),
            "{which:?}: {error}"
        );
        assert_eq!(
            (error.code(), error.is_retryable()),
            ("LLM_TRUNCATED", true)
        );
        assert!(
            error
                .suggested_action()
                .contains("BUILDWIRE_LLM_MAX_TOKENS")
        );
        assert!(
            call_ids(&deltas).is_empty(),
            "{which:?}: nothing of the cut turn is emitted"
        );
        assert!(
            deltas.iter().any(|d| matches!(d, Delta::Usage(_))),
            "its tokens are still counted"
        );
        assert_eq!(kit.fake.requests().len(), 1, "not retried");
    }
}

#[tokio::test]
async fn invalid_json_or_a_tool_not_offered_fails_with_nothing_emitted() {
    for which in BOTH {
        let raw = "{\"path\": \"a.txt\", \"content\": oops}";
        for (name, input, expect) in [
            (tools::WRITE_FILE, raw.to_string(), "not valid JSON"),
            ("run_shell", file_json("x", "rm -rf /"), "does not offer"),
            (tools::WRITE_FILE, "[1, 2]".to_string(), "not a JSON object"),
        ] {
            let kit = Kit::new(which).await;
            kit.fake.push(match which {
                Which::Anthropic => anthropic::message()
                    .tool_use("call_ok", tools::WRITE_FILE, &file("ok.txt", "fine"))
                    .tool_use_raw("call_bad", name, &input)
                    .reply(),
                Which::OpenAi => openai::chunks()
                    .tool_call("call_ok", tools::WRITE_FILE, &file("ok.txt", "fine"))
                    .tool_call_raw("call_bad", name, &input)
                    .reply(),
            });
            let (deltas, error) = kit.run(&[]).await;
            let error = error.expect("invalid");
            assert!(
                matches!(&error, LlmError::InvalidToolInput { tool, reason } if tool == name && reason.contains(expect)),
                "{which:?} {name}: {error}"
            );
            assert_eq!(error.code(), "LLM_INVALID_TOOL_INPUT");
            assert!(
                call_ids(&deltas).is_empty(),
                "{which:?}: nothing of that turn is emitted"
            );
            assert_eq!(kit.fake.requests().len(), 1);
        }
        // Through the stage: the task fails, no file comes back.
        let kit = Kit::new(which).await;
        kit.fake.push(match which {
            Which::Anthropic => anthropic::message()
                .tool_use_raw("c", tools::WRITE_FILE, "{\"path\":")
                .reply(),
            Which::OpenAi => openai::chunks()
                .tool_call_raw("c", tools::WRITE_FILE, "{\"path\":")
                .reply(),
        });
        let failed = write_task(kit.provider.as_ref(), "p", &task(), &[]).await;
        assert!(
            matches!(failed, Err(LlmError::InvalidToolInput { .. })),
            "{failed:?}"
        );
    }
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection_within_half_a_second() {
    for which in BOTH {
        let kit = Kit::new(which).await;
        kit.fake.push(broken(which, "hang"));
        let mut stream = kit.provider.complete(write_completion(&[]));
        // Wait until the model is visibly writing, then cancel.
        loop {
            match stream.next().await {
                Some(Ok(Delta::ToolProgress { id, .. })) if id == "call_b" => break,
                Some(Ok(_)) => {}
                other => panic!("{which:?}: {other:?}"),
            }
        }
        let dropped = Instant::now();
        drop(stream);
        let closed = kit
            .fake
            .wait_disconnect(Duration::from_secs(3))
            .await
            .expect("the fake saw the connection close");
        let after = closed.saturating_duration_since(dropped);
        assert!(
            after < Duration::from_millis(500),
            "{which:?}: closed {after:?} after the drop"
        );
    }
}
