//! One connection's position in a build's log: the feed's window when it covers the
//! cursor, else the log, then the live broadcast; each event once, in order. A cursor whose
//! events are gone starts over from a snapshot (`recovered: false`), never skips silently.

use std::collections::VecDeque;
use std::sync::Arc;

use buildwire_schemas::api::BuildProgress;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::{Feed, Seat};
use crate::frame::Frame;
use crate::log::LogError;
use crate::metrics::FromLabel;

/// Events one catch-up read asks for.
const PAGE: usize = 256;

/// What a stream says when it starts, or starts over (a resume, a snapshot).
#[derive(Debug, Clone)]
pub struct Greeting {
    /// The build's newest stored sequence.
    pub last_seq: u64,
    /// False when events after the client's cursor are gone: `snapshot` replaces them.
    pub recovered: bool,
    /// The build's state, when `recovered` is false (log links signed).
    pub snapshot: Option<BuildProgress>,
    /// The build has ended and the client has its last event.
    pub finished: bool,
    /// The build's request id (for the events the edge writes itself).
    pub request_id: String,
}

/// Why a cursor ends its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The terminal event was handed out.
    Finished,
    /// The connection fell further behind the live feed than its queue allows.
    Slow,
    /// The feed stopped (the node is stopping).
    Away,
}

/// What the cursor has next.
#[derive(Debug)]
pub enum Next {
    /// An event; `live` when it came over the live subscription just now (only those are
    /// timed in `delivery_latency_seconds`).
    Frame {
        /// The event.
        frame: Arc<Frame>,
        /// Whether it arrived live.
        live: bool,
    },
    /// Events after the cursor were lost while it caught up: greet again with a snapshot.
    Greet(Box<Greeting>),
    /// The stream ends.
    End(End),
}

/// Why a stream could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// No event of this build is stored.
    #[error("no build {0} is known")]
    UnknownBuild(String),
    /// The log could not be read.
    #[error(transparent)]
    Log(#[from] LogError),
}

/// A connection's position in its build's events.
pub struct Cursor {
    seat: Seat,
    feed: Arc<Feed>,
    /// The live broadcast; `None` while catching up from the log.
    rx: Option<broadcast::Receiver<Arc<Frame>>>,
    /// The newest sequence handed out: where a reconnect resumes.
    sent: u64,
    /// Frames read from the window or the log, not yet handed out.
    replay: VecDeque<Arc<Frame>>,
    finished: bool,
}

impl Cursor {
    /// A cursor on `seat`'s build for a client whose last event is `after`.
    pub async fn open(mut seat: Seat, after: u64) -> Result<(Cursor, Greeting), OpenError> {
        let feed = seat.feed().await?;
        let mut cursor = Cursor {
            seat,
            feed,
            rx: None,
            sent: after,
            replay: VecDeque::new(),
            finished: false,
        };
        let greeting = cursor.reposition(after).await?;
        Ok((cursor, greeting))
    }

    /// The build.
    pub fn build_id(&self) -> &str {
        self.feed.build_id()
    }

