//! Test-side clients of the edge: an edge node in-process, a publisher of build events as
//! the stages would, and WebSocket/SSE viewers written against design.md alone.

use std::time::Duration;

use buildwire_edge::EdgeHandle;
use buildwire_runtime::{Config, nats::Nats, publish::Publisher};
use buildwire_schemas::events::{Complete, StatusCode, StatusUpdate};
use buildwire_schemas::{Event, EventBody};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// The service key every test node accepts.
pub const SERVICE_KEY: &str = "test-service-key-0123456789";
/// The keyring of test nodes unless a test rotates.
pub const KEYS: &str = "k1:0123456789abcdef0123456789abcdef";

/// One edge node on a free port.
pub struct Node {
    pub edge: EdgeHandle,
    pub stop: CancellationToken,
    pub data: tempfile::TempDir,
}

impl Node {
    pub async fn start(nats_url: &str) -> Node {
        Self::with_keys(nats_url, KEYS).await
    }

    pub async fn with_keys(nats_url: &str, jwt_keys: &str) -> Node {
        Self::with_env(nats_url, jwt_keys, &[]).await
    }

    pub async fn with_env(nats_url: &str, jwt_keys: &str, extra: &[(&str, &str)]) -> Node {
        Self::launch(nats_url, jwt_keys, extra, buildwire_edge::Mode::Service).await
    }

    /// A node serving the demo page and routes, as `up` and `demo` run it.
    pub async fn demo(nats_url: &str) -> Node {
        Self::launch(nats_url, KEYS, &[], buildwire_edge::Mode::Demo).await
    }

