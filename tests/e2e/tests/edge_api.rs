//! The edge's HTTP API, build tokens and WebSocket protocol against a real nats-server:
//! what the main app and a browser see, refusals included.

use std::time::Duration;

use buildwire_testkit::{NatsFixture, connect, stored_events};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::edge_clients::{
    KEYS, Node, SERVICE_KEY, Stages, http, open_ws, send_and_await_close, submit, watch_sse,
    watch_ws,
};

pub async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json", "status {status}");
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["status"], status);
    for field in ["type", "title", "detail", "code"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }
    assert!(body["retryable"].is_boolean());
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_are_validated_authenticated_and_idempotent_across_nodes() {
    let fixture = NatsFixture::start();
    let a = Node::start(&fixture.url()).await;
    let b = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let client = http();
    let url = format!("{}/v1/builds", a.http());
    let good = json!({ "prompt": "Create a todo app", "userId": "user-1" });

    let (status, body) = problem(client.post(&url).json(&good).send().await.expect("send")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("SERVICE_KEY_REQUIRED"))
    );
    let (status, body) = problem(
        client
            .post(&url)
            .bearer_auth("wrong-key-0123456789")
            .json(&good)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("SERVICE_KEY_INVALID"))
    );
    let (status, _) = problem(
        client
            .post(&url)
            .bearer_auth(SERVICE_KEY)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = problem(
        client
            .post(&url)
            .bearer_auth(SERVICE_KEY)
            .json(&json!({ "prompt": "x" }))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("INVALID_USER_ID")),
        "missing userId"
    );
    let (status, body) = problem(
        client
            .post(&url)
            .bearer_auth(SERVICE_KEY)
            .json(&json!({ "prompt": "  ", "userId": "u" }))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("INVALID_PROMPT"))
    );
    let huge = json!({ "prompt": "x".repeat(100_000), "userId": "u" });
    let (status, body) = problem(
        client
            .post(&url)
            .bearer_auth(SERVICE_KEY)
            .json(&huge)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );

    // The same Idempotency-Key on two nodes: one build.
    let send = |node: &Node, body: &Value| {
        client
            .post(format!("{}/v1/builds", node.http()))
            .bearer_auth(SERVICE_KEY)
            .header("Idempotency-Key", "order-42")
            .json(body)
            .send()
    };
    let first = send(&a, &good).await.expect("send");
    assert_eq!(first.status().as_u16(), 202);
    let first: Value = first.json().await.expect("json");
    let again: Value = send(&b, &good)
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(first["buildId"], again["buildId"]);
    let other = json!({ "prompt": "Something else", "userId": "user-1" });
    let (status, body) = problem(send(&b, &other).await.expect("send")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    let build_id = first["buildId"].as_str().expect("id");
    assert_eq!(
        stored_events(&nats, build_id).await.len(),
        1,
        "one queued event"
    );
    let cmds = nats.js.get_stream("CMDS").await.expect("CMDS");
    let plan = cmds
        .direct_get_last_for_subject(format!("build.{build_id}.cmd.plan"))
        .await
        .expect("the plan command is queued");
    let command: Value = serde_json::from_slice(&plan.payload).expect("json");
    assert_eq!(command["prompt"], "Create a todo app");
    assert_eq!(command["userId"], "user-1");

    // /build-preview answers the plan's fields.
    let preview: Value = client
        .post(format!("{}/build-preview", a.http()))
        .bearer_auth(SERVICE_KEY)
        .json(&good)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    for field in [
        "buildId",
        "websocketUrl",
        "buildToken",
        "eventsUrl",
        "statusUrl",
        "tokenExpiresAt",
    ] {
        assert!(preview[field].is_string(), "{field}: {preview}");
    }
    assert!(
        preview["websocketUrl"]
            .as_str()
            .expect("url")
            .starts_with("ws://")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_history_cancel_and_token_routes() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let client = http();
    let accepted = submit(&node, "Create a calculator").await;
    let build_id = accepted["buildId"].as_str().expect("id").to_string();
    let get = |path: String| {
        client
            .get(format!("{}{path}", node.http()))
            .bearer_auth(SERVICE_KEY)
            .send()
    };

    let status: Value = get(format!("/v1/builds/{build_id}"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(status["status"], "queued");
    let mut stages = Stages::new(&nats, &build_id);
    for i in 0..5 {
        stages.step(&format!("step {i}")).await;
    }
    let (status, body) = problem(
        get("/v1/builds/01JD5Y8Q7R3M4N5P6Q7R8S9T0V".into())
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("BUILD_NOT_FOUND"))
    );
    let (status, body) = problem(get("/v1/builds/not-a-ulid".into()).await.expect("get")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_BUILD_ID"))
    );

    // History in pages.
    let mut after = 0;
    let mut seqs = Vec::new();
    loop {
        let page: Value = get(format!(
            "/v1/builds/{build_id}/events?after={after}&limit=2"
        ))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
        let events = page["events"].as_array().expect("events").clone();
        seqs.extend(events.iter().map(|e| e["seq"].as_u64().expect("seq")));
        after = *seqs.last().expect("seq");
        if page["hasMore"] == false {
            break;
        }
    }
    assert_eq!(seqs.len(), 6);
    let (status, _) = problem(
        get(format!("/v1/builds/{build_id}/events?limit=5000"))
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, 422);

    // A fresh token reads the build.
    let fresh: Value = client
        .post(format!("{}/v1/builds/{build_id}/token", node.http()))
        .bearer_auth(SERVICE_KEY)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let token = fresh["buildToken"].as_str().expect("token").to_string();

    // Cancel: 202, a terminal `cancelled`, the KV flag; the stream ends.
    let cancel = client
        .post(format!("{}/v1/builds/{build_id}/cancel", node.http()))
        .bearer_auth(SERVICE_KEY)
        .send()
        .await
        .expect("post");
    assert_eq!(cancel.status().as_u16(), 202);
    let progress: Value = cancel.json().await.expect("json");
    assert_eq!(progress["status"], "cancelled");
    let events = stored_events(&nats, &build_id).await;
    assert_eq!(events.last().map(|e| e.type_name()), Some("cancelled"));
    let flags = nats.js.get_key_value("cancel").await.expect("kv");
    assert!(
        flags.get(&build_id).await.expect("get").is_some(),
        "cancel flag set"
    );
    let seen = watch_ws(&node.ws(&build_id, &token, 0)).await;
    assert_eq!(seen.seqs.len(), 7);
    assert_eq!(seen.close.map(|c| c.0), Some(1000));
    let (status, _) = watch_sse(
        &node.sse(&build_id, &token),
        Some(events.last().expect("e").seq),
    )
    .await;
    assert_eq!(status, 204);

    // A finished build cannot be cancelled.
    let done = submit(&node, "Create a clock").await;
    let done_id = done["buildId"].as_str().expect("id");
    Stages::new(&nats, done_id).complete().await;
    let (status, body) = problem(
        client
            .post(format!("{}/v1/builds/{done_id}/cancel", node.http()))
            .bearer_auth(SERVICE_KEY)
            .send()
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("BUILD_FINISHED"))
    );
    let status: Value = get(format!("/v1/builds/{done_id}"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(status["status"], "completed");
    assert!(status["previewUrl"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_routes_and_the_openapi_document() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let client = http();
    let get = |path: &str| client.get(format!("{}{path}", node.http())).send();
    assert_eq!(
        get("/healthz")
            .await
            .expect("get")
            .text()
            .await
            .expect("text"),
        "ok"
    );
    assert_eq!(get("/readyz").await.expect("get").status().as_u16(), 200);
    let spec: Value = get("/openapi.json")
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    for path in [
        "/v1/builds",
        "/v1/builds/{id}",
        "/v1/builds/{id}/events",
        "/v1/builds/{id}/cancel",
        "/v1/builds/{id}/token",
        "/build-preview",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} documented");
    }
    let docs = get("/docs").await.expect("get");
    assert_eq!(docs.status().as_u16(), 200);
    assert!(docs.text().await.expect("html").contains("swagger"));
    let metrics = get("/metrics")
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    for name in [
        "buildwire_edge_builds_submitted_total",
        "buildwire_edge_delivery_latency_seconds",
        "buildwire_edge_sse_fallbacks_total",
    ] {
        assert!(metrics.contains(name), "{name}");
    }
    let (status, body) = problem(get("/no/such/route").await.expect("get")).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")));
    // /readyz says 503 while NATS is away.
    let mut fixture = fixture;
    fixture.server.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = problem(get("/readyz").await.expect("get")).await;
    assert_eq!(status, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_tokens_are_checked_and_keys_rotate() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let accepted = submit(&node, "Create a quiz").await;
    let build_id = accepted["buildId"].as_str().expect("id").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    let other = submit(&node, "Create a poll").await;
    let other_token = other["buildToken"].as_str().expect("token").to_string();

    let refused = |token: String| {
        let ws = node.ws(&build_id, &token, 0);
        let sse = node.sse(&build_id, &token);
        async move {
            let ws = match tokio_tungstenite::connect_async(&ws).await {
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                    response.status().as_u16()
                }
                other => panic!("handshake should fail: {:?}", other.map(|_| ())),
            };
            let sse = http()
                .get(&sse)
                .send()
                .await
                .expect("get")
                .status()
                .as_u16();
            (ws, sse)
        }
    };
    assert_eq!(
        refused(other_token).await,
        (403, 403),
        "another build's token"
    );
    let (forged_kid, _) = buildwire_edge::tokens::Keyring::parse(
        "k9:0123456789abcdef0123456789abcdef",
        Duration::from_secs(60),
    )
    .expect("ring")
    .issue(&build_id, "user-1");
    assert_eq!(refused(forged_kid).await, (401, 401), "unknown kid");
    let payload = token.split('.').nth(1).expect("payload").to_string();
    assert_eq!(
        refused(format!("eyJhbGciOiJub25lIiwia2lkIjoiazEifQ.{payload}.")).await,
        (401, 401),
        "alg none"
    );
    let ring = buildwire_edge::tokens::Keyring::parse(KEYS, Duration::from_secs(60)).expect("ring");
    let (expired, _) = ring.issue_at(
        &build_id,
        "u",
        chrono::Utc::now() - chrono::Duration::hours(1),
    );
    assert_eq!(refused(expired).await, (401, 401), "expired");
    let mut tampered = token.clone();
    let last = tampered.pop().expect("char");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(refused(tampered).await, (401, 401), "tampered signature");
    assert_eq!(refused(String::new()).await, (401, 401), "no token");

    // Rotation: a node whose ring starts with k2 signs with k2 and still accepts k1 tokens;
    // a stream opened with k1 stays up there; once k1 is removed, k1 tokens are refused.
    let rotated = Node::with_keys(
        &fixture.url(),
        &format!("k2:fedcba9876543210fedcba9876543210,{KEYS}"),
    )
    .await;
    let new_token = rotated.token(&build_id);
    let header = new_token.split('.').next().expect("header");
    assert!(String::from_utf8_lossy(&base64_decode(header)).contains("\"kid\":\"k2\""));
    let mut old_stream = open_ws(&rotated.ws(&build_id, &token, 0)).await;
    let nats = connect(&fixture.url()).await;
    let mut stages = Stages::new(&nats, &build_id);
    stages.step("still streaming").await;
    let mut seen = 0;
    while seen < 3 {
        match tokio::time::timeout(Duration::from_secs(10), old_stream.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => seen += 1,
            other => panic!("the old-key stream stays up: {other:?}"),
        }
    }
    let removed = Node::with_keys(&fixture.url(), "k2:fedcba9876543210fedcba9876543210").await;
    match tokio_tungstenite::connect_async(&removed.ws(&build_id, &token, 0)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 401)
        }
        other => panic!("a removed key is refused: {:?}", other.map(|_| ())),
    }
    let mut fresh = open_ws(&removed.ws(&build_id, &new_token, 0)).await;
    let hello = fresh.next().await.expect("greeting").expect("frame");
    assert!(hello.to_text().expect("text").contains("\"connected\""));
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let Some(value) = ALPHABET.iter().position(|a| *a == c) else {
            continue;
        };
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_websocket_messages_close_with_1008_or_1009_and_the_node_keeps_serving() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let accepted = submit(&node, "Create a kanban board").await;
    let build_id = accepted["buildId"].as_str().expect("id").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    let url = node.ws(&build_id, &token, 0);
    let cases: Vec<(Message, u16)> = vec![
        (Message::text("not json at all"), 1008),
        (Message::text(r#"{"type":"subscribe","build":"x"}"#), 1008),
        (Message::text(r#"{"type":"resume","after":-1}"#), 1008),
        (Message::text(r#"{"type":"ping","extra":1}"#), 1008),
        (Message::binary(vec![1u8, 2, 3]), 1008),
        (
            Message::text(format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(2000))),
            1009,
        ),
        (Message::text("x".repeat(200_000)), 1009),
    ];
    for (message, code) in cases {
        let mut socket = open_ws(&url).await;
        let close = send_and_await_close(&mut socket, message).await;
        let (got, reason) = close.expect("closed with a frame");
        assert_eq!(got, code, "{reason}");
        assert!(!reason.is_empty(), "a reason is given");
    }
    // Still serving: ping answers heartbeat, resume greets again and replays.
    let mut socket = open_ws(&url).await;
    let mut kinds = Vec::new();
    let mut sent = false;
    while kinds.len() < 5 {
        if kinds.len() == 2 && !sent {
            // Greeting and the queued event are in; now ping, then ask for a replay.
            socket
                .send(Message::text(r#"{"type":"ping"}"#))
                .await
                .expect("send");
            socket
                .send(Message::text(r#"{"type":"resume","after":0}"#))
                .await
                .expect("send");
            sent = true;
        }
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("answer")
            .expect("message")
            .expect("frame");
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).expect("json");
            kinds.push(value["type"].as_str().unwrap_or_default().to_string());
        }
    }
    assert_eq!(kinds[0], "connected");
    assert!(kinds.contains(&"heartbeat".to_string()), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| *k == "status").count(),
        2,
        "queued, then replayed on resume: {kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "connected").count(),
        2,
        "a resume is greeted like a new connection: {kinds:?}"
    );

    // A browser origin outside WEBSOCKET_CORS_ORIGIN is refused.
    let strict = Node::with_env(
        &fixture.url(),
        KEYS,
        &[("WEBSOCKET_CORS_ORIGIN", "https://app.example")],
    )
    .await;
    let response = http()
        .get(strict.sse(&build_id, &token))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .expect("get");
    assert_eq!(response.status().as_u16(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_are_served_from_the_artifacts_bucket_by_any_node() {
    let fixture = NatsFixture::start();
    let a = Node::start(&fixture.url()).await;
    let b = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let artifacts = buildwire_runtime::objects::Artifacts::open(&nats)
        .await
        .expect("bucket");
    let id = ulid::Ulid::generate().to_string();
    artifacts
        .put(
            &id,
            "index.html",
            b"<!doctype html><script src=\"./assets/app.js\"></script>",
        )
        .await
        .expect("put");
    artifacts
        .put(&id, "assets/app.js", b"console.log(1)")
        .await
        .expect("put");
    let _ = http(); // installs the rustls provider
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for node in [&a, &b] {
        let index = client
            .get(format!("{}/preview/{id}/", node.http()))
            .send()
            .await
            .expect("get");
        assert_eq!(index.status().as_u16(), 200);
        assert_eq!(
            index.headers()["content-type"].to_str().expect("ct"),
            "text/html; charset=utf-8"
        );
        assert!(
            index
                .text()
                .await
                .expect("body")
                .contains("./assets/app.js")
        );
        let js = client
            .get(format!("{}/preview/{id}/assets/app.js", node.http()))
            .send()
            .await
            .expect("get");
        assert_eq!(js.status().as_u16(), 200);
        assert!(
            js.headers()["content-type"]
                .to_str()
                .expect("ct")
                .starts_with("text/javascript")
        );
    }
    let bare = client
        .get(format!("{}/preview/{id}", a.http()))
        .send()
        .await
        .expect("get");
    assert_eq!(bare.status().as_u16(), 301);
    assert!(
        bare.headers()["location"]
            .to_str()
            .expect("loc")
            .ends_with(&format!("/preview/{id}/"))
    );
    for missing in [
        format!("/preview/{id}/nope.js"),
        format!("/preview/{id}/..%2F..%2Fetc%2Fpasswd"),
    ] {
        let (status, _) = problem(
            client
                .get(format!("{}{missing}", a.http()))
                .send()
                .await
                .expect("get"),
        )
        .await;
        assert_eq!(status, 404, "{missing}");
    }
    let (status, _) = problem(
        client
            .get(format!("{}/preview/not-an-id/", a.http()))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, 400);
}
