//! Issue 18's contract fixes through a real edge and nats-server: a `resume` greets again
//! (and answers a purged cursor with a snapshot), log links are signed on the way out on
//! every path, only live deliveries are timed, a build's completeness comes from its log
//! (not from its first event), and every close carries a typed disconnect.

use std::time::Duration;

use buildwire_schemas::EventBody;
use buildwire_schemas::events::{BuildUpdate, Complete};
use buildwire_testkit::{NatsFixture, connect, eventually};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::edge_clients::{
    Node, SERVICE_KEY, Stages, http, open_ws, send_and_await_close, stored_seqs, submit, watch_sse,
    watch_ws,
};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next `n` JSON messages of `socket`, heartbeats skipped.
async fn read(socket: &mut Socket, n: usize) -> Vec<Value> {
    let mut got = Vec::new();
    while got.len() < n {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("a message within 20 s")
            .expect("open socket")
            .expect("frame");
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).expect("json");
            if value["type"] != "heartbeat" {
                got.push(value);
            }
        }
    }
    got
}

fn seqs(messages: &[Value]) -> Vec<u64> {
    messages.iter().filter_map(|m| m["seq"].as_u64()).collect()
}

async fn resume(socket: &mut Socket, after: u64) {
    let message = json!({ "type": "resume", "after": after }).to_string();
    socket.send(Message::text(message)).await.expect("send");
}

