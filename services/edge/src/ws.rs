//! `GET /ws/builds/{id}?token=&after=`: a build's events over WebSocket.
//!
//! The server greets with `connected`, sends a `snapshot` when history is gone, then one
//! text frame per event. Clients may send only `{"type":"resume","after":N}` and
//! `{"type":"ping"}` (answered with `heartbeat`), each at most 1 KiB; anything else closes
//! the socket with 1008 (policy) or 1009 (too big) and a reason. Every close says why and,
//! where it matters, where to resume.

use std::sync::Arc;
use std::time::Duration;

use buildwire_schemas::api::ClientMessage;
use buildwire_schemas::events::{Connected, Heartbeat, Snapshot};
use buildwire_schemas::{Event, EventBody};
use futures::{SinkExt, StreamExt};
use poem::web::websocket::{CloseCode, Message, WebSocket, WebSocketConfig, WebSocketStream};
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Request, handler};

use crate::frame::Frame;
use crate::history::HistoryError;
use crate::hub::{End, Greeting, Next, Viewer};
use crate::metrics::{ConnectionGuard, TransportLabel};
use crate::problem::ApiError;
use crate::state::EdgeState;
use crate::streams::{self, HEARTBEAT, MAX_RUN, StreamQuery};

/// Largest message a client may send.
pub const MAX_CLIENT_MESSAGE: usize = 1024;
/// Frames beyond this are refused by the protocol layer itself.
const MAX_FRAME: usize = 64 * 1024;
/// Bytes read from a socket at a time. tungstenite zero-fills its whole read buffer before
/// every read, so its 128 KiB default made every connection 128 KiB resident.
const READ_BUFFER: usize = 1024;
/// Bytes tungstenite buffers before it writes on its own; a run is flushed when it ends.
/// A connection's write buffer keeps the capacity its largest run needed.
const WRITE_BUFFER: usize = 8 * 1024;
/// A write blocked this long means the client is gone or stuck: the socket is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a closing socket waits for the client's close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Upgrades after every check passed; a refused handshake is a problem+json answer.
#[handler]
pub async fn websocket(
    req: &Request,
    Path(build_id): Path<String>,
    Query(query): Query<StreamQuery>,
    ws: WebSocket,
    Data(state): Data<&Arc<EdgeState>>,
) -> Result<impl IntoResponse, ApiError> {
    let after = query.after.unwrap_or(0);
    let (viewer, greeting, ticket) = streams::open(state, req, &build_id, &query, after).await?;
    let state = state.clone();
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
        // tungstenite's defaults reserve 128 KiB per connection for reading and buffer
        // 128 KiB of writes; clients send at most 1 KiB and runs of events are flushed
        // when they end, so small buffers cost nothing and keep idle viewers small.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER);
    Ok(ws.config(config).on_upgrade(move |socket| async move {
        Session::run(socket, state, viewer, greeting).await;
        drop(ticket);
    }))
}

/// How a session ends.
struct Closing {
    code: CloseCode,
    reason: String,
}

impl Closing {
    fn new(code: CloseCode, reason: impl Into<String>) -> Closing {
        let mut reason: String = reason.into();
        // A close reason fits in 123 bytes.
        while reason.len() > 123 {
            reason.pop();
        }
        Closing { code, reason }
    }
}

struct Session {
    sink: futures::stream::SplitSink<WebSocketStream, Message>,
    state: Arc<EdgeState>,
    build_id: String,
    request_id: String,
}

impl Session {
    async fn run(
        socket: WebSocketStream,
        state: Arc<EdgeState>,
        mut viewer: Viewer,
        greeting: Greeting,
    ) {
        let _open = ConnectionGuard::open(&state.metrics, "ws");
        let (sink, mut incoming) = socket.split();
        let mut session = Session {
            sink,
            state,
            build_id: viewer.build_id().to_string(),
            request_id: greeting.request_id.clone(),
        };
        let closing = match Box::pin(session.greet(&greeting)).await {
            Err(()) => return,
            Ok(()) if greeting.finished => Closing::new(CloseCode::Normal, "build finished"),
            Ok(()) => match session.serve(&mut viewer, &mut incoming).await {
                Some(closing) => closing,
                None => return,
            },
        };
        if closing.code == CloseCode::Again {
            session
                .state
                .metrics
                .slow_viewer_closes
                .get_or_create(&TransportLabel { transport: "ws" })
                .inc();
        }
        Box::pin(session.close(closing, &mut incoming)).await;
    }

