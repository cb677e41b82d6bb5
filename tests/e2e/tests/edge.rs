//! The edge's fan-out against a real nats-server: every viewer sees every event once,
//! over both transports, through resumes, NATS restarts, slow readers and node changes.

use std::time::{Duration, Instant};

use buildwire_testkit::{NatsFixture, connect, eventually};
use futures::StreamExt;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::edge_clients::{
    Node, Stages, follow_sse, follow_ws, open_ws, stored_seqs, submit, watch_sse, watch_ws,
};

fn after(expected: &[u64], cursor: u64) -> Vec<u64> {
    expected.iter().copied().filter(|s| *s > cursor).collect()
}

async fn wait_for_connections(node: &Node, ws: usize, sse: usize) {
    eventually(Duration::from_secs(20), "viewers to connect", || async {
        let text = node.edge.state.metrics.render();
        let ws_ok = text.contains(&format!(
            "buildwire_edge_connections{{transport=\"ws\"}} {ws}"
        ));
        let sse_ok = sse == 0
            || text.contains(&format!(
                "buildwire_edge_connections{{transport=\"sse\"}} {sse}"
            ));
        (ws_ok && sse_ok).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_viewers_over_ws_and_sse_receive_exactly_the_published_sequence() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let accepted = submit(&node, "Create a todo app with dark mode").await;
    let build_id = accepted["buildId"].as_str().expect("buildId").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();

    let mut viewers = JoinSet::new();
    for _ in 0..50 {
        let ws = node.ws(&build_id, &token, 0);
        viewers.spawn(async move { watch_ws(&ws).await.seqs });
        let sse = node.sse(&build_id, &token);
        viewers.spawn(async move { watch_sse(&sse, None).await.1.seqs });
    }
    wait_for_connections(&node, 50, 50).await;
    let mut stages = Stages::new(&nats, &build_id);
    let started = Instant::now();
    for i in 0..40 {
        stages.step(&format!("step {i}")).await;
    }
    stages.complete().await;
    let expected = stored_seqs(&nats, &build_id).await;
    assert_eq!(expected.len(), 42, "queued + 40 steps + complete");
    let mut count = 0;
    while let Some(seen) = viewers.join_next().await {
        assert_eq!(
            seen.expect("viewer"),
            expected,
            "every viewer, every event, once, in order"
        );
        count += 1;
    }
    assert_eq!(count, 100);
    eprintln!(
        "100 viewers x {} events delivered in {:?} after the first publish",
        expected.len(),
        started.elapsed()
    );
    let metrics = node.edge.state.metrics.render();
    assert!(
        metrics.contains("buildwire_edge_events_delivered_total{type=\"status\"} 4100"),
        "{metrics}"
    );
    assert!(
        metrics.contains("buildwire_edge_live_builds 1"),
        "the feed lingers after its last viewer (feed_linger.rs)"
    );
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let count = value("buildwire_edge_delivery_latency_seconds_count");
    let sum = value("buildwire_edge_delivery_latency_seconds_sum");
    // Frames refetched from history after a gap (possible under load) are not "live" and
    // are not timed; the histogram must still have measured the live ones.
    assert!(count > 0.0, "live deliveries are timed: {count}");
    eprintln!(
        "publish-to-send latency: mean {:.2} ms over {count} live deliveries",
        sum / count * 1000.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_from_every_position_gives_no_gap_and_no_duplicate() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let accepted = submit(&node, "Create a notes app").await;
    let build_id = accepted["buildId"].as_str().expect("buildId").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    // Another build interleaved, so seqs of this one are not contiguous.
    let other = ulid::Ulid::generate().to_string();
    let mut noise = Stages::new(&nats, &other);
    let mut stages = Stages::new(&nats, &build_id);

    // While events are still being published: viewers join at many cursors.
    let mut viewers = JoinSet::new();
    for i in 0..30 {
        stages.step(&format!("step {i}")).await;
        noise.step("noise").await;
        if i % 3 == 0 {
            let cursor = stored_seqs(&nats, &build_id).await[i / 3];
            let ws = node.ws(&build_id, &token, cursor);
            viewers.spawn(async move { (cursor, watch_ws(&ws).await.seqs) });
            let sse = node.sse(&build_id, &token);
            viewers.spawn(async move { (cursor, watch_sse(&sse, Some(cursor)).await.1.seqs) });
        }
    }
    stages.complete().await;
    let expected = stored_seqs(&nats, &build_id).await;
    while let Some(result) = viewers.join_next().await {
        let (cursor, seqs) = result.expect("viewer");
        assert_eq!(
            seqs,
            after(&expected, cursor),
            "resumed mid-build after {cursor}"
        );
    }

    // After the build: every position, both transports.
    let terminal = *expected.last().expect("events");
    for cursor in std::iter::once(0).chain(expected.iter().copied()) {
        let seen = watch_ws(&node.ws(&build_id, &token, cursor)).await;
        assert_eq!(seen.seqs, after(&expected, cursor), "ws after {cursor}");
        assert_eq!(seen.messages[0]["type"], "connected");
        assert_eq!(seen.messages[0]["lastSeq"], terminal);
        assert_eq!(seen.messages[0]["recovered"], true);
        assert_eq!(
            seen.close.as_ref().map(|c| c.0),
            Some(1000),
            "ws after {cursor}"
        );
        let (status, seen) = watch_sse(&node.sse(&build_id, &token), Some(cursor)).await;
        if cursor == terminal {
            assert_eq!(status, 204, "nothing left: EventSource must stop");
        } else {
            assert_eq!(seen.seqs, after(&expected, cursor), "sse after {cursor}");
        }
    }
    // `?after=` works for SSE like Last-Event-ID.
    let url = format!("{}&after={}", node.sse(&build_id, &token), expected[10]);
    assert_eq!(
        watch_sse(&url, None).await.1.seqs,
        after(&expected, expected[10])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_lose_nothing_when_nats_restarts_mid_stream() {
    let mut fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let accepted = submit(&node, "Create a chat app").await;
    let build_id = accepted["buildId"].as_str().expect("buildId").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    let mut viewers = JoinSet::new();
    for _ in 0..10 {
        let (ws_node, id, tok) = (node.edge.addr, build_id.clone(), token.clone());
        viewers.spawn(async move {
            follow_ws(|after| format!("ws://{ws_node}/ws/builds/{id}?token={tok}&after={after}"))
                .await
                .0
        });
        let sse = node.sse(&build_id, &token);
        viewers.spawn(async move { follow_sse(&sse).await });
    }
    wait_for_connections(&node, 10, 10).await;
    let mut stages = Stages::new(&nats, &build_id);
    for i in 0..20 {
        stages.step(&format!("before {i}")).await;
    }
    fixture.server.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    fixture
        .server
        .restart()
        .expect("nats-server restarts with its storage");
    for i in 0..20 {
        stages.step(&format!("after {i}")).await;
    }
    stages.complete().await;
    let expected = stored_seqs(&nats, &build_id).await;
    assert_eq!(expected.len(), 42);
    while let Some(seqs) = viewers.join_next().await {
        assert_eq!(seqs.expect("viewer"), expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_viewer_is_closed_with_a_reason_and_resumes_while_others_keep_up() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let accepted = submit(&node, "Create a gallery").await;
    let build_id = accepted["buildId"].as_str().expect("buildId").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();

    // The slow one reads its greeting, then stops reading.
    // A small receive buffer (no autotuning) so the kernel cannot absorb the whole build.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(32 * 1024).expect("SO_RCVBUF");
    let stream = socket.connect(node.edge.addr).await.expect("connect");
    let (mut slow, _) = tokio_tungstenite::client_async(node.ws(&build_id, &token, 0), stream)
        .await
        .expect("handshake");
    let greeting = slow.next().await.expect("greeting").expect("frame");
    assert!(greeting.to_text().expect("text").contains("connected"));
    let mut fast = JoinSet::new();
    for _ in 0..4 {
        let ws = node.ws(&build_id, &token, 0);
        fast.spawn(async move { (watch_ws(&ws).await, Instant::now()) });
    }
    wait_for_connections(&node, 5, 0).await;
    let mut stages = Stages::new(&nats, &build_id);
    let line = "x".repeat(8 * 1024);
    for i in 0..1500 {
        stages.step(&format!("{i} {line}")).await;
    }
    stages.complete().await;
    let published = Instant::now();
    let expected = stored_seqs(&nats, &build_id).await;
    // The others finish while the slow one still is not reading.
    while let Some(result) = fast.join_next().await {
        let (seen, finished) = result.expect("fast viewer");
        assert_eq!(seen.seqs, expected, "fast viewers get everything");
        eprintln!(
            "fast viewer done {:?} after the last publish",
            finished - published
        );
    }

    // Now it reads again: buffered events, then a close that says why and where to resume.
    let mut got: Vec<u64> = Vec::new();
    let mut close = None;
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(Duration::from_secs(30), slow.next()).await
    {
        match message {
            Message::Text(text) => {
                let value: serde_json::Value = serde_json::from_str(&text).expect("json");
                got.push(value["seq"].as_u64().expect("seq"));
            }
            Message::Close(frame) => {
                close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                break;
            }
            _ => {}
        }
    }
    let (code, reason) = close.expect("the slow viewer is closed with a reason");
    assert_eq!(code, 1013, "try again later: {reason}");
    // The reason is the typed disconnect: where to resume is a field.
    let disconnect: serde_json::Value = serde_json::from_str(&reason).expect("a Disconnect");
    assert_eq!(disconnect["reason"], "slow_consumer");
    let resume_at = disconnect["resumeAfter"]
        .as_u64()
        .expect("the disconnect names the resume cursor");
    assert_eq!(
        Some(&resume_at),
        got.last(),
        "the cursor is the last event it received"
    );
    assert!(
        got.len() < expected.len(),
        "it really fell behind ({} of {})",
        got.len(),
        expected.len()
    );
    let rest = watch_ws(&node.ws(&build_id, &token, resume_at)).await;
    got.extend(rest.seqs);
    assert_eq!(got, expected, "after resuming: everything once");
    let metrics = node.edge.state.metrics.render();
    assert!(
        metrics.contains("buildwire_edge_slow_viewer_closes_total{transport=\"ws\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_moving_between_edge_nodes_sees_every_event_once() {
    let fixture = NatsFixture::start();
    let a = Node::start(&fixture.url()).await;
    let b = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let accepted = submit(&a, "Create a timer").await;
    let build_id = accepted["buildId"].as_str().expect("buildId").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    let publisher = {
        let (nats, build_id) = (nats.clone(), build_id.clone());
        tokio::spawn(async move {
            let mut stages = Stages::new(&nats, &build_id);
            for i in 0..60 {
                stages.step(&format!("step {i}")).await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            stages.complete().await;
        })
    };
    let mut socket = open_ws(&a.ws(&build_id, &token, 0)).await;
    let mut got: Vec<u64> = Vec::new();
    while got.len() < 15 {
        let message = socket.next().await.expect("message").expect("frame");
        if let Message::Text(text) = message {
            let value: serde_json::Value = serde_json::from_str(&text).expect("json");
            if let Some(seq) = value["seq"].as_u64() {
                got.push(seq);
            }
        }
    }
    drop(socket);
    let cursor = *got.last().expect("seq");
    let rest = watch_ws(&b.ws(&build_id, &token, cursor)).await;
    got.extend(rest.seqs);
    publisher.await.expect("publisher");
    assert_eq!(got, stored_seqs(&nats, &build_id).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_history_is_gone_the_viewer_gets_recovered_false_and_a_snapshot() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let accepted = submit(&node, "Create a blog").await;
    let build_id = accepted["buildId"].as_str().expect("buildId").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    let mut stages = Stages::new(&nats, &build_id);
    for i in 0..10 {
        stages.step(&format!("step {i}")).await;
    }
    let seqs = stored_seqs(&nats, &build_id).await;
    // An operator purges the build's oldest events.
    let purge = serde_json::json!({ "filter": format!("build.{build_id}.events"), "seq": seqs[5] });
    let answer = nats
        .client
        .request("$JS.API.STREAM.PURGE.EVENTS", purge.to_string().into())
        .await
        .expect("purge");
    assert!(String::from_utf8_lossy(&answer.payload).contains("\"success\":true"));

    // A cursor that is still stored resumes normally.
    let mut socket = open_ws(&node.ws(&build_id, &token, seqs[6])).await;
    let hello: serde_json::Value = serde_json::from_str(
        socket
            .next()
            .await
            .expect("m")
            .expect("f")
            .to_text()
            .expect("t"),
    )
    .expect("json");
    assert_eq!(hello["recovered"], true);
    drop(socket);

    // A cursor whose history is gone: recovered false, a snapshot, then live events.
    let mut socket = open_ws(&node.ws(&build_id, &token, seqs[2])).await;
    let mut next_json = async || -> serde_json::Value {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .expect("message in time")
                .expect("message")
                .expect("frame");
            if let Message::Text(text) = message {
                return serde_json::from_str(&text).expect("json");
            }
        }
    };
    let hello = next_json().await;
    assert_eq!(hello["type"], "connected");
    assert_eq!(hello["recovered"], false);
    let last = *seqs.last().expect("seq");
    let snapshot = next_json().await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["seq"], last);
    assert_eq!(snapshot["progress"]["lastSeq"], last);
    let complete = stages.complete().await;
    let live = next_json().await;
    assert_eq!(
        (live["type"].as_str(), live["seq"].as_u64()),
        (Some("complete"), Some(complete))
    );

    // The build has ended: an SSE client whose cursor is gone gets the snapshot (with the
    // final state), not a 204 that would leave it without one.
    let (status, seen) = watch_sse(&node.sse(&build_id, &token), Some(seqs[2])).await;
    assert_eq!(status, 200);
    assert_eq!(seen.messages[0]["type"], "snapshot", "{:?}", seen.messages);
    assert_eq!(seen.messages[0]["progress"]["status"], "completed");
    // With everything, it gets 204 so `EventSource` stops.
    let (status, _) = watch_sse(&node.sse(&build_id, &token), Some(complete)).await;
    assert_eq!(status, 204);
}
