//! A build's stream, whatever carries it: the greeting (`connected`, then a `snapshot` when
//! history is gone), catch-up, live frames in runs, heartbeats, the client's `resume` and
//! `ping`, and the typed [`Disconnect`] it ends with. A transport pulls [`Step`]s and only
//! encodes them (`ws.rs`: text frames and a close frame; `sse.rs`: `id:`/`data:` and
//! comments).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use buildwire_schemas::api::ClientMessage;
use buildwire_schemas::events::{Connected, Heartbeat, Snapshot};
use buildwire_schemas::stream::{Disconnect, DisconnectReason};
use buildwire_schemas::{Event, EventBody};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::Hub;
use super::cursor::{Cursor, End, Greeting, Next, OpenError};
use crate::frame::{Frame, Utf8Bytes};
use crate::guard::ViewerTicket;
use crate::log::LogError;
use crate::metrics::{ConnectionGuard, TransportLabel};

/// The heartbeat tick: a stream that sent nothing since the previous tick gets a heartbeat
/// (so one after 15 to 30 s of silence, under proxies' idle limits).
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// Events ready together are written as one run (one flush), at most this many.
pub const MAX_RUN: usize = 64;
/// Largest message a client may send.
pub const MAX_CLIENT_MESSAGE: usize = 1024;

/// Something to write.
#[derive(Debug, Clone)]
pub enum Out {
    /// A build event (log links freshly signed).
    Event {
        /// Its `seq`.
        seq: u64,
        /// Its JSON.
        text: Utf8Bytes,
    },
    /// The greeting.
    Connected {
        /// The build's newest `seq`.
        last_seq: u64,
        /// Whether every event after the client's cursor follows.
        recovered: bool,
        /// The `connected` event's JSON.
        text: Utf8Bytes,
    },
    /// The build's state, when history is gone.
    Snapshot {
        /// The `seq` it stands at.
        seq: u64,
        /// The `snapshot` event's JSON.
        text: Utf8Bytes,
    },
    /// Keep-alive.
    Heartbeat {
        /// The `heartbeat` event's JSON.
        text: Utf8Bytes,
    },
}

/// What a transport does next.
pub enum Step<'a> {
    /// Write one message.
    Say(Out),
    /// Write every message of the run, then flush once.
    Run(Run<'a>),
    /// Send this disconnect and close.
    End(Disconnect),
    /// The client is gone: nothing to send.
    Gone,
}

/// What a client sent.
#[derive(Debug)]
pub enum Inbound {
    /// A text message.
    Text(Utf8Bytes),
    /// A message the transport refused (too big, binary, not UTF-8, a protocol error).
    Refused(DisconnectReason),
    /// The client closed or the connection broke.
    Closed,
}

/// Where a session reads its client's messages.
pub trait Inbox: Send {
    /// The next message (pending forever on a one-way transport).
    fn recv(&mut self) -> impl Future<Output = Inbound> + Send;
}

/// A one-way transport (SSE): the client never speaks.
pub struct NoInbox;

impl Inbox for NoInbox {
    fn recv(&mut self) -> impl Future<Output = Inbound> + Send {
        std::future::pending()
    }
}

/// One client's stream of one build.
pub struct Session {
    cursor: Cursor,
    request_id: String,
    /// A greeting to say next (at open, after a resume or a snapshot).
    greeting: Option<Box<Greeting>>,
    /// Said right after the greeting (its snapshot).
    queued: Option<Out>,
    ending: Option<Disconnect>,
    /// Made once per stream, not once per event.
    stopping: Pin<Box<WaitForCancellationFutureOwned>>,
    heartbeat: tokio::time::Interval,
    sent_since_tick: bool,
    transport: &'static str,
    finished_at_open: bool,
    /// Counts the stream as open from its first step (a 204 or a failed upgrade is none).
    open: Option<ConnectionGuard>,
    _ticket: Option<ViewerTicket>,
}

impl Session {
    /// Opens `build_id` on `hub` for a client whose last event is `after`; `ticket` holds
    /// the stream's place in the quotas while it lives.
    pub async fn open(
        hub: &Hub,
        build_id: &str,
        after: u64,
        transport: &'static str,
        ticket: Option<ViewerTicket>,
    ) -> Result<Session, OpenError> {
        let (cursor, greeting) = Cursor::open(hub.join(build_id), after).await?;
        let context = cursor.context().clone();
        let start = tokio::time::Instant::now() + HEARTBEAT;
        Ok(Session {
            request_id: greeting.request_id.clone(),
            finished_at_open: greeting.finished && greeting.recovered,
            greeting: Some(Box::new(greeting)),
            cursor,
            queued: None,
            ending: None,
            stopping: Box::pin(context.shutdown.clone().cancelled_owned()),
            heartbeat: tokio::time::interval_at(start, HEARTBEAT),
            sent_since_tick: false,
            transport,
            open: None,
            _ticket: ticket,
        })
    }

    /// The client already had the build's last event when it connected (SSE answers 204).
    pub fn finished_at_open(&self) -> bool {
        self.finished_at_open
    }

    /// The build.
    pub fn build_id(&self) -> &str {
        self.cursor.build_id()
    }