    fn event(&self, body: EventBody) -> Event {
        Event::new(&self.build_id, &self.request_id, body)
    }

    async fn send_text(&mut self, text: String) -> Result<(), ()> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.sink.send(Message::Text(text))).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    async fn send_event(&mut self, event: &Event) -> Result<(), ()> {
        let text = serde_json::to_string(event).map_err(|_| ())?;
        self.send_text(text).await
    }

    async fn greet(&mut self, greeting: &Greeting) -> Result<(), ()> {
        let connected = self.event(EventBody::Connected(Connected {
            last_seq: greeting.last_seq,
            recovered: greeting.recovered,
        }));
        self.send_event(&connected).await?;
        if let Some(progress) = &greeting.snapshot {
            let mut snapshot = self.event(EventBody::Snapshot(Snapshot {
                progress: progress.clone(),
            }));
            snapshot.seq = progress.last_seq;
            self.send_event(&snapshot).await?;
        }
        Ok(())
    }

    /// Streams until the build ends, the client leaves or breaks the protocol, or the
    /// node stops. `None`: the connection is gone, nothing to close.
    ///
    /// The viewer is polled before the socket's read half: while frames are ready they
    /// are written in runs, and the client's messages are read once the run is out.
    async fn serve(
        &mut self,
        viewer: &mut Viewer,
        incoming: &mut futures::stream::SplitStream<WebSocketStream>,
    ) -> Option<Closing> {
        let shutdown = self.state.shutdown.clone();
        // Made once: a fresh `cancelled()` per loop would register and deregister with
        // the token on every frame.
        let stopping = shutdown.cancelled();
        tokio::pin!(stopping);
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
        let mut sent_since_tick = false;
        loop {
            tokio::select! {
                biased;
                _ = &mut stopping => {
                    return Some(Closing::new(
                        CloseCode::Away,
                        format!("server going away; resume after {}", viewer.cursor()),
                    ));
                }
                next = viewer.next() => {
                    let end = match next {
                        Ok(Next::Frame(frame)) => match Box::pin(self.send_run(frame, viewer)).await {
                            Err(()) => return None,
                            Ok(None) => {
                                sent_since_tick = true;
                                continue;
                            }
                            Ok(Some(end)) => Ok(end),
                        },
                        Ok(Next::End(end)) => Ok(end),
                        Err(err) => Err(err),
                    };
                    return Some(self.ending(viewer, end));
                }
                message = incoming.next() => match message {
                    None | Some(Ok(Message::Close(_))) => return None,
                    Some(Err(err)) => return refused_frame(&err),
                    Some(Ok(Message::Text(text))) => {
                        if let Some(closing) = Box::pin(self.on_client_message(viewer, &text)).await {
                            return Some(closing);
                        }
                    }
                    Some(Ok(Message::Binary(data))) => {
                        if data.len() > MAX_CLIENT_MESSAGE {
                            return Some(Closing::new(
                                CloseCode::Size,
                                format!("message too big: at most {MAX_CLIENT_MESSAGE} bytes"),
                            ));
                        }
                        return Some(Closing::new(
                            CloseCode::Policy,
                            "binary messages are not accepted: send JSON text",
                        ));
                    }
                    Some(Ok(_)) => {} // ping/pong: answered by the protocol layer
                },
                _ = heartbeat.tick() => {
                    if !std::mem::take(&mut sent_since_tick) {
                        let beat = self.event(EventBody::Heartbeat(Heartbeat {}));
                        if Box::pin(self.send_event(&beat)).await.is_err() {
                            return None;
                        }
                    }
                }
            }
        }
    }

    /// Writes `first` and the frames ready behind it (at most [`MAX_RUN`]), then flushes
    /// once. Returns the stream's end when the run reached it.
    async fn send_run(
        &mut self,
        first: Arc<Frame>,
        viewer: &mut Viewer,
    ) -> Result<Option<End>, ()> {
        let mut frame = first;
        let mut written = 0;
        let end = loop {
            let text = Message::Text(frame.json.to_string());
            match tokio::time::timeout(WRITE_TIMEOUT, self.sink.feed(text)).await {
                Ok(Ok(())) => {}
                _ => return Err(()),
            }
            self.state.metrics.delivered(&frame, frame.prev.is_some());
            written += 1;
            if written == MAX_RUN {
                break None;
            }
            match viewer.try_next() {
                Some(Next::Frame(more)) => frame = more,
                Some(Next::End(end)) => break Some(end),
                None => break None,
            }
        };
        match tokio::time::timeout(WRITE_TIMEOUT, self.sink.flush()).await {
            Ok(Ok(())) => Ok(end),
            _ => Err(()),
        }
    }

    /// How a stream closes when the viewer ends it.
    fn ending(&self, viewer: &Viewer, end: Result<End, HistoryError>) -> Closing {
        match end {
            Ok(End::Finished) => Closing::new(CloseCode::Normal, "build finished"),
            Ok(End::Slow) => Closing::new(
                CloseCode::Again,
                format!("slow consumer: resume after {}", viewer.cursor()),
            ),
            Err(err) => {
                tracing::warn!(build_id = %self.build_id, %err, "stream history unavailable");
                Closing::new(
                    CloseCode::Error,
                    format!("history unavailable; resume after {}", viewer.cursor()),
                )
            }
        }
    }

    async fn on_client_message(&mut self, viewer: &mut Viewer, text: &str) -> Option<Closing> {
        if text.len() > MAX_CLIENT_MESSAGE {
            return Some(Closing::new(
                CloseCode::Size,
                format!("message too big: at most {MAX_CLIENT_MESSAGE} bytes"),
            ));
        }
        match serde_json::from_str::<ClientMessage>(text) {
            Ok(ClientMessage::Resume { after }) => {
                viewer.resume(after);
                None
            }
            Ok(ClientMessage::Ping {}) => {
                let beat = self.event(EventBody::Heartbeat(Heartbeat {}));
                match self.send_event(&beat).await {
                    Ok(()) => None,
                    Err(()) => Some(Closing::new(CloseCode::Abnormal, "")),
                }
            }
            Err(err) => Some(Closing::new(
                CloseCode::Policy,
                format!(
                    "unsupported message (expected resume or ping): {}",
                    err.to_string().chars().take(60).collect::<String>()
                ),
            )),
        }
    }

    async fn close(
        mut self,
        closing: Closing,
        incoming: &mut futures::stream::SplitStream<WebSocketStream>,
    ) {
        if closing.code == CloseCode::Abnormal {
            return;
        }
        let frame = Message::Close(Some((closing.code, closing.reason)));
        if tokio::time::timeout(WRITE_TIMEOUT, self.sink.send(frame))
            .await
            .is_err()
        {
            return;
        }
        // Let the client's close reply arrive so it sees a clean close.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(message)) = incoming.next().await {
                if message.is_close() {
                    break;
                }
            }
        })
        .await;
    }
}