    /// The newest sequence handed out.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    pub(crate) fn context(&self) -> &Arc<super::Context> {
        self.seat.context()
    }

    fn started_from(&self, from: &'static str) {
        let metrics = &self.context().metrics;
        metrics
            .stream_starts
            .get_or_create(&FromLabel { from })
            .inc();
    }

    /// Starts over after `after`, as a new connection does: the greeting says where the
    /// client stands.
    pub async fn reposition(&mut self, after: u64) -> Result<Greeting, OpenError> {
        self.sent = after;
        self.replay = VecDeque::new();
        self.rx = None;
        self.finished = false;
        if let Some(joined) = self.feed.join(after) {
            self.started_from("window");
            let last = joined.last;
            self.replay = joined.frames.into();
            self.rx = Some(joined.rx);
            self.finished = last.is_terminal() && after >= last.seq;
            return Ok(Greeting {
                last_seq: last.seq,
                recovered: true,
                snapshot: None,
                finished: self.finished,
                request_id: last.request_id().unwrap_or_default().to_string(),
            });
        }
        self.started_from("history");
        let log = self.context().log.clone();
        let read = log.since(self.build_id(), after, PAGE).await?;
        let Some(position) = read.position.clone() else {
            return Err(OpenError::UnknownBuild(self.build_id().to_string()));
        };
        let last_seq = position.seq.max(self.feed.last().map_or(0, |f| f.seq));
        let request_id = match read.frames.first().and_then(|f| f.request_id()) {
            Some(id) if position.request_id.is_empty() => id.to_string(),
            _ => position.request_id.clone(),
        };
        if !read.complete {
            return Ok(self.snapshot(last_seq, request_id).await?);
        }
        self.replay = read.frames.into();
        self.finished = position.terminal && after >= position.seq;
        Ok(Greeting {
            last_seq,
            recovered: true,
            snapshot: None,
            finished: self.finished,
            request_id,
        })
    }

    /// The greeting of a cursor whose events are gone: the build's state now, and the
    /// cursor moved to it.
    async fn snapshot(&mut self, last_seq: u64, request_id: String) -> Result<Greeting, LogError> {
        let context = self.context().clone();
        let build_id = self.build_id().to_string();
        let mut progress = context
            .log
            .progress(&build_id)
            .await?
            .unwrap_or_else(|| BuildProgress::new(&build_id, chrono::Utc::now()));
        progress.last_seq = progress.last_seq.max(last_seq);
        context.links.sign_progress(&mut progress);
        self.sent = progress.last_seq;
        self.replay.clear();
        self.rx = None;
        self.finished = progress.status.is_terminal();
        Ok(Greeting {
            last_seq: progress.last_seq,
            recovered: false,
            finished: self.finished,
            snapshot: Some(progress),
            request_id,
        })
    }

    /// What is ready without waiting (`None`: nothing yet, or the log must be read first,
    /// which [`Cursor::next`] does). Lets a transport write a run of frames with one flush.
    pub fn try_next(&mut self) -> Option<Next> {
        loop {
            if self.finished {
                return Some(Next::End(End::Finished));
            }
            if let Some(frame) = self.replay.pop_front() {
                match self.take(frame, false) {
                    Some(next) => return Some(next),
                    None => continue,
                }
            }
            let rx = self.rx.as_mut()?;
            match rx.try_recv() {
                Ok(frame) => {
                    if let Some(next) = self.live(frame) {
                        return Some(next);
                    }
                }
                Err(TryRecvError::Lagged(_)) => return Some(Next::End(End::Slow)),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Closed) => return Some(Next::End(End::Away)),
            }
        }
    }

    /// The next thing to hand out. Cancel-safe: state only changes once a read returned.
    pub async fn next(&mut self) -> Result<Next, LogError> {
        loop {
            if let Some(next) = self.try_next() {
                return Ok(next);
            }
            match &mut self.rx {
                Some(rx) => match rx.recv().await {
                    Ok(frame) => {
                        if let Some(next) = self.live(frame) {
                            return Ok(next);
                        }
                    }
                    Err(RecvError::Lagged(_)) => return Ok(Next::End(End::Slow)),
                    Err(RecvError::Closed) => return Ok(Next::End(End::Away)),
                },
                // Boxed: log reads (JetStream, the database) are large futures that every
                // idle connection would otherwise carry inline.
                None => {
                    if let Some(greeting) = Box::pin(self.catch_up()).await? {
                        return Ok(Next::Greet(Box::new(greeting)));
                    }
                }
            }
        }
    }

    /// Hands `frame` out unless the client has it.
    fn take(&mut self, frame: Arc<Frame>, live: bool) -> Option<Next> {
        if frame.seq <= self.sent {
            return None;
        }
        self.sent = frame.seq;
        if !frame.is_sendable() {
            return None;
        }
        self.finished = frame.is_terminal();
        let live = live && frame.heard_live();
        Some(Next::Frame { frame, live })
    }

    /// A frame of the live broadcast, or a turn to the log when it shows a gap.
    fn live(&mut self, frame: Arc<Frame>) -> Option<Next> {
        if frame.seq <= self.sent {
            return None;
        }
        if frame.prev.is_some_and(|prev| prev > self.sent) {
            // Something between the cursor and this frame never reached us.
            self.rx = None;
            return None;
        }
        self.take(frame, true)
    }

    /// One step towards the live feed: its window once it covers the cursor, else a page
    /// of the log. `Some`: the events after the cursor are gone; start over from a
    /// snapshot.
    async fn catch_up(&mut self) -> Result<Option<Greeting>, LogError> {
        if let Some(joined) = self.feed.join(self.sent) {
            self.replay.extend(joined.frames);
            self.rx = Some(joined.rx);
            return Ok(None);
        }
        let log = self.context().log.clone();
        let read = log.since(self.build_id(), self.sent, PAGE).await?;
        if read.complete && !read.frames.is_empty() {
            self.replay.extend(read.frames);
            return Ok(None);
        }
        // Lost while catching up (purged), or the log lacks what the window dropped.
        let last_seq = read.head().max(self.feed.last().map_or(0, |f| f.seq));
        let request_id = read.position.map(|p| p.request_id).unwrap_or_default();
        Ok(Some(self.snapshot(last_seq, request_id).await?))
    }
}
