//! One connection's view of a build: history after its cursor, then the live feed, merged
//! by sequence so nothing is skipped or sent twice. Both transports (WebSocket, SSE) read
//! a [`Viewer`]; they differ only in framing.

use std::collections::VecDeque;
use std::sync::Arc;

use buildwire_schemas::api::BuildProgress;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use super::feed::WindowRead;
use super::{Feed, Hub};
use crate::frame::Frame;
use crate::history::{History, HistoryError};

/// Frames one history read asks for while catching up.
const PAGE: usize = 256;

/// What a connection says first.
#[derive(Debug, Clone)]
pub struct Greeting {
    /// The build's newest stored sequence.
    pub last_seq: u64,
    /// False when history after the client's cursor is gone: a snapshot follows instead.
    pub recovered: bool,
    /// The build's state, when `recovered` is false.
    pub snapshot: Option<BuildProgress>,
    /// The build has ended and the client already has its last event.
    pub finished: bool,
    /// The build's request id (for events the edge itself writes: greeting, heartbeats).
    pub request_id: String,
}

/// What the viewer has for its connection next.
#[derive(Debug)]
pub enum Next {
    /// An event to send.
    Frame(Arc<Frame>),
    /// The stream ends.
    End(End),
}

/// Why a stream ends (besides its client leaving).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The terminal event was sent.
    Finished,
    /// The connection fell further behind the live feed than its queue allows.
    Slow,
}

/// Why a viewer could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// No event of this build is stored.
    #[error("no build {0} is known")]
    UnknownBuild(String),
    /// History could not be read.
    #[error(transparent)]
    History(#[from] HistoryError),
}

/// A connection's position in a build's events.
pub struct Viewer {
    feed: Arc<Feed>,
    history: History,
    rx: broadcast::Receiver<Arc<Frame>>,
    sent: u64,
    backlog: VecDeque<Arc<Frame>>,
    catching_up: bool,
    finished: bool,
    store: Option<buildwire_record::Store>,
    /// Read history from the database while the cursor is below this sequence (the
    /// first one JetStream still holds).
    db_until: Option<u64>,
    /// The first sequence of the build JetStream held when the viewer opened.
    first_stored: Option<u64>,
}

impl Viewer {
    /// Opens `build_id` for a client whose last event was `after` (0: none).
    pub async fn open(
        hub: &Hub,
        build_id: &str,
        after: u64,
    ) -> Result<(Viewer, Greeting), OpenError> {
        let feed = hub.feed(build_id).await?;
        if let Some(read) = feed.read_window(after) {
            return Ok(Self::from_window(hub, feed, after, read));
        }
        let history = hub.history().clone();
        let store = hub.store().cloned();
        let last = history.last(build_id).await?;
        let first_stored = match &last {
            Some(_) => history.first(build_id).await?.map(|(frame, _)| frame.seq),
            None => None,
        };
        // The database has what JetStream no longer holds (age limit, purges); it is only
        // asked when JetStream has none of the build.
        let recorded = match (&store, &last) {
            (Some(store), None) => store.progress(build_id).await.unwrap_or_else(|err| {
                tracing::warn!(%build_id, %err, "database unavailable for stream history");
                None
            }),
            _ => None,
        };
        let last_seq = last
            .as_ref()
            .map(|f| f.seq)
            .max(recorded.as_ref().map(|p| p.last_seq))
            .ok_or_else(|| OpenError::UnknownBuild(build_id.to_string()))?;
        let terminal = match &last {
            Some(frame) if frame.seq >= last_seq => frame.is_terminal(),
            _ => recorded.as_ref().is_some_and(|p| p.status.is_terminal()),
        };
        let js_missing_start = first_stored.is_none_or(|first| after + 1 < first);
        let mut db_until = None;
        if js_missing_start
            && after < last_seq
            && let Some(store) = &store
        {
            let until = first_stored.unwrap_or(u64::MAX);
            if feed
                .earliest_recorded(store)
                .await
                .is_some_and(|earliest| earliest < until)
            {
                db_until = Some(until);
            }
        }
        // Deletion in EVENTS is from the front (age, purges), so the cursor's own message
        // still being stored means everything after it is too.
        let recovered = after == 0
            || after >= last_seq
            || db_until.is_some()
            || history.holds(build_id, after).await?;
        let (cursor, snapshot) = if recovered {
            (after, None)
        } else {
            let frames = history.all_after(build_id, 0).await?;
            let events = frames.iter().filter_map(|f| f.event.as_ref());
            let mut progress = match &recorded {
                Some(progress) => progress.clone(),
                None => BuildProgress::from_events(build_id, events),
            };
            progress.last_seq = progress.last_seq.max(last_seq);
            (progress.last_seq, Some(progress))
        };
        let finished = terminal && cursor >= last_seq;
        let greeting = Greeting {
            last_seq,
            recovered,
            snapshot,
            finished,
            request_id: last
                .as_ref()
                .and_then(|f| f.event.as_ref())
                .map(|e| e.request_id.clone())
                .unwrap_or_default(),
        };
        let rx = feed.subscribe();
        let viewer = Viewer {
            feed,
            history,
            rx,
            sent: cursor,
            backlog: VecDeque::new(),
            catching_up: true,
            finished,
            store,
            db_until,
            first_stored,
        };
        Ok((viewer, greeting))
    }

