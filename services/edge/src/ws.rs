//! `GET /ws/builds/{id}?token=&after=`: a build's [`Session`] over WebSocket. This file
//! only does the handshake and the encoding: every step is one text frame, a run is
//! flushed once, and the session's [`Disconnect`] is the close frame (its code, and itself
//! as JSON for the reason).
//!
//! The edge owns the tungstenite stream (poem only hands over the upgraded connection), so
//! frames the protocol layer refuses are matched by their error type ([`inbound`]).

mod inbound;

use std::sync::Arc;
use std::time::Duration;

use buildwire_schemas::api::ProblemCode;
use buildwire_schemas::stream::Disconnect;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use poem::http::{StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{Request, Response, Upgraded, handler};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use self::inbound::Incoming;
use crate::hub::{Out, Session, Step};
use crate::problem::ApiError;
use crate::state::EdgeState;
use crate::streams::{self, StreamQuery};

/// Frames beyond this are refused by the protocol layer itself.
const MAX_FRAME: usize = 64 * 1024;
/// Bytes read from a socket at a time. tungstenite zero-fills its whole read buffer before
/// every read, so its 128 KiB default made every connection 128 KiB resident.
const READ_BUFFER: usize = 1024;
/// Bytes tungstenite buffers before it writes on its own; a run is flushed when it ends.
const WRITE_BUFFER: usize = 8 * 1024;
/// A write blocked this long means the client is gone or stuck: the socket is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a closing socket waits for the client's close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

type Socket = WebSocketStream<Upgraded>;

/// The `Sec-WebSocket-Key` of a WebSocket handshake (400 for anything else).
fn handshake_key(req: &Request) -> Result<&[u8], ApiError> {
    let has = |name, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    let handshake = req.method() == poem::http::Method::GET
        && has(header::UPGRADE, "websocket")
        && has(header::CONNECTION, "upgrade")
        && req.header(header::SEC_WEBSOCKET_VERSION) == Some("13");
    match req.headers().get(header::SEC_WEBSOCKET_KEY) {
        Some(key) if handshake => Ok(key.as_bytes()),
        _ => Err(ApiError::bad_request(
            ProblemCode::BadRequest,
            "not a WebSocket handshake (GET with Upgrade: websocket, version 13)",
        )),
    }
}

/// Opens the session after every check passed, then switches protocols; a refused
/// handshake is a problem+json answer.
#[handler]
pub async fn websocket(
    req: &Request,
    Path(build_id): Path<String>,
    Query(query): Query<StreamQuery>,
    Data(state): Data<&Arc<EdgeState>>,
) -> Result<Response, ApiError> {
    let accept = derive_accept_key(handshake_key(req)?);
    let after = query.after.unwrap_or(0);
    let session = streams::open(state, req, &build_id, &query, after, "ws").await?;
    let upgrade = req
        .take_upgrade()
        .map_err(|e| ApiError::bad_request(ProblemCode::BadRequest, e.to_string()))?;
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        // tungstenite's defaults reserve 128 KiB per connection for reading and buffer
        // 128 KiB of writes; clients send at most 1 KiB and runs are flushed when they end.
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME))
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(WRITE_BUFFER);
        let socket = Socket::from_raw_socket(upgraded, Role::Server, Some(config)).await;
        serve(socket, session).await;
    });
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .finish())
}

/// Writes the session's steps until it ends or the client goes.
async fn serve(socket: Socket, mut session: Session) {
    let (mut sink, stream) = socket.split();
    let mut inbox = Incoming(stream);
    loop {
        let written = match session.next(&mut inbox).await {
            Step::Say(out) => Box::pin(write(&mut sink, std::iter::once(out))).await,
            Step::Run(run) => Box::pin(write(&mut sink, run)).await,
            Step::End(disconnect) => return Box::pin(close(sink, inbox, disconnect)).await,
            Step::Gone => return,
        };
        if written.is_err() {
            return;
        }
    }
}

fn text(out: Out) -> Message {
    match out {
        Out::Event { text, .. }
        | Out::Connected { text, .. }
        | Out::Snapshot { text, .. }
        | Out::Heartbeat { text } => Message::Text(text),
    }
}

/// Writes each message, then flushes once.
async fn write(
    sink: &mut SplitSink<Socket, Message>,
    outs: impl Iterator<Item = Out>,
) -> Result<(), ()> {
    for out in outs {
        match tokio::time::timeout(WRITE_TIMEOUT, sink.feed(text(out))).await {
            Ok(Ok(())) => {}
            _ => return Err(()),
        }
    }
    match tokio::time::timeout(WRITE_TIMEOUT, sink.flush()).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Sends the close frame, then lets the client's reply arrive so it sees a clean close.
async fn close(mut sink: SplitSink<Socket, Message>, mut inbox: Incoming, end: Disconnect) {
    let frame = CloseFrame {
        code: CloseCode::from(end.code),
        reason: Utf8Bytes::from(end.to_json()),
    };
    let sent = tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
    if !matches!(sent, Ok(Ok(()))) {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(message)) = inbox.0.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
}
