//! A build's feed outlives its last viewer for `BUILDWIRE_FEED_LINGER_SECS`: viewers
//! coming back within it resume from the feed's window (no history read), and it goes
//! away after.

use std::time::Duration;

use buildwire_testkit::{NatsFixture, connect, eventually};
use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use crate::edge_clients::{KEYS, Node, Stages, open_ws, stored_seqs, submit, watch_ws};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads the `seq` of `n` build events (greeting and heartbeats skipped).
async fn read_events(socket: &mut Socket, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < n {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("an event within 20 s")
            .expect("open socket")
            .expect("frame");
        if let Message::Text(text) = message {
            let value: serde_json::Value = serde_json::from_str(&text).expect("json");
            if !matches!(value["type"].as_str(), Some("connected" | "heartbeat")) {
                seqs.push(value["seq"].as_u64().expect("events carry seq"));
            }
        }
    }
    seqs
}

fn metric(node: &Node, line: &str) -> bool {
    node.edge.state.metrics.render().lines().any(|l| l == line)
}

async fn wait_for_metric(node: &Node, line: &str) {
    eventually(Duration::from_secs(20), line, || async {
        metric(node, line).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_outlives_its_last_viewer_for_the_linger_and_resumes_come_from_memory() {
    let fixture = NatsFixture::start();
    let node = Node::with_env(&fixture.url(), KEYS, &[("BUILDWIRE_FEED_LINGER_SECS", "2")]).await;
    let nats = connect(&fixture.url()).await;
    let accepted = submit(&node, "Create a todo app with dark mode").await;
    let build_id = accepted["buildId"].as_str().expect("buildId").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    let mut stages = Stages::new(&nats, &build_id);
    for i in 0..3 {
        stages.step(&format!("step {i}")).await;
    }

    // A viewer reads queued + 3 steps, then leaves.
    let mut socket = open_ws(&node.ws(&build_id, &token, 0)).await;
    let mut seen = read_events(&mut socket, 4).await;
    socket.close(None).await.expect("close");
    drop(socket);
    wait_for_metric(&node, "buildwire_edge_connections{transport=\"ws\"} 0").await;
    assert!(
        metric(&node, "buildwire_edge_live_builds 1"),
        "the feed lingers after its last viewer"
    );

    // Events stored while nobody watches reach the lingering feed; a viewer resuming
    // gets them from memory.
    for i in 3..6 {
        stages.step(&format!("step {i}")).await;
    }
    let cursor = *seen.last().expect("a seq");
    let mut socket = open_ws(&node.ws(&build_id, &token, cursor)).await;
    seen.extend(read_events(&mut socket, 3).await);
    assert_eq!(seen, stored_seqs(&nats, &build_id).await, "each event once");
    assert!(
        metric(
            &node,
            "buildwire_edge_stream_starts_total{from=\"window\"} 2"
        ),
        "both opens were served from the window:\n{}",
        node.edge.state.metrics.render()
    );
    // Every labelled series starts at zero (metrics.rs), so "none" is a 0.
    assert!(
        metric(
            &node,
            "buildwire_edge_stream_starts_total{from=\"history\"} 0"
        ),
        "no open read history"
    );
    socket.close(None).await.expect("close");
    drop(socket);

    // After the linger the feed goes; a later viewer still gets everything.
    wait_for_metric(&node, "buildwire_edge_live_builds 0").await;
    stages.complete().await;
    let rest = watch_ws(&node.ws(&build_id, &token, 0)).await;
    assert_eq!(rest.seqs, stored_seqs(&nats, &build_id).await);
    assert_eq!(rest.close.map(|c| c.0), Some(1000), "build finished");
}
