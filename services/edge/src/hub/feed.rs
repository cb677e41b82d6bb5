//! One build's live feed on one node: what its [`LiveSource`] hears, kept in order in a
//! [`Window`] and broadcast to the node's viewers of the build.
//!
//! The broadcast stays contiguous: a stored event whose `Nats-Last-Sequence` is ahead of
//! the feed, a NATS reconnect, or a read that failed makes the feed read the log from its
//! head before broadcasting on. The feed runs until the hub stops it ([`Feed::stop`]).
//!
//! Tracing: the first event heard live while a viewer listens is broadcast inside a
//! `deliver` span, child of the event's trace context (its NATS headers), so a build's
//! trace shows each edge node's first delivery. Once per feed, so once per build per node:
//! later events cost one `bool` test and nothing is allocated for them.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_nats::HeaderMap;
use buildwire_runtime::trace_context;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::live::Heard;
use super::window::Window;
use super::{Context, ReasonLabel};
use crate::frame::Frame;
use crate::log::{BuildLog, LogError, MAX_PAGE};

/// Pause before retrying a read that failed (NATS away).
const REFETCH_RETRY: Duration = Duration::from_millis(500);

/// A build's live events on this node.
pub struct Feed {
    build_id: Box<str>,
    id: u64,
    tx: broadcast::Sender<Arc<Frame>>,
    window: Mutex<Window>,
    stop: CancellationToken,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("build_id", &self.build_id)
            .field("id", &self.id)
            .finish()
    }
}

/// What a viewer whose cursor the window covers starts from.
pub struct Joined {
    /// Every frame after the cursor.
    pub frames: Vec<Arc<Frame>>,
    /// The build's newest frame.
    pub last: Arc<Frame>,
    /// The live feed from right after `last` (subscribed under the window's lock).
    pub rx: broadcast::Receiver<Arc<Frame>>,
}

/// Reads everything of `build_id` after 0 into a window of `len` frames.
async fn fill(log: &dyn BuildLog, build_id: &str, len: usize) -> Result<Window, LogError> {
    let read = log.since(build_id, 0, MAX_PAGE).await?;
    let mut next = read.has_more().then(|| read.frames.last().map(|f| f.seq));
    let mut window = Window::filled(read, len);
    while let Some(Some(cursor)) = next {
        let page = log.since(build_id, cursor, MAX_PAGE).await?;
        next = page.has_more().then(|| page.frames.last().map(|f| f.seq));
        page.frames.into_iter().for_each(|f| window.push(f));
    }
    Ok(window)
}

impl Feed {
    /// Subscribes, fills the window from the log, and starts the feed's task; `stop` ends
    /// it.
    pub(crate) async fn start(
        context: &Arc<Context>,
        build_id: &str,
        id: u64,
        stop: CancellationToken,
    ) -> Result<Arc<Feed>, LogError> {
        // Subscribed first, so anything stored after the read below arrives live. The read
        // fills the window once per feed, instead of once per viewer.
        let heard = context.live.subscribe(build_id).await?;
        let window = fill(&*context.log, build_id, context.options.window).await?;
        let head = window.last().map_or(window.from(), |f| f.seq);
        let (tx, _) = broadcast::channel(context.options.queue);
        let feed = Arc::new(Feed {
            build_id: build_id.into(),
            id,
            tx,
            window: Mutex::new(window),
            stop,
        });
        let task = FeedTask {
            feed: feed.clone(),
            context: context.clone(),
            head,
            dirty: false,
            delivery_traced: false,
        };
        tokio::spawn(task.run(heard));
        Ok(feed)
    }

    fn window(&self) -> MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Which start of the build's feed this is (a seat belongs to one).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The build.
    pub fn build_id(&self) -> &str {
        &self.build_id
    }

    /// The build's newest frame on this node.
    pub fn last(&self) -> Option<Arc<Frame>> {
        self.window().last().cloned()
    }

