//! Faults before the stream, for both providers: 429 / 529 / 5xx retried with backoff
//! honouring `retry-after`; a spent budget or too long a `retry-after` ending as
//! `Unavailable`; 401/403 refused at once naming the key's setting; a silent stream timed
//! out and retried.

use std::time::{Duration, Instant};

use buildwire_fakes::{anthropic, openai};
use buildwire_llm::{Delta, LlmError, tools};

use crate::common::{BOTH, Kit, Which, call_ids, retries};

/// Scripts, after the faults already pushed, a turn writing `a.txt` (call `call_1`) and
/// the model's end; runs a write completion, which must succeed: its deltas and how long
/// it took.
async fn recovers(kit: &Kit) -> (Vec<Delta>, Duration) {
    kit.fake.push(kit.writes(&[("call_1", "a.txt", "a\n")]));
    kit.fake.push(kit.ends("done"));
    let started = Instant::now();
    let (deltas, error) = kit.run(&[]).await;
    assert!(error.is_none(), "{:?}: {error:?}", kit.which);
    (deltas, started.elapsed())
}

/// The protocol's "overloaded" answer: Anthropic's 529, a compatible server's 503.
fn overloaded(kit: &Kit) -> buildwire_fakes::Reply {
    match kit.which {
        Which::Anthropic => kit.status(529, "overloaded_error"),
        Which::OpenAi => kit.status(503, "server_error"),
    }
}

#[tokio::test]
async fn rate_limits_overload_and_server_errors_are_retried_honouring_retry_after() {
    for which in BOTH {
        let kit = Kit::new(which).await;
        kit.fake.push(
            kit.status(429, "rate_limit_error")
                .with_header("retry-after", "1"),
        );
        kit.fake.push(overloaded(&kit));
        kit.fake.push(kit.status(500, "api_error"));
        let (deltas, took) = recovers(&kit).await;
        let retried = retries(&deltas);
        assert_eq!(retried.len(), 3, "{which:?}: {retried:?}");
        assert!(
            retried[0].0 >= Duration::from_secs(1),
            "{which:?}: retry-after honoured"
        );
        assert!(retried[0].1.contains("HTTP 429"), "{}", retried[0].1);
        assert!(retried[1].1.contains("overloaded_error") || retried[1].1.contains("HTTP 503"));
        assert!(retried[2].1.contains("HTTP 500"), "{}", retried[2].1);
        assert!(took >= Duration::from_secs(1));
        assert_eq!(call_ids(&deltas), ["call_1"], "{which:?}");
        assert_eq!(kit.fake.requests().len(), 5);
    }
}

#[tokio::test]
async fn a_spent_budget_is_unavailable_with_a_clear_message() {
    for which in BOTH {
        let kit = Kit::with(which, |s| s.retries = 2).await;
        for _ in 0..3 {
            kit.fake.push(overloaded(&kit));
        }
        let (deltas, error) = kit.run(&[]).await;
        let error = error.expect("unavailable");
        assert!(
            matches!(error, LlmError::Unavailable { .. }),
            "{which:?}: {error}"
        );
        assert_eq!(
            (error.code(), error.is_retryable()),
            ("LLM_UNAVAILABLE", true)
        );
        let text = error.to_string();
        assert!(text.contains("gave up after 2 retries"), "{text}");
        assert!(text.contains("BUILDWIRE_LLM_RETRIES=2"), "{text}");
        assert!(!error.suggested_action().is_empty());
        assert_eq!(retries(&deltas).len(), 2);
        assert!(call_ids(&deltas).is_empty());
        assert_eq!(kit.fake.requests().len(), 3);

        // A provider asking for a longer wait than a stage gives is not waited for.
        let kit = Kit::new(which).await;
        kit.fake.push(
            kit.status(429, "rate_limit_error")
                .with_header("retry-after", "3600"),
        );
        let started = Instant::now();
        let (_, error) = kit.run(&[]).await;
        let text = error.expect("unavailable").to_string();
        assert!(text.contains("retry after 3600 s"), "{text}");
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(kit.fake.requests().len(), 1);
    }
}

