//! The HTTP side both fakes share: a hyper HTTP/1.1 server on a free loopback port that
//! checks each request the way the real API would (protocol-specific), records it, and
//! answers with the next scripted [`Reply`], streaming its frames with the timing and the
//! ending (clean, cut, kept open, silent) the test asked for. It also notes when a client
//! goes away from a stream that was still open, so cancellation can be measured.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `POST`.
    pub method: String,
    /// `/v1/messages`, `/v1/chat/completions`.
    pub path: String,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The JSON body (`Value::Null` when it was not JSON).
    pub body: Value,
}

impl Recorded {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A piece of a streamed answer.
#[derive(Clone, Debug)]
pub enum Frame {
    /// Bytes written as they are (whole SSE frames, usually).
    Text(String),
    /// Silence for a while.
    Pause(Duration),
}

/// How a streamed answer ends after its frames.
#[derive(Clone, Debug)]
pub enum End {
    /// The response ends normally.
    Close,
    /// The connection is aborted (no terminating chunk): a cut mid-stream.
    Cut,
    /// The stream stays open, writing this keep-alive text every 50 ms, until the client
    /// goes away (noted, see [`Fake::wait_disconnect`]).
    Hang(String),
    /// The stream stays open and silent until the client goes away.
    Stall,
}

/// What the fake answers to one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete (usually error) answer: status, headers and a JSON body.
    Json {
        /// HTTP status.
        status: u16,
        /// Extra headers (`retry-after`).
        headers: Vec<(String, String)>,
        /// The body.
        body: String,
    },
    /// `200 text/event-stream`: frames, then the ending.
    Stream {
        /// Frames in order.
        frames: Vec<Frame>,
        /// What happens after the last frame.
        end: End,
    },
    /// `reply`, but only after `after` (a server slow to answer at all).
    Late {
        /// How long the response headers are held back.
        after: Duration,
        /// The answer then.
        reply: Box<Reply>,
    },
}

impl Reply {
    /// This reply with one more header (for example `retry-after`).
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Json { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// This reply, sent only after `after`.
    pub fn late(self, after: Duration) -> Reply {
        Reply::Late {
            after,
            reply: Box::new(self),
        }
    }
}

/// The refusal the real API would give a request, if any.
pub(crate) type Check = Box<dyn Fn(&Recorded) -> Option<Reply> + Send + Sync>;

/// Protocol-specific behaviour of a fake.
pub(crate) struct Protocol {
    /// Path prefix of the base URL handed to clients (`""` or `/v1`).
    pub base_path: &'static str,
    /// The refusal the real API would give this request, if any.
    pub check: Check,
    /// The answer when the test scripted no more replies.
    pub exhausted: Reply,
}

struct State {
    protocol: Protocol,
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
    disconnects: Mutex<Vec<Instant>>,
    disconnected: Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running fake server; stops when dropped.
pub struct Fake {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Body = BoxBody<Bytes, std::io::Error>;

impl Fake {
    pub(crate) async fn start(protocol: Protocol) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State {
            protocol,
            script: Mutex::default(),
            requests: Mutex::default(),
            disconnects: Mutex::default(),
            disconnected: Notify::new(),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(answer(&state, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Fake { addr, state, task }
    }

    /// The base URL a client is configured with (`http://127.0.0.1:<port>`, plus `/v1` for
    /// the OpenAI-compatible fake, as each SDK takes it).
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.state.protocol.base_path)
    }

    /// Queues the answer to the next request.
    pub fn push(&self, reply: Reply) {
        lock(&self.state.script).push_back(reply);
    }

    /// Every request received so far, in order (refused ones included).
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.requests).clone()
    }

    /// Scripted replies not used yet.
    pub fn unused(&self) -> usize {
        lock(&self.state.script).len()
    }

    /// Waits up to `limit` for a client to go away from a stream still open (an
    /// [`End::Hang`] or [`End::Stall`], or one still pausing); returns when it was noticed.
    pub async fn wait_disconnect(&self, limit: Duration) -> Option<Instant> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.state.disconnected.notified();
            if let Some(at) = lock(&self.state.disconnects).first() {
                return Some(*at);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return lock(&self.state.disconnects).first().copied();
            }
        }
    }
}

async fn answer(state: &Arc<State>, request: Request<Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    let refusal = (state.protocol.check)(&recorded);
    lock(&state.requests).push(recorded);
    let mut reply = match refusal {
        Some(refusal) => refusal,
        None => lock(&state.script)
            .pop_front()
            .unwrap_or_else(|| state.protocol.exhausted.clone()),
    };
    while let Reply::Late {
        after,
        reply: later,
    } = reply
    {
        tokio::time::sleep(after).await;
        reply = *later;
    }
    respond(state.clone(), reply)
}

fn respond(state: Arc<State>, reply: Reply) -> Response<Body> {
    match reply {
        Reply::Json {
            status,
            headers,
            body,
        } => {
            let mut response = Response::builder()
                .status(status)
                .header("content-type", "application/json");
            for (name, value) in headers {
                response = response.header(name, value);
            }
            response
                .body(Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed())
                .unwrap_or_else(|_| {
                    Response::new(BodyExt::boxed(Full::default().map_err(|e| match e {})))
                })
        }
        Reply::Stream { frames, end } => {
            let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
            tokio::spawn(write_stream(state, tx, frames, end));
            let chunks = futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
                .map(|item| item.map(hyper::body::Frame::data));
            Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(BodyExt::boxed(StreamBody::new(chunks)))
                .unwrap_or_else(|_| {
                    Response::new(BodyExt::boxed(Full::default().map_err(|e| match e {})))
                })
        }
        Reply::Late { reply, .. } => respond(state, *reply),
    }
}

/// Feeds a stream's body; notes the moment the client went away while it was still open.
async fn write_stream(
    state: Arc<State>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    frames: Vec<Frame>,
    end: End,
) {
    let gone = |state: &State| {
        lock(&state.disconnects).push(Instant::now());
        state.disconnected.notify_waiters();
    };
    for frame in frames {
        match frame {
            Frame::Text(text) => {
                if tx.send(Ok(Bytes::from(text))).await.is_err() {
                    return gone(&state);
                }
            }
            Frame::Pause(pause) => {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = tx.closed() => return gone(&state),
                }
            }
        }
    }
    match end {
        End::Close => {}
        End::Cut => {
            let _ = tx
                .send(Err(std::io::Error::other("connection cut by the test")))
                .await;
        }
        End::Hang(keep_alive) => loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    if tx.send(Ok(Bytes::from(keep_alive.clone()))).await.is_err() {
                        return gone(&state);
                    }
                }
                () = tx.closed() => return gone(&state),
            }
        },
        End::Stall => {
            tx.closed().await;
            gone(&state);
        }
    }
}