    /// A viewer whose cursor the feed's window covers: no JetStream read at all.
    fn from_window(hub: &Hub, feed: Arc<Feed>, after: u64, read: WindowRead) -> (Viewer, Greeting) {
        let greeting = Greeting {
            last_seq: read.last.seq,
            recovered: true,
            snapshot: None,
            finished: read.finished_for(after),
            request_id: read
                .last
                .event
                .as_ref()
                .map(|e| e.request_id.clone())
                .unwrap_or_default(),
        };
        let viewer = Viewer {
            feed,
            history: hub.history().clone(),
            rx: read.rx,
            sent: after,
            backlog: read.frames.into(),
            catching_up: false,
            finished: greeting.finished,
            store: hub.store().cloned(),
            db_until: None,
            first_stored: None,
        };
        (viewer, greeting)
    }

    /// The build.
    pub fn build_id(&self) -> &str {
        self.feed.build_id()
    }

    /// The newest sequence handed out: where a reconnect resumes.
    pub fn cursor(&self) -> u64 {
        self.sent
    }

    /// Starts over from `after` (the WebSocket `resume` message).
    pub fn resume(&mut self, after: u64) {
        self.sent = after;
        self.backlog.clear();
        if let Some(read) = self.feed.read_window(after) {
            self.finished = read.finished_for(after);
            self.backlog = read.frames.into();
            self.rx = read.rx;
            self.catching_up = false;
            self.db_until = None;
            return;
        }
        self.catching_up = true;
        self.finished = false;
        // A resume below what JetStream holds reads the database first again (when that
        // is not known, the database is asked; JetStream follows where it ends).
        self.db_until = self
            .store
            .as_ref()
            .map(|_| self.first_stored.unwrap_or(u64::MAX))
            .filter(|first| after + 1 < *first);
    }

    /// The next thing to send. Cancel-safe between awaits: a frame is only consumed when
    /// it is returned.
    pub async fn next(&mut self) -> Result<Next, HistoryError> {
        loop {
            if let Some(next) = self.try_next() {
                return Ok(next);
            }
            if self.catching_up {
                // Boxed: history reads (JetStream, the database) are large futures that
                // every idle connection would otherwise carry inline.
                Box::pin(self.catch_up_page()).await?;
                continue;
            }
            match self.rx.recv().await {
                Ok(frame) => self.take_live(frame),
                Err(RecvError::Lagged(_)) => return Ok(Next::End(End::Slow)),
                Err(RecvError::Closed) => self.catching_up = true,
            }
        }
    }

    /// What is ready to send without waiting (`None`: nothing yet, or history must be
    /// read first, which [`Viewer::next`] does). Lets a transport write a run of ready
    /// frames with one flush.
    pub fn try_next(&mut self) -> Option<Next> {
        loop {
            if self.finished {
                return Some(Next::End(End::Finished));
            }
            if let Some(frame) = self.backlog.pop_front() {
                if frame.seq <= self.sent {
                    continue;
                }
                self.sent = frame.seq;
                if !frame.is_sendable() {
                    continue;
                }
                self.finished = frame.is_terminal();
                return Some(Next::Frame(frame));
            }
            if self.catching_up {
                return None;
            }
            match self.rx.try_recv() {
                Ok(frame) => self.take_live(frame),
                Err(TryRecvError::Lagged(_)) => return Some(Next::End(End::Slow)),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Closed) => self.catching_up = true,
            }
        }
    }

    /// Queues a frame of the live feed, or turns to history when it shows a gap.
    fn take_live(&mut self, frame: Arc<Frame>) {
        if frame.seq <= self.sent {
            return;
        }
        if frame.prev.is_some_and(|prev| prev > self.sent) {
            // Something between our cursor and this frame never reached us.
            self.catching_up = true;
            return;
        }
        self.backlog.push_back(frame);
    }

    /// Reads one page of history after the cursor. At the end of history it subscribes
    /// afresh and reads once more, so events stored in between are not missed and the
    /// live queue starts empty.
    async fn catch_up_page(&mut self) -> Result<(), HistoryError> {
        let build_id = self.feed.build_id().to_string();
        if let (Some(until), Some(store)) = (self.db_until, &self.store)
            && self.sent + 1 < until
        {
            let events = match store.events_after(&build_id, self.sent, PAGE as u64).await {
                Ok((events, _)) => events,
                Err(err) => {
                    // JetStream serves what it still holds.
                    tracing::warn!(%build_id, %err, "database unavailable for stream history");
                    Vec::new()
                }
            };
            let frames: Vec<Arc<Frame>> = events
                .into_iter()
                .filter(|e| e.seq < until)
                .map(|e| Arc::new(Frame::from_event(e)))
                .collect();
            if frames.is_empty() {
                self.db_until = None;
            }
            self.backlog.extend(frames);
            return Ok(());
        }
        self.db_until = None;
        let page = self.history.after(&build_id, self.sent, PAGE).await?;
        let end = page.frames.last().map_or(self.sent, |f| f.seq);
        let mut more = page.pending > 0;
        self.backlog.extend(page.frames.into_iter().map(Arc::new));
        if !more {
            self.rx = self.feed.subscribe();
            let tail = self.history.after(&build_id, end, PAGE).await?;
            more = tail.pending > 0;
            self.backlog.extend(tail.frames.into_iter().map(Arc::new));
        }
        self.catching_up = more;
        Ok(())
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.feed.release();
    }
}