    /// The next step. Cancel-safe.
    pub async fn next<I: Inbox>(&mut self, inbox: &mut I) -> Step<'_> {
        if self.open.is_none() {
            let metrics = &self.cursor.context().metrics;
            self.open = Some(ConnectionGuard::open(metrics, self.transport));
        }
        if let Some(greeting) = self.greeting.take() {
            return self.greet(*greeting);
        }
        if let Some(out) = self.queued.take() {
            return Step::Say(out);
        }
        if let Some(end) = self.ending.take() {
            return Step::End(end);
        }
        loop {
            tokio::select! {
                biased;
                _ = &mut self.stopping => return Step::End(self.disconnect(DisconnectReason::GoingAway)),
                next = self.cursor.next() => return match next {
                    Ok(Next::Frame { frame, live }) => Step::Run(Run {
                        session: self,
                        first: Some((frame, live)),
                        count: 0,
                    }),
                    Ok(Next::Greet(greeting)) => self.greet(*greeting),
                    Ok(Next::End(end)) => Step::End(self.ended(end)),
                    Err(err) => Step::End(self.unavailable(&err)),
                },
                inbound = inbox.recv() => match inbound {
                    Inbound::Text(text) => {
                        if let Some(step) = Box::pin(self.on_message(&text)).await {
                            return step;
                        }
                    }
                    Inbound::Refused(reason) => return Step::End(self.disconnect(reason)),
                    Inbound::Closed => return Step::Gone,
                },
                _ = self.heartbeat.tick() => {
                    if !std::mem::take(&mut self.sent_since_tick) {
                        return Step::Say(self.heartbeat_out());
                    }
                }
            }
        }
    }

    fn text(&self, body: EventBody, seq: u64) -> Utf8Bytes {
        let mut event = Event::new(self.cursor.build_id(), &self.request_id, body);
        event.seq = seq;
        serde_json::to_string(&event).unwrap_or_default().into()
    }

    fn heartbeat_out(&self) -> Out {
        Out::Heartbeat {
            text: self.text(EventBody::Heartbeat(Heartbeat {}), 0),
        }
    }

    /// Says `connected`, queues the snapshot, and ends after them when the client already
    /// has the build's last event.
    fn greet(&mut self, greeting: Greeting) -> Step<'static> {
        if !greeting.request_id.is_empty() {
            self.request_id = greeting.request_id;
        }
        let connected = Connected {
            last_seq: greeting.last_seq,
            recovered: greeting.recovered,
        };
        let said = Out::Connected {
            last_seq: greeting.last_seq,
            recovered: greeting.recovered,
            text: self.text(EventBody::Connected(connected), 0),
        };
        self.queued = greeting.snapshot.map(|progress| {
            let seq = progress.last_seq;
            Out::Snapshot {
                seq,
                text: self.text(EventBody::Snapshot(Snapshot { progress }), seq),
            }
        });
        if greeting.finished {
            self.ending = Some(Disconnect::finished());
        }
        self.sent_since_tick = true;
        Step::Say(said)
    }

    async fn on_message(&mut self, text: &str) -> Option<Step<'static>> {
        if text.len() > MAX_CLIENT_MESSAGE {
            return Some(Step::End(self.disconnect(DisconnectReason::MessageTooBig)));
        }
        match serde_json::from_str::<ClientMessage>(text) {
            // Answered as a new connection: a fresh greeting, then what follows `after`.
            Ok(ClientMessage::Resume { after }) => match self.cursor.reposition(after).await {
                Ok(greeting) => Some(self.greet(greeting)),
                Err(OpenError::Log(err)) => Some(Step::End(self.unavailable(&err))),
                Err(err @ OpenError::UnknownBuild(_)) => {
                    tracing::warn!(build_id = %self.build_id(), %err, "resume of a build the log lost");
                    Some(Step::End(
                        self.disconnect(DisconnectReason::HistoryUnavailable),
                    ))
                }
            },
            Ok(ClientMessage::Ping {}) => Some(Step::Say(self.heartbeat_out())),
            Err(err) => {
                tracing::debug!(%err, "unsupported client message");
                Some(Step::End(
                    self.disconnect(DisconnectReason::UnsupportedMessage),
                ))
            }
        }
    }

    fn disconnect(&self, reason: DisconnectReason) -> Disconnect {
        Disconnect::new(reason, Some(self.cursor.sent()))
    }

    fn ended(&self, end: End) -> Disconnect {
        match end {
            End::Finished => Disconnect::finished(),
            End::Slow => {
                let label = TransportLabel {
                    transport: self.transport,
                };
                let metrics = &self.cursor.context().metrics;
                metrics.slow_viewer_closes.get_or_create(&label).inc();
                self.disconnect(DisconnectReason::SlowConsumer)
            }
            End::Away => self.disconnect(DisconnectReason::GoingAway),
        }
    }

    fn unavailable(&self, err: &LogError) -> Disconnect {
        tracing::warn!(build_id = %self.build_id(), %err, "stream history unavailable");
        self.disconnect(DisconnectReason::HistoryUnavailable)
    }
}

/// A run of ready events: the first, then whatever the cursor has without waiting, at most
/// [`MAX_RUN`]. Each is counted as delivered as it is taken.
pub struct Run<'a> {
    session: &'a mut Session,
    first: Option<(Arc<Frame>, bool)>,
    count: usize,
}

impl Iterator for Run<'_> {
    type Item = Out;

    fn next(&mut self) -> Option<Out> {
        let (frame, live) = match self.first.take() {
            Some(first) => first,
            None if self.count >= MAX_RUN => return None,
            None => match self.session.cursor.try_next()? {
                Next::Frame { frame, live } => (frame, live),
                Next::Greet(greeting) => {
                    self.session.greeting = Some(greeting);
                    return None;
                }
                Next::End(end) => {
                    self.session.ending = Some(self.session.ended(end));
                    return None;
                }
            },
        };
        self.count += 1;
        self.session.sent_since_tick = true;
        let context = self.session.cursor.context();
        context.metrics.delivered(&frame, live);
        Some(Out::Event {
            seq: frame.seq,
            text: context.links.frame_text(&frame),
        })
    }
}
