//! Issue 6: rate limits on submissions and the circuit breaker shared by edge nodes,
//! against a real nats-server with the real stage loop failing builds.

use std::time::Duration;

use buildwire_e2e::ProbeStage;
use buildwire_runtime::stage::{self, WorkerOptions};
use buildwire_schemas::Stage;
use buildwire_testkit::{NatsFixture, connect, eventually, quick_definitions, stored_events};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::edge_clients::{KEYS, Node, SERVICE_KEY, http};
use crate::support::{build_id, submit};

async fn post(node: &Node, user: &str) -> (u16, Option<u64>, Value) {
    post_keyed(node, user, None).await
}

/// `post` with an optional `Idempotency-Key`.
async fn post_keyed(node: &Node, user: &str, key: Option<&str>) -> (u16, Option<u64>, Value) {
    let mut request = http()
        .post(format!("{}/v1/builds", node.http()))
        .bearer_auth(SERVICE_KEY)
        .json(&json!({ "prompt": "Create a timer", "userId": user }));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("post");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, retry_after, response.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_from_one_user_is_limited_and_others_are_not() {
    let fixture = NatsFixture::start();
    let node = Node::with_env(
        &fixture.url(),
        KEYS,
        &[
            ("BUILDWIRE_RATE_USER_PER_MIN", "6"),
            ("BUILDWIRE_RATE_USER_BURST", "3"),
        ],
    )
    .await;
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(post(&node, "bursty").await);
    }
    let accepted = answers.iter().filter(|(s, _, _)| *s == 202).count();
    assert_eq!(accepted, 3, "the burst allowance");
    for (status, retry_after, body) in answers.iter().filter(|(s, _, _)| *s != 202) {
        assert_eq!(*status, 429);
        assert_eq!(body["code"], "RATE_LIMITED");
        assert_eq!(body["retryable"], true);
        let wait = retry_after.expect("Retry-After");
        assert!(
            (1..=10).contains(&wait),
            "6 per minute: about 10 s, got {wait}"
        );
    }
    assert_eq!(
        post(&node, "calm").await.0,
        202,
        "another user is unaffected"
    );
    let metrics = node.edge.state.metrics.render();
    assert!(
        metrics.contains("buildwire_edge_rate_limited_total{scope=\"user\"} 3"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_failures_open_the_circuit_on_every_node_and_it_closes_after_the_window() {
    let fixture = NatsFixture::start();
    let env = [("BUILDWIRE_BREAKER_WINDOW_SECS", "6")];
    let a = Node::with_env(&fixture.url(), KEYS, &env).await;
    let b = Node::with_env(&fixture.url(), KEYS, &env).await;
    let nats = connect(&fixture.url()).await;
    quick_definitions(Duration::from_millis(300), 2)
        .apply(&nats, None)
        .await
        .expect("quick consumers");
    let stop = CancellationToken::new();
    let worker = tokio::spawn(stage::run(
        ProbeStage {
            stage: Stage::Plan,
            step_delay: Duration::ZERO,
            log: None,
        },
        nats.clone(),
        WorkerOptions {
            concurrency: 2,
            drain_timeout: Duration::from_secs(1),
            interrupt_grace: Duration::from_secs(1),
            pull_wait: Duration::from_millis(300),
        },
        stop.clone(),
    ));
    let fail = |kind: &'static str| {
        let nats = nats.clone();
        async move {
            let id = build_id();
            submit(&nats, &id, json!({ "steps": 1, "fail": kind })).await;
            eventually(Duration::from_secs(20), "the build to fail", || async {
                stored_events(&nats, &id)
                    .await
                    .iter()
                    .any(|e| e.type_name() == "failed")
                    .then_some(())
            })
            .await;
        }
    };
    // Soft failures (retried, then failed as retryable) never open it. (`submit` builds
    // belong to user-1.)
    for _ in 0..3 {
        fail("always").await;
    }
    assert_eq!(
        post(&a, "user-1").await.0,
        202,
        "soft failures do not count"
    );
    let (status, _, accepted) = post_keyed(&a, "user-1", Some("kept")).await;
    assert_eq!(status, 202, "{accepted}");
    // Three fatal ones do, on both nodes.
    for _ in 0..3 {
        fail("fatal").await;
    }
    for node in [&a, &b] {
        let (status, retry_after, body) = post(node, "user-1").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (429, Some("CIRCUIT_OPEN")),
            "{body}"
        );
        assert!(
            body["detail"]
                .as_str()
                .expect("detail")
                .contains("reopen at")
        );
        assert!((1..=6).contains(&retry_after.expect("Retry-After")));
        // A retry of a submission accepted before the circuit opened still gets its
        // build: the key is looked up before the circuit is.
        let (status, _, again) = post_keyed(node, "user-1", Some("kept")).await;
        assert_eq!(status, 202, "{again}");
        assert_eq!(again["buildId"], accepted["buildId"]);
    }
    assert_eq!(
        post(&b, "someone-else").await.0,
        202,
        "other users are unaffected"
    );
    // It closes by itself once the failures leave the window.
    eventually(Duration::from_secs(15), "the circuit to close", || async {
        (post(&b, "user-1").await.0 == 202).then_some(())
    })
    .await;
    stop.cancel();
    let _ = worker.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_quotas_refuse_clearly_and_free_up_when_viewers_leave() {
    let fixture = NatsFixture::start();
    let node = Node::with_env(
        &fixture.url(),
        KEYS,
        &[
            ("BUILDWIRE_MAX_VIEWERS_PER_BUILD", "2"),
            ("BUILDWIRE_CONNECT_RATE_PER_MIN", "6"),
        ],
    )
    .await;
    let accepted = crate::edge_clients::submit(&node, "Create a poll").await;
    let id = accepted["buildId"].as_str().expect("id").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    let url = node.ws(&id, &token, 0);
    let first = crate::edge_clients::open_ws(&url).await;
    let _second = crate::edge_clients::open_ws(&url).await;
    let refused = |url: String| async move {
        match tokio_tungstenite::connect_async(&url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                        .unwrap_or_default();
                (
                    response.status().as_u16(),
                    body["code"].as_str().unwrap_or_default().to_string(),
                )
            }
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
    };
    assert_eq!(
        refused(url.clone()).await,
        (429, "VIEWER_QUOTA".to_string())
    );
    drop(first);
    let reopened = eventually(Duration::from_secs(10), "a place to free up", || async {
        tokio_tungstenite::connect_async(&url).await.ok()
    })
    .await;
    drop(reopened);
    // Six new connections a minute per address: the next ones are refused.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(match tokio_tungstenite::connect_async(&url).await {
            Ok(_) => 101,
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
            Err(_) => 0,
        });
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_state_of_idle_users_and_addresses_is_forgotten() {
    let fixture = NatsFixture::start();
    // 100 a second: one use is forgotten-worthy 10 ms later.
    let node = Node::with_env(
        &fixture.url(),
        KEYS,
        &[
            ("BUILDWIRE_CONNECT_RATE_PER_MIN", "6000"),
            ("BUILDWIRE_RATE_USER_PER_MIN", "6000"),
        ],
    )
    .await;
    let accepted = crate::edge_clients::submit(&node, "Create a poll").await;
    let id = accepted["buildId"].as_str().expect("id").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    let socket = crate::edge_clients::open_ws(&node.ws(&id, &token, 0)).await;
    let guards = &node.edge.state.guards;
    assert_eq!(guards.tracked_keys(), 2, "one user, one address");
    tokio::time::sleep(Duration::from_millis(300)).await;
    guards.prune();
    assert_eq!(
        guards.tracked_keys(),
        0,
        "limits back to full are forgotten"
    );
    drop(socket);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_its_idempotency_key_gets_its_build_past_the_rate_limit() {
    let fixture = NatsFixture::start();
    let node = Node::with_env(
        &fixture.url(),
        KEYS,
        &[
            ("BUILDWIRE_RATE_USER_BURST", "1"),
            ("BUILDWIRE_RATE_USER_PER_MIN", "1"),
        ],
    )
    .await;
    let send = |key: &'static str| {
        let url = format!("{}/v1/builds", node.http());
        async move {
            let response = http()
                .post(url)
                .bearer_auth(SERVICE_KEY)
                .header("Idempotency-Key", key)
                .json(&json!({ "prompt": "Create a timer", "userId": "retrier" }))
                .send()
                .await
                .expect("post");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("json"))
        }
    };
    let (status, first) = send("retry-me").await;
    assert_eq!(status, 202, "{first}");
    // The user's burst is spent: a new submission is refused...
    let (status, refused) = send("another-one").await;
    assert_eq!(status, 429, "{refused}");
    // ...but the retry of the accepted one gets its build, again and again.
    for _ in 0..3 {
        let (status, again) = send("retry-me").await;
        assert_eq!(status, 202, "{again}");
        assert_eq!(again["buildId"], first["buildId"]);
    }
}