/// The close for a frame the WebSocket layer refused, as RFC 6455 (7.4.1) asks: 1009 for
/// a message over the limit, 1007 for text that is not UTF-8, 1002 for any other protocol
/// violation (an unmasked frame, a control frame over 125 bytes, a reserved opcode or
/// bit). `None` for I/O errors: the connection is gone, nothing can be sent. poem hands
/// tungstenite's errors over as text (`io::ErrorKind::Other`), so that text is read here
/// and nowhere else.
fn refused_frame(err: &std::io::Error) -> Option<Closing> {
    if err.kind() != std::io::ErrorKind::Other {
        return None;
    }
    let text = err.to_string();
    if text.contains("Space limit exceeded") || text.contains("too long") {
        return Some(Closing::new(
            CloseCode::Size,
            format!("message too big: at most {MAX_CLIENT_MESSAGE} bytes"),
        ));
    }
    if text.contains("UTF-8") || text.contains("utf-8") {
        return Some(Closing::new(
            CloseCode::Invalid,
            "text frame is not valid UTF-8",
        ));
    }
    let detail = text
        .strip_prefix("WebSocket protocol error: ")
        .unwrap_or(&text);
    Some(Closing::new(
        CloseCode::Protocol,
        format!("protocol error: {detail}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_for(text: &str) -> Option<CloseCode> {
        refused_frame(&std::io::Error::other(text)).map(|c| c.code)
    }

    #[test]
    fn refused_frames_get_the_rfc_close_codes() {
        assert_eq!(
            code_for("Space limit exceeded: Message too long: 2000 > 1024"),
            Some(CloseCode::Size)
        );
        assert_eq!(code_for("UTF-8 encoding error"), Some(CloseCode::Invalid));
        assert_eq!(
            code_for("WebSocket protocol error: Received an unmasked frame from client"),
            Some(CloseCode::Protocol)
        );
        assert_eq!(
            refused_frame(&std::io::Error::from(std::io::ErrorKind::ConnectionReset))
                .map(|c| c.code),
            None
        );
    }
}
