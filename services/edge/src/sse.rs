//! `GET /events/{id}?token=` with `Last-Event-ID` or `?after=`: a build's events as
//! Server-Sent Events, the fallback when WebSocket fails.
//!
//! Every event carries `id:` (its `seq`) and `data:`; the stream starts with `retry:` and
//! a comment naming `lastSeq`/`recovered`, sends comment heartbeats when idle, and ends
//! after the terminal event. A reconnect with nothing left to send gets 204, which makes
//! `EventSource` stop. Written by hand rather than with poem's `SSE`, which cannot send
//! comments (heartbeats and close reasons).

use std::pin::Pin;
use std::sync::Arc;

use buildwire_schemas::Event;
use buildwire_schemas::EventBody;
use buildwire_schemas::events::Snapshot;
use bytes::Bytes;
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{Body, Request, Response, handler};
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::hub::{End, Greeting, Next, Viewer};
use crate::metrics::{ConnectionGuard, Metrics, TransportLabel};
use crate::problem::ApiError;
use crate::state::EdgeState;
use crate::streams::{self, HEARTBEAT, MAX_RUN, StreamQuery};

/// Reconnection delay suggested to `EventSource`, in milliseconds.
pub const RETRY_MS: u64 = 2000;

/// Opens the stream, or answers 204 when the build ended and the client has everything.
#[handler]
pub async fn events(
    req: &Request,
    Path(build_id): Path<String>,
    Query(query): Query<StreamQuery>,
    Data(state): Data<&Arc<EdgeState>>,
) -> Result<Response, ApiError> {
    let after = match req.header("Last-Event-ID") {
        Some(id) if !id.trim().is_empty() => id.trim().parse::<u64>().map_err(|_| {
            ApiError::bad_request("INVALID_CURSOR", "Last-Event-ID must be an event seq")
        })?,
        _ => query.after.unwrap_or(0),
    };
    let (viewer, greeting, ticket) = streams::open(state, req, &build_id, &query, after).await?;
    // 204 only when the client has everything: one whose history is gone gets the
    // snapshot first, and the stream ends after it.
    if greeting.finished && greeting.recovered {
        return Ok(Response::builder().status(StatusCode::NO_CONTENT).finish());
    }
    if query.is_fallback() {
        state.metrics.sse_fallbacks.inc();
    }
    let stream = SseStream {
        viewer,
        metrics: state.metrics.clone(),
        stopping: Box::pin(state.shutdown.clone().cancelled_owned()),
        heartbeat: tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT),
        sent_since_tick: false,
        ending: None,
        opening: Some(greeting),
        done: false,
        _open: ConnectionGuard::open(&state.metrics, "sse"),
        _ticket: ticket,
    };
    let body = futures::stream::unfold(stream, |mut stream| async move {
        let chunk = stream.next_chunk().await?;
        Some((Ok::<Bytes, std::io::Error>(chunk), stream))
    });
    Ok(Response::builder()
        .content_type("text/event-stream")
        .header("Cache-Control", "no-cache")
        .header("X-Accel-Buffering", "no")
        .body(Body::from_bytes_stream(body)))
}

struct SseStream {
    viewer: Viewer,
    metrics: Metrics,
    /// Made once per stream, not once per event.
    stopping: Pin<Box<WaitForCancellationFutureOwned>>,
    heartbeat: tokio::time::Interval,
    sent_since_tick: bool,
    /// The end the last run reached, handled on the next call.
    ending: Option<End>,
    opening: Option<Greeting>,
    done: bool,
    _open: ConnectionGuard,
    _ticket: crate::guard::ViewerTicket,
}

fn push_data(text: &mut String, seq: u64, json: &str) {
    use std::fmt::Write;
    let _ = write!(text, "id: {seq}\ndata: {json}\n\n");
}

fn comment(text: &str) -> Bytes {
    Bytes::from(format!(": {text}\n\n"))
}

impl SseStream {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        if let Some(greeting) = self.opening.take() {
            let mut text = format!(
                "retry: {RETRY_MS}\n\n: connected lastSeq={} recovered={}\n\n",
                greeting.last_seq, greeting.recovered
            );
            if let Some(progress) = greeting.snapshot {
                let seq = progress.last_seq;
                let mut snapshot = Event::new(
                    self.viewer.build_id(),
                    greeting.request_id,
                    EventBody::Snapshot(Snapshot { progress }),
                );
                snapshot.seq = seq;
                let json = serde_json::to_string(&snapshot).unwrap_or_default();
                push_data(&mut text, seq, &json);
            }
            return Some(Bytes::from(text));
        }
        let next = match self.ending.take() {
            Some(end) => Ok(Next::End(end)),
            None => loop {
                tokio::select! {
                    biased;
                    _ = &mut self.stopping => {
                        self.done = true;
                        return Some(comment("closing: server going away; reconnect with Last-Event-ID"));
                    }
                    next = self.viewer.next() => break next,
                    _ = self.heartbeat.tick() => {
                        if !std::mem::take(&mut self.sent_since_tick) {
                            return Some(comment("heartbeat"));
                        }
                    }
                }
            },
        };
        match next {
            Ok(Next::Frame(first)) => {
                let mut text = String::with_capacity(first.json.len() + 32);
                let mut frame = first;
                let mut count = 1;
                loop {
                    push_data(&mut text, frame.seq, &frame.json);
                    self.metrics.delivered(&frame, frame.prev.is_some());
                    if count == MAX_RUN {
                        break;
                    }
                    match self.viewer.try_next() {
                        Some(Next::Frame(more)) => {
                            frame = more;
                            count += 1;
                        }
                        Some(Next::End(end)) => {
                            self.ending = Some(end);
                            break;
                        }
                        None => break,
                    }
                }
                self.sent_since_tick = true;
                Some(Bytes::from(text))
            }
            Ok(Next::End(End::Finished)) => None,
            Ok(Next::End(End::Slow)) => {
                self.done = true;
                self.metrics
                    .slow_viewer_closes
                    .get_or_create(&TransportLabel { transport: "sse" })
                    .inc();
                Some(comment(&format!(
                    "closing: slow consumer; reconnect with Last-Event-ID {}",
                    self.viewer.cursor()
                )))
            }
            Err(err) => {
                self.done = true;
                Some(comment(&format!("closing: {err}")))
            }
        }
    }
}
