//! `GET /events/{id}?token=` with `Last-Event-ID` or `?after=`: a build's [`crate::hub::Session`] as
//! Server-Sent Events, the fallback when WebSocket fails. This file only encodes: `retry:`
//! and a `: connected` comment first, `id:` + `data:` per event (a run in one chunk),
//! comment heartbeats, and the [`Disconnect`] as a last comment `: disconnect {json}`. A
//! reconnect with nothing left to send gets 204, which makes `EventSource` stop. Written
//! by hand rather than with poem's `SSE`, which cannot send comments.

use std::fmt::Write;
use std::sync::Arc;

use buildwire_schemas::api::ProblemCode;
use buildwire_schemas::stream::Disconnect;
use bytes::Bytes;
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{Body, Request, Response, handler};

use crate::hub::session::NoInbox;
use crate::hub::{Out, Step};
use crate::problem::ApiError;
use crate::state::EdgeState;
use crate::streams::{self, StreamQuery};

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
            ApiError::bad_request(
                ProblemCode::InvalidCursor,
                "Last-Event-ID must be an event seq",
            )
        })?,
        _ => query.after.unwrap_or(0),
    };
    let session = streams::open(state, req, &build_id, &query, after, "sse").await?;
    // 204 only when the client has everything: one whose history is gone gets the
    // snapshot first, and the stream ends after it.
    if session.finished_at_open() {
        return Ok(Response::builder().status(StatusCode::NO_CONTENT).finish());
    }
    if query.is_fallback() {
        state.metrics.sse_fallbacks.inc();
    }
    let body = futures::stream::unfold(Some(session), |session| async move {
        let mut session = session?;
        let (chunk, open) = match session.next(&mut NoInbox).await {
            Step::Say(out) => (chunk(std::iter::once(out)), true),
            Step::Run(run) => (chunk(run), true),
            Step::End(end) => (disconnect(&end), false),
            Step::Gone => return None,
        };
        Some((Ok::<Bytes, std::io::Error>(chunk), open.then_some(session)))
    });
    Ok(Response::builder()
        .content_type("text/event-stream")
        .header("Cache-Control", "no-cache")
        .header("X-Accel-Buffering", "no")
        .body(Body::from_bytes_stream(body)))
}

/// One chunk holding every message of a step.
fn chunk(outs: impl Iterator<Item = Out>) -> Bytes {
    let mut text = String::new();
    for out in outs {
        let _ = match out {
            Out::Event { seq, text: json } | Out::Snapshot { seq, text: json } => {
                write!(text, "id: {seq}\ndata: {json}\n\n")
            }
            Out::Connected {
                last_seq,
                recovered,
                ..
            } => write!(
                text,
                "retry: {RETRY_MS}\n\n: connected lastSeq={last_seq} recovered={recovered}\n\n"
            ),
            Out::Heartbeat { .. } => write!(text, ": heartbeat\n\n"),
        };
    }
    Bytes::from(text)
}

fn disconnect(end: &Disconnect) -> Bytes {
    Bytes::from(format!(": disconnect {}\n\n", end.to_json()))
}
