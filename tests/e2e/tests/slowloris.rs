//! Issue 15, slowloris: an edge node closes connections that trickle their request head
//! (header timeout) and refuses more than its cap of request-less connections from one
//! address before reading anything, while other addresses are served; both are counted
//! in `/metrics`.

use std::time::{Duration, Instant};

use buildwire_testkit::NatsFixture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::edge_clients::{KEYS, Node};

/// A connection from `source` (a loopback address) to the node, with half a request head.
async fn partial_head(node: &Node, source: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind((std::net::Ipv4Addr::from(source), 0).into())
        .expect("bind the source address");
    let mut stream = socket.connect(node.edge.addr).await.expect("connect");
    // Writing may fail on a socket the edge already closed; that is the refusal itself.
    let _ = stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: edge\r\nX-Slow: ")
        .await;
    stream
}

/// Whether the edge closed `stream` within `limit` (EOF or reset), without sending a reply.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 256];
    match tokio::time::timeout(limit, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(n)) => {
            // hyper may answer a timed-out head with nothing; a reply here is a failure.
            panic!(
                "the edge answered a partial head: {:?}",
                String::from_utf8_lossy(&buf[..n])
            )
        }
        Err(_) => false,
    }
}

/// `GET path` from another loopback address, answered while the attack holds.
async fn get_from(node: &Node, source: [u8; 4], path: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(source))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let response = client
        .get(format!("{}{path}", node.http()))
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics:\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_are_closed_and_one_address_cannot_hold_every_socket() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fixture = NatsFixture::start();
    let node = Node::with_env(
        &fixture.url(),
        KEYS,
        &[
            ("BUILDWIRE_HEADER_TIMEOUT_SECS", "5"),
            ("BUILDWIRE_MAX_CONNECTIONS_PER_ADDR", "20"),
        ],
    )
    .await;
    let attacker = [127, 0, 0, 1];
    let started = Instant::now();
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(partial_head(&node, attacker).await);
    }
    // Past the cap, new connections from that address are closed before anything is read.
    for _ in 0..10 {
        let mut refused = partial_head(&node, attacker).await;
        assert!(
            closed_within(&mut refused, Duration::from_millis(1500)).await,
            "a connection past the address's cap is closed at once"
        );
    }
    // Another address is served meanwhile.
    let (status, _) = get_from(&node, [127, 0, 0, 2], "/healthz").await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "checked before the header timeout: {:?}",
        started.elapsed()
    );
    // The trickling heads are closed once the header timeout passes.
    for stream in &mut held {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "a head that never completes is closed after the header timeout"
        );
    }
    assert!(started.elapsed() >= Duration::from_millis(4900));
    // The address is free again, and the node says what it did.
    let (status, metrics) = get_from(&node, attacker, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        counter(&metrics, "buildwire_edge_http_refused_address_cap_total"),
        10
    );
    assert_eq!(
        counter(&metrics, "buildwire_edge_http_header_timeouts_total"),
        20
    );
    node.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let fixture = NatsFixture::start();
    let node = Node::with_env(
        &fixture.url(),
        KEYS,
        &[("BUILDWIRE_HEADER_TIMEOUT_SECS", "1")],
    )
    .await;
    let mut stream = TcpStream::connect(node.edge.addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: edge\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.expect("reply");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Nothing more is sent: the connection is closed, not kept forever.
    assert!(closed_within(&mut stream, Duration::from_secs(4)).await);
    node.stop.cancel();
}
