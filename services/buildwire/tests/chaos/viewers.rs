//! Viewers that behave like the browser client (`clients/web/buildwire.js`), written
//! against design.md: raw WebSocket (tokio-tungstenite) and SSE (reqwest +
//! eventsource-stream) that resume with `after=<lastSeq>` on any drop, stop after the
//! terminal event (WS close 1000, SSE end after it, or 204), and move to the other edge
//! node when theirs refuses (as a load balancer would send them). They keep every `seq`
//! exactly as received, so a duplicate or a gap shows in the checks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;

/// A stream that delivered nothing for this long is resumed (the client's watchdog).
const LIVENESS: Duration = Duration::from_secs(45);
/// A connection attempt that takes longer failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP client (installs the one rustls provider first); no pooled connections, so a
/// killed edge's sockets are never reused.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

/// WebSocket or Server-Sent Events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `GET /ws/builds/{id}?token=&after=`.
    Ws,
    /// `GET /events/{id}?token=&after=`.
    Sse,
}

/// What one viewer has seen so far.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every event's `seq`, as received (greetings and heartbeats excluded).
    pub seqs: Vec<u64>,
    /// `snapshot` events (history lost).
    pub snapshots: usize,
    /// The edge node it uses now.
    pub edge: usize,
    /// When each connection was accepted (WS `connected`, SSE 200).
    pub connected: Vec<Instant>,
    /// It saw the terminal event or was told the build is over.
    pub finished: bool,
}

/// One viewer's task and what it saw.
pub struct Viewer {
    /// Index of the build it follows.
    pub build: usize,
    /// How it connects.
    pub transport: Transport,
    /// Shared with its task.
    pub seen: Arc<Mutex<Seen>>,
    task: JoinHandle<()>,
}

/// Where viewers connect: the edge nodes' `host:port`.
#[derive(Clone)]
pub struct Edges(pub Arc<Vec<String>>);

/// How one connection ended.
enum Ended {
    /// The build is over for this viewer.
    Finished,
    /// It was up, then dropped: resume on the same node.
    Dropped,
    /// It never came up: try the other node after a pause.
    Refused,
}

impl Viewer {
    /// Starts following `build_id` (index `build`) from its first event over `transport`,
    /// first on edge `edge`.
    pub fn spawn(
        edges: &Edges,
        http: &reqwest::Client,
        build: usize,
        build_id: &str,
        token: &str,
        transport: Transport,
        edge: usize,
    ) -> Viewer {
        let seen = Arc::new(Mutex::new(Seen {
            edge,
            ..Seen::default()
        }));
        let watch = Watch {
            edges: edges.clone(),
            http: http.clone(),
            build_id: build_id.to_string(),
            token: token.to_string(),
            seen: seen.clone(),
        };
        let task = tokio::spawn(async move { watch.follow(transport).await });
        Viewer {
            build,
            transport,
            seen,
            task,
        }
    }

    /// Waits for it to finish, at most until `deadline`; false if it had to be stopped.
    pub async fn join(&mut self, deadline: Instant) -> bool {
        match tokio::time::timeout_at(deadline, &mut self.task).await {
            Ok(_) => true,
            Err(_) => {
                self.task.abort();
                false
            }
        }
    }
}

struct Watch {
    edges: Edges,
    http: reqwest::Client,
    build_id: String,
    token: String,
    seen: Arc<Mutex<Seen>>,
}

impl Watch {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().expect("viewer state")
    }

    async fn follow(self, transport: Transport) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let (edge, after) = {
                let seen = self.seen();
                (seen.edge, seen.seqs.last().copied().unwrap_or(0))
            };
            let addr = self.edges.0[edge].clone();
            let ended = match transport {
                Transport::Ws => self.websocket(&addr, after).await,
                Transport::Sse => self.sse(&addr, after).await,
            };
            match ended {
                Ended::Finished => {
                    self.seen().finished = true;
                    return;
                }
                Ended::Dropped => {
                    backoff = Duration::from_millis(100);
                    tokio::time::sleep(backoff).await;
                }
                Ended::Refused => {
                    {
                        let mut seen = self.seen();
                        seen.edge = (seen.edge + 1) % self.edges.0.len();
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// Takes one event (or greeting) as JSON text; true if it ends the build.
    fn take(&self, text: &str) -> bool {
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            panic!("the edge sent something that is not JSON: {text}");
        };
        let kind = value["type"].as_str().unwrap_or_default();
        let mut seen = self.seen();
        match kind {
            "connected" => seen.connected.push(Instant::now()),
            "heartbeat" => {}
            "snapshot" => seen.snapshots += 1,
            _ => seen
                .seqs
                .push(value["seq"].as_u64().expect("every event carries its seq")),
        }
        matches!(kind, "complete" | "failed" | "cancelled")
    }

    async fn websocket(&self, addr: &str, after: u64) -> Ended {
        let url = format!(
            "ws://{addr}/ws/builds/{}?token={}&after={after}",
            self.build_id, self.token
        );
        let Ok(Ok((mut socket, _))) =
            timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(url)).await
        else {
            return Ended::Refused;
        };
        let mut greeted = false;
        loop {
            let message = match timeout(LIVENESS, socket.next()).await {
                Ok(Some(Ok(message))) => message,
                _ => break,
            };
            match message {
                Message::Text(text) => {
                    // The first frame is always the `connected` greeting.
                    greeted = true;
                    if self.take(&text) {
                        return Ended::Finished;
                    }
                }
                Message::Close(frame) => {
                    if frame.is_some_and(|f| u16::from(f.code) == 1000) {
                        return Ended::Finished;
                    }
                    break;
                }
                _ => {}
            }
        }
        if greeted {
            Ended::Dropped
        } else {
            Ended::Refused
        }
    }

    async fn sse(&self, addr: &str, after: u64) -> Ended {
        let url = format!(
            "http://{addr}/events/{}?token={}&after={after}",
            self.build_id, self.token
        );
        let request = self
            .http
            .get(url)
            .header("Accept", "text/event-stream")
            .send();
        let response = match timeout(CONNECT_TIMEOUT, request).await {
            Ok(Ok(response)) => response,
            _ => return Ended::Refused,
        };
        match response.status().as_u16() {
            200 => self.seen().connected.push(Instant::now()),
            204 => return Ended::Finished,
            _ => return Ended::Refused,
        }
        let mut events = response.bytes_stream().eventsource();
        while let Ok(Some(Ok(event))) = timeout(LIVENESS, events.next()).await {
            if self.take(&event.data) {
                return Ended::Finished;
            }
        }
        Ended::Dropped
    }
}