    /// For a viewer whose last event is `after`: every frame after it and the live feed
    /// from there, when the window covers `after` and holds the build's newest event
    /// (`None`: read the log first).
    pub fn join(&self, after: u64) -> Option<Joined> {
        let window = self.window();
        let last = window.last()?.clone();
        let frames = window.after(after)?;
        // Subscribed while holding the lock the feed sends under: nothing in between.
        let rx = self.tx.subscribe();
        Some(Joined { frames, last, rx })
    }

    /// Stops the feed's task (its subscription ends; viewers see the broadcast close once
    /// the feed is dropped).
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }
}

struct FeedTask {
    feed: Arc<Feed>,
    context: Arc<Context>,
    /// The newest sequence broadcast.
    head: u64,
    /// A read is owed (the last one failed).
    dirty: bool,
    /// The first live delivery's span was made (or the event carried no trace context).
    delivery_traced: bool,
}

impl FeedTask {
    async fn run(mut self, mut heard: BoxStream<'static, Heard>) {
        let stop = self.feed.stop.clone();
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                next = heard.next() => match next {
                    Some(Heard::Stored { seq, prev, stored_at, payload, headers }) => {
                        if seq <= self.head {
                            continue;
                        }
                        if self.dirty || prev.is_some_and(|prev| prev > self.head) {
                            // The log holds this event too.
                            self.refetch("gap").await;
                            continue;
                        }
                        let frame = Frame::decode(seq, prev, stored_at, &payload).shared();
                        if self.delivery_traced || self.feed.tx.receiver_count() == 0 {
                            self.send(frame);
                        } else {
                            self.delivery_traced = true;
                            let span = self.delivery_span(&frame, headers.as_ref());
                            span.in_scope(|| self.send(frame));
                        }
                    }
                    Some(Heard::Resync) => self.refetch("reconnect").await,
                    None => break,
                },
                _ = tokio::time::sleep(REFETCH_RETRY), if self.dirty => self.refetch("retry").await,
            }
        }
    }

    /// Broadcasts everything the log holds after the head.
    async fn refetch(&mut self, reason: &'static str) {
        self.context
            .metrics
            .refetches
            .get_or_create(&ReasonLabel { reason })
            .inc();
        loop {
            let build_id = self.feed.build_id();
            match self.context.log.since(build_id, self.head, MAX_PAGE).await {
                Ok(read) => {
                    if !read.complete {
                        // Events after the head are gone from every store (purged while
                        // live): the window restarts from here; viewers resuming before
                        // it read the log and get a snapshot.
                        tracing::warn!(%build_id, head = self.head, "events after the feed's head are gone");
                        self.feed.window().restart(self.head);
                    }
                    let more = read.has_more();
                    read.frames.into_iter().for_each(|f| self.send(f));
                    if !more {
                        self.dirty = false;
                        return;
                    }
                }
                Err(err) => {
                    tracing::warn!(%build_id, %err, "refetch failed; retrying");
                    self.dirty = true;
                    return;
                }
            }
        }
    }

    /// The `deliver` span of the feed's first live event with a viewer, child of the
    /// event's trace context (disabled when the event carries none: no stray root trace).
    fn delivery_span(&self, frame: &Frame, headers: Option<&HeaderMap>) -> tracing::Span {
        let traced = headers.is_some_and(|h| h.get(trace_context::TRACEPARENT).is_some());
        if !traced {
            return tracing::Span::none();
        }
        let latency_ms = frame
            .stored_at
            .and_then(|at| (chrono::Utc::now() - at).to_std().ok())
            .map_or(0, |elapsed| {
                u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
            });
        let span = tracing::info_span!(
            "deliver",
            buildId = %self.feed.build_id,
            seq = frame.seq,
            eventType = frame.type_name(),
            viewers = self.feed.tx.receiver_count(),
            storedToDeliveryMs = latency_ms,
            traceId = tracing::field::Empty,
        );
        trace_context::adopt(&span, headers);
        span
    }

    fn send(&mut self, frame: Arc<Frame>) {
        if frame.seq <= self.head {
            return;
        }
        self.head = frame.seq;
        let mut window = self.feed.window();
        window.push(frame.clone());
        // No receivers is fine: viewers come and go.
        let _ = self.feed.tx.send(frame);
    }
}