/// A submitted build with `steps` status events after its `queued`: id, token, stages.
async fn build(
    node: &Node,
    nats: &buildwire_runtime::nats::Nats,
    steps: usize,
) -> (String, String, Stages) {
    let accepted = submit(node, "Create a todo app").await;
    let build_id = accepted["buildId"].as_str().expect("id").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    let mut stages = Stages::new(nats, &build_id);
    for i in 0..steps {
        stages.step(&format!("step {i}")).await;
    }
    (build_id, token, stages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_greets_again_then_sends_what_follows_once_or_a_snapshot() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let (build_id, token, mut stages) = build(&node, &nats, 5).await;
    let stored = stored_seqs(&nats, &build_id).await;
    let last = *stored.last().expect("seq");
    let mut socket = open_ws(&node.ws(&build_id, &token, 0)).await;
    assert_eq!(seqs(&read(&mut socket, 1 + stored.len()).await), stored);
    resume(&mut socket, stored[2]).await;
    let again = read(&mut socket, 1 + 3).await;
    assert_eq!(again[0]["type"], "connected", "{again:?}");
    assert_eq!(
        (
            again[0]["lastSeq"].as_u64(),
            again[0]["recovered"].as_bool()
        ),
        (Some(last), Some(true))
    );
    assert_eq!(seqs(&again[1..]), stored[3..].to_vec());
    let live = stages.step("live").await;
    assert_eq!(
        seqs(&read(&mut socket, 1).await),
        vec![live],
        "each event once"
    );
    drop(socket);

    // A build purged before any viewer came: a resume to a purged cursor is told so.
    let (build_id, token, mut stages) = build(&node, &nats, 5).await;
    let stored = stored_seqs(&nats, &build_id).await;
    let last = *stored.last().expect("seq");
    let purge = json!({ "filter": format!("build.{build_id}.events"), "seq": stored[4] });
    nats.client
        .request("$JS.API.STREAM.PURGE.EVENTS", purge.to_string().into())
        .await
        .expect("purge");
    let mut socket = open_ws(&node.ws(&build_id, &token, last)).await;
    assert_eq!(read(&mut socket, 1).await[0]["recovered"], true);
    resume(&mut socket, stored[1]).await;
    let again = read(&mut socket, 2).await;
    assert_eq!(again[0]["type"], "connected", "{again:?}");
    assert_eq!(again[0]["recovered"], false, "{again:?}");
    assert_eq!(again[1]["type"], "snapshot");
    assert_eq!(again[1]["seq"].as_u64(), Some(last));
    let live = stages.step("live").await;
    assert_eq!(seqs(&read(&mut socket, 1).await), vec![live]);
}

/// The `expires` of a signed link (Unix seconds).
fn expires(url: &str) -> i64 {
    url.split(['?', '&'])
        .find_map(|part| part.strip_prefix("expires="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a signed link: {url}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_links_are_signed_afresh_on_every_path() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let (build_id, token, mut stages) = build(&node, &nats, 1).await;
    // What a replay of an old build holds: a link signed long ago (or a bare reference).
    let stale = format!(
        "{}/v1/builds/{build_id}/logs/build?expires=1000&kid=k1&sig=00",
        node.http()
    );
    stages
        .publish(EventBody::BuildCompleted(BuildUpdate {
            build_log_url: Some(format!("/v1/builds/{build_id}/logs/build")),
            ..BuildUpdate::default()
        }))
        .await;
    stages
        .publish(EventBody::Complete(Complete {
            preview_url: "http://preview/".into(),
            message: "ready".into(),
            build_log_url: Some(stale),
        }))
        .await;
    let soon = chrono::Utc::now().timestamp() + 10 * 60;
    let mut links = Vec::new();
    let api = |path: String| {
        http()
            .get(format!("{}{path}", node.http()))
            .bearer_auth(SERVICE_KEY)
            .send()
    };
    let status: Value = api(format!("/v1/builds/{build_id}"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    links.push((
        "status",
        status["buildLogUrl"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ));
    let page: Value = api(format!("/v1/builds/{build_id}/events"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let history = page["events"].as_array().cloned().unwrap_or_default();
    let ws = watch_ws(&node.ws(&build_id, &token, 0)).await.messages;
    let (_, sse) = watch_sse(&node.sse(&build_id, &token), None).await;
    for (path, events) in [("history", history), ("ws", ws), ("sse", sse.messages)] {
        for event in events.iter().filter(|e| !e["buildLogUrl"].is_null()) {
            links.push((
                path,
                event["buildLogUrl"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ));
        }
    }
    assert_eq!(links.len(), 1 + 3 * 2, "{links:?}");
    for (path, link) in links {
        assert!(expires(&link) > soon, "{path}: a fresh link, not {link}");
        let answer = http().get(&link).send().await.expect("log");
        assert_ne!(
            answer.status().as_u16(),
            403,
            "{path}: the signature holds: {link}"
        );
    }
}

fn timed(node: &Node) -> u64 {
    node.edge
        .state
        .metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix("buildwire_edge_delivery_latency_seconds_count "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_events_that_arrived_live_are_timed() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let (build_id, token, mut stages) = build(&node, &nats, 0).await;
    let mut live = open_ws(&node.ws(&build_id, &token, 0)).await;
    read(&mut live, 2).await;
    for i in 0..3 {
        stages.step(&format!("step {i}")).await;
    }
    read(&mut live, 3).await;
    eventually(
        Duration::from_secs(10),
        "3 live deliveries timed",
        || async { (timed(&node) == 3).then_some(()) },
    )
    .await;
    // A viewer replaying the same events from the feed's window: seconds-old, not timed.
    let mut late = open_ws(&node.ws(&build_id, &token, 0)).await;
    assert_eq!(read(&mut late, 5).await.len(), 5);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(timed(&node), 3, "{}", node.edge.state.metrics.render());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_published_without_the_edge_s_queued_is_whole_when_its_log_says_so() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let build_id = ulid::Ulid::generate().to_string();
    let token = node.token(&build_id);
    let mut stages = Stages::new(&nats, &build_id);
    for i in 0..3 {
        stages.step(&format!("step {i}")).await;
    }
    for _ in 0..2 {
        let mut socket = open_ws(&node.ws(&build_id, &token, 0)).await;
        assert_eq!(
            seqs(&read(&mut socket, 4).await),
            stored_seqs(&nats, &build_id).await
        );
    }
    let metrics = node.edge.state.metrics.render();
    assert!(
        metrics.contains("buildwire_edge_stream_starts_total{from=\"window\"} 2"),
        "both from the window the feed filled:\n{metrics}"
    );
}

fn disconnect(close: Option<(u16, String)>) -> (u16, Value) {
    let (code, reason) = close.expect("a close frame");
    let typed = serde_json::from_str(&reason).unwrap_or_else(|_| panic!("a Disconnect: {reason}"));
    (code, typed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_close_carries_a_typed_disconnect() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let (build_id, token, mut stages) = build(&node, &nats, 0).await;
    let queued = stored_seqs(&nats, &build_id).await[0];
    for (message, code, reason) in [
        (Message::text("not json"), 1008, "unsupported_message"),
        (
            Message::binary(vec![1u8, 2, 3]),
            1008,
            "unsupported_message",
        ),
        (Message::text("x".repeat(2000)), 1009, "message_too_big"),
        (Message::text("x".repeat(200_000)), 1009, "message_too_big"),
    ] {
        let mut socket = open_ws(&node.ws(&build_id, &token, 0)).await;
        read(&mut socket, 2).await;
        let (got, typed) = disconnect(send_and_await_close(&mut socket, message).await);
        assert_eq!((got, typed["code"].as_u64()), (code, Some(u64::from(code))));
        assert_eq!(typed["reason"], reason);
        assert_eq!(typed["resumeAfter"].as_u64(), Some(queued));
    }
    stages.complete().await;
    let finished = watch_ws(&node.ws(&build_id, &token, 0)).await;
    let (code, typed) = disconnect(finished.close);
    assert_eq!(code, 1000);
    assert_eq!(typed, json!({ "code": 1000, "reason": "build_finished" }));
}