    async fn launch(
        nats_url: &str,
        jwt_keys: &str,
        extra: &[(&str, &str)],
        mode: buildwire_edge::Mode,
    ) -> Node {
        let data = tempfile::tempdir().expect("tmp");
        let mut env: Vec<(String, String)> = vec![
            ("BUILDWIRE_HTTP_ADDR".into(), "127.0.0.1:0".into()),
            ("NATS_URL".into(), nats_url.into()),
            ("BUILDWIRE_SERVICE_KEYS".into(), SERVICE_KEY.into()),
            ("BUILDWIRE_JWT_KEYS".into(), jwt_keys.into()),
            (
                "BUILDWIRE_DATA_DIR".into(),
                data.path().display().to_string(),
            ),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::load_from(None, env).expect("config");
        let nats = Nats::setup(&config, "test-edge").await.expect("nats");
        let stop = CancellationToken::new();
        let edge = buildwire_edge::start(&config, nats, stop.clone(), mode)
            .await
            .expect("edge starts");
        Node { edge, stop, data }
    }

    pub fn http(&self) -> String {
        self.edge.url.clone()
    }

    pub fn ws(&self, build_id: &str, token: &str, after: u64) -> String {
        format!(
            "ws://{}/ws/builds/{build_id}?token={token}&after={after}",
            self.edge.addr
        )
    }

    pub fn sse(&self, build_id: &str, token: &str) -> String {
        format!("{}/events/{build_id}?token={token}", self.edge.url)
    }

    /// A token for `build_id` from this node's keyring.
    pub fn token(&self, build_id: &str) -> String {
        self.edge.state.keyring.issue(build_id, "user-1").0
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// An HTTP client (installs the one rustls provider first).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `POST /v1/builds` with `body` as the service: the status and the JSON answer (`null`
/// when the answer is not JSON).
pub async fn post_build(node: &Node, body: Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}/v1/builds", node.http()))
        .bearer_auth(SERVICE_KEY)
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Submits a prompt through the API; answers the 202 body.
pub async fn submit(node: &Node, prompt: &str) -> Value {
    let (status, answer) = post_build(
        node,
        serde_json::json!({ "prompt": prompt, "userId": "user-1" }),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    answer
}

/// Publishes a build's events as the stages would.
pub struct Stages {
    publisher: Publisher,
    pub build_id: String,
    counter: u64,
}

impl Stages {
    pub fn new(nats: &Nats, build_id: &str) -> Stages {
        Stages {
            publisher: Publisher::new(nats.js.clone()),
            build_id: build_id.to_string(),
            counter: 0,
        }
    }

    /// Publishes a status step (retrying while NATS is away); its seq.
    pub async fn step(&mut self, message: &str) -> u64 {
        let body = EventBody::Status(StatusUpdate {
            code: StatusCode::Write,
            message: message.to_string(),
            progress: None,
            build_status: None,
        });
        self.publish(body).await
    }

    /// Publishes `complete`.
    pub async fn complete(&mut self) -> u64 {
        self.publish(EventBody::Complete(Complete {
            preview_url: format!("http://preview/{}/", self.build_id),
            message: "ready".into(),
            build_log_url: None,
        }))
        .await
    }

    pub async fn publish(&mut self, body: EventBody) -> u64 {
        self.counter += 1;
        let event = Event::new(&self.build_id, "req-test", body);
        let msg_id = format!("{}:test:{}", self.build_id, self.counter);
        for _ in 0..300 {
            match self.publisher.event(&event, &msg_id).await {
                Ok(published) => return published.seq,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        panic!("publishing kept failing for 30 s");
    }
}

/// What a viewer saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// `seq` of every event, in order (greeting and heartbeats excluded).
    pub seqs: Vec<u64>,
    /// Every JSON message, including greeting and heartbeats.
    pub messages: Vec<Value>,
    /// The close frame (code, reason).
    pub close: Option<(u16, String)>,
}

impl Seen {
    fn take(&mut self, text: &str) {
        let value: Value = serde_json::from_str(text).expect("server sends JSON");
        let kind = value["type"].as_str().unwrap_or_default().to_string();
        if !matches!(kind.as_str(), "connected" | "heartbeat") {
            self.seqs
                .push(value["seq"].as_u64().expect("events carry seq"));
        }
        self.messages.push(value);
    }
}

/// Reads a WebSocket until the server closes it.
pub async fn watch_ws(url: &str) -> Seen {
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("handshake");
    read_until_close(socket).await
}

/// Collects every message of `socket` until its close frame (or an error).
async fn read_until_close(
    mut socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Seen {
    let mut seen = Seen::default();
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_secs(60), socket.next()).await
    {
        match message {
            Ok(Message::Text(text)) => seen.take(&text),
            Ok(Message::Close(frame)) => {
                seen.close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = socket.close(None).await;
    seen
}

/// Reads an SSE stream until the server ends it; `last_event_id` as a reconnecting
/// `EventSource` would send it.
pub async fn watch_sse(url: &str, last_event_id: Option<u64>) -> (u16, Seen) {
    let mut request = http().get(url);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let response = request.send().await.expect("sse request");
    let status = response.status().as_u16();
    let mut seen = Seen::default();
    if status != 200 {
        return (status, seen);
    }
    let mut events = eventsource_stream::EventStream::new(response.bytes_stream());
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(60), events.next()).await {
        let Ok(event) = event else { break };
        let value: Value = serde_json::from_str(&event.data).expect("data is JSON");
        assert_eq!(
            event.id,
            value["seq"].to_string(),
            "every SSE event's id: is its seq"
        );
        seen.take(&event.data);
    }
    (status, seen)
}

/// The stored seqs of a build, through the edge's own history reader.
pub async fn stored_seqs(nats: &Nats, build_id: &str) -> Vec<u64> {
    buildwire_testkit::stored_events(nats, build_id)
        .await
        .iter()
        .map(|e| e.seq)
        .collect()
}

/// A raw WebSocket for protocol tests.
pub async fn open_ws(
    url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("handshake")
        .0
}

/// Sends `message` and reads until the close frame.
pub async fn send_and_await_close(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    message: Message,
) -> Option<(u16, String)> {
    socket.send(message).await.ok()?;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => {
                return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
            }
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// Follows a build over WebSocket as the browser client does: on any close but "build
/// finished" (1000) it reconnects with `after` = the last seq it has.
pub async fn follow_ws(node_ws: impl Fn(u64) -> String) -> (Vec<u64>, Vec<(u16, String)>) {
    let mut seqs: Vec<u64> = Vec::new();
    let mut closes = Vec::new();
    for _ in 0..50 {
        let after = seqs.last().copied().unwrap_or(0);
        let Ok((socket, _)) = tokio_tungstenite::connect_async(node_ws(after)).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let seen = read_until_close(socket).await;
        seqs.extend(seen.seqs);
        let close = seen.close.unwrap_or((1006, String::new()));
        let done = close.0 == 1000;
        closes.push(close);
        if done {
            return (seqs, closes);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the build never finished for this viewer: closes {closes:?}");
}

/// Follows a build over SSE as `EventSource` does: reconnects with `Last-Event-ID` until
/// the stream ends after the terminal event or answers 204.
pub async fn follow_sse(url: &str) -> Vec<u64> {
    let mut seqs: Vec<u64> = Vec::new();
    let mut terminal = false;
    for _ in 0..50 {
        let (status, seen) = watch_sse(url, seqs.last().copied()).await;
        if status == 204 {
            return seqs;
        }
        terminal |= seen.messages.iter().any(|m| {
            matches!(
                m["type"].as_str(),
                Some("complete" | "failed" | "cancelled")
            )
        });
        seqs.extend(seen.seqs);
        if terminal {
            return seqs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the build never finished for this SSE viewer");
}