#[tokio::test]
async fn a_bad_key_is_refused_at_once_naming_the_setting() {
    for which in BOTH {
        // A wrong key: the fake refuses it like the real API (401).
        let kit = Kit::with(which, |s| s.api_key = Some("sk-wrong".into())).await;
        let (deltas, error) = kit.run(&[]).await;
        let error = error.expect("refused");
        assert!(
            matches!(
                error,
                LlmError::Refused {
                    status: Some(401),
                    ..
                }
            ),
            "{which:?}: {error}"
        );
        assert!(error.to_string().contains(kit.key_setting()), "{error}");
        assert!(error.suggested_action().contains(kit.key_setting()));
        assert_eq!((error.code(), error.is_retryable()), ("LLM_AUTH", false));
        assert!(retries(&deltas).is_empty());
        assert_eq!(kit.fake.requests().len(), 1, "no retries");

        // 403 (a key without permission) likewise.
        let kit = Kit::new(which).await;
        kit.fake.push(kit.status(403, "permission_error"));
        let (_, error) = kit.run(&[]).await;
        let error = error.expect("refused");
        assert_eq!(error.code(), "LLM_AUTH");
        assert!(error.to_string().contains(kit.key_setting()), "{error}");
        assert_eq!(kit.fake.requests().len(), 1);
    }
}

#[tokio::test]
async fn other_refusals_are_final_and_name_what_to_check() {
    for which in BOTH {
        let kit = Kit::new(which).await;
        kit.fake.push(kit.status(404, "not_found_error"));
        let (_, error) = kit.run(&[]).await;
        let text = error.expect("refused").to_string();
        assert!(
            text.contains("_MODEL") && text.contains("_BASE_URL"),
            "{text}"
        );
        let kit = Kit::new(which).await;
        kit.fake.push(kit.status(400, "invalid_request_error"));
        let (_, error) = kit.run(&[]).await;
        let error = error.expect("refused");
        assert_eq!((error.code(), error.is_retryable()), ("LLM_REFUSED", false));
        assert!(error.to_string().contains("scripted failure"), "{error}");
        assert_eq!(kit.fake.requests().len(), 1);
    }
}

#[tokio::test]
async fn a_silent_stream_times_out_and_the_turn_is_retried() {
    for which in BOTH {
        let kit = Kit::with(which, |s| s.timeout = Duration::from_millis(300)).await;
        let stalled = match which {
            Which::Anthropic => anthropic::message()
                .partial_tool_use(
                    "call_1",
                    tools::WRITE_FILE,
                    &serde_json::json!({"path": "a"}),
                    2,
                )
                .stall()
                .reply(),
            Which::OpenAi => openai::chunks().text("Writing").stall().reply(),
        };
        kit.fake.push(stalled);
        let (deltas, took) = recovers(&kit).await;
        let retried = retries(&deltas);
        assert_eq!(retried.len(), 1);
        assert!(
            retried[0].1.contains("silent for 300 ms"),
            "{}",
            retried[0].1
        );
        assert!(took >= Duration::from_millis(300));
        assert_eq!(call_ids(&deltas), ["call_1"]);

        // With no retries left the timeout is the error, named by its setting.
        let kit = Kit::with(which, |s| {
            s.timeout = Duration::from_millis(200);
            s.retries = 0;
        })
        .await;
        kit.fake.push(match which {
            Which::Anthropic => anthropic::message().stall().reply(),
            Which::OpenAi => openai::chunks().stall().reply(),
        });
        let (_, error) = kit.run(&[]).await;
        let text = error.expect("timed out").to_string();
        assert!(text.contains("BUILDWIRE_LLM_TIMEOUT_MS"), "{text}");
    }
}

#[tokio::test]
async fn a_server_slow_to_answer_times_out() {
    for which in BOTH {
        let kit = Kit::with(which, |s| {
            s.timeout = Duration::from_millis(200);
            s.retries = 1;
        })
        .await;
        kit.fake
            .push(kit.ends("too late").late(Duration::from_secs(2)));
        kit.fake.push(kit.ends("in time"));
        let started = Instant::now();
        let (deltas, error) = kit.run(&[]).await;
        assert!(error.is_none(), "{which:?}: {error:?}");
        let retried = retries(&deltas);
        assert!(
            retried[0].1.contains("no response within 200 ms"),
            "{}",
            retried[0].1
        );
        assert!(deltas.contains(&buildwire_llm::Delta::Text("in time".into())));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
