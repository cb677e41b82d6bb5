//! One build's live feed on one node: a core subscription to `live.build.<id>.events`
//! (EVENTS republishes every stored event there) broadcast to the node's viewers.
//!
//! The feed keeps its broadcast contiguous: a republished message whose
//! `Nats-Last-Sequence` is not the last sequence seen, a NATS reconnect, or a
//! slow-consumer drop makes it refetch the missing events from history first.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_nats::{Message, Subscriber};
use buildwire_schemas::events::StatusCode;
use buildwire_schemas::{EventBody, subjects};
use futures::StreamExt;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::HubShared;
use crate::frame::{Frame, parse_timestamp};
use crate::history::{History, HistoryError, header_u64};
use crate::metrics::Metrics;

/// Frames a viewer may fall behind the feed before it counts as slow: the bound of each
/// connection's queue.
pub const VIEWER_QUEUE: usize = 512;
/// Pause before retrying a refetch that failed (NATS away).
const REFETCH_RETRY: Duration = Duration::from_millis(500);

/// A build's newest frames, kept so that viewers resuming inside it (a reconnect storm)
/// cost no JetStream read: it holds every event of the build after `after`, in order.
struct Window {
    frames: VecDeque<Arc<Frame>>,
    /// Every event after this sequence is in `frames`; `None` while that is not known.
    after: Option<u64>,
}

impl Window {
    fn push(&mut self, frame: Arc<Frame>) {
        self.frames.push_back(frame);
        if self.frames.len() > VIEWER_QUEUE
            && let Some(dropped) = self.frames.pop_front()
        {
            self.after = self.after.map(|_| dropped.seq);
        }
    }
}

/// What a viewer resuming inside the window starts from.
pub struct WindowRead {
    /// Every frame after the viewer's cursor.
    pub frames: Vec<Arc<Frame>>,
    /// The build's newest frame.
    pub last: Arc<Frame>,
    /// The live feed from right after `last` (subscribed under the window's lock).
    pub rx: broadcast::Receiver<Arc<Frame>>,
}

impl WindowRead {
    /// Whether a client whose last event is `after` already has the build's last one.
    pub fn finished_for(&self, after: u64) -> bool {
        self.last.is_terminal() && after >= self.last.seq
    }
}

fn lock(window: &Mutex<Window>) -> std::sync::MutexGuard<'_, Window> {
    window.lock().unwrap_or_else(|p| p.into_inner())
}

/// A build's live events on this node.
pub struct Feed {
    build_id: String,
    id: u64,
    tx: broadcast::Sender<Arc<Frame>>,
    head: Arc<AtomicU64>,
    window: Arc<Mutex<Window>>,
    hub: Weak<HubShared>,
    metrics: Metrics,
    /// The first sequence the database holds for the build (`None`: nothing), asked once
    /// per feed rather than once per viewer.
    earliest_recorded: tokio::sync::OnceCell<Option<u64>>,
    _stop: DropGuard,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("build_id", &self.build_id)
            .field("head", &self.head())
            .finish()
    }
}

impl Feed {
    /// Subscribes, learns the newest stored sequence, and starts the feed's task.
    pub(crate) async fn start(
        hub: &Arc<HubShared>,
        build_id: &str,
        id: u64,
    ) -> Result<Arc<Feed>, HistoryError> {
        let subscriber = hub
            .client
            .subscribe(subjects::live_events(build_id))
            .await
            .map_err(|e| HistoryError::Unavailable(e.to_string()))?;
        // Subscribed first, so anything stored after this read arrives live. The read
        // fills the window once per feed, instead of once per viewer.
        let stored = hub.history.all_after(build_id, 0).await?;
        let head = stored.last().map_or(0, |f| f.seq);
        // The build's first event is the edge's `queued`: holding it proves the window
        // holds the whole build (JetStream deletes from the front).
        let whole = stored.first().is_some_and(|frame| {
            matches!(
                frame.event.as_ref().map(|e| &e.body),
                Some(EventBody::Status(status)) if status.code == StatusCode::Queued
            )
        });
        let skip = stored.len().saturating_sub(VIEWER_QUEUE);
        let mut window = Window {
            frames: VecDeque::with_capacity(stored.len().min(VIEWER_QUEUE)),
            after: None,
        };
        if whole {
            window.after = Some(if skip == 0 { 0 } else { stored[skip - 1].seq });
        } else if let Some(last) = stored.last() {
            // Only what comes from now on is known to be complete.
            window.after = Some(last.seq);
        }
        window
            .frames
            .extend(stored.into_iter().skip(skip).map(Arc::new));
        let window = Arc::new(Mutex::new(window));
        let (tx, _) = broadcast::channel(VIEWER_QUEUE);
        let head = Arc::new(AtomicU64::new(head));
        let stop = CancellationToken::new();
        let task = FeedTask {
            build_id: build_id.to_string(),
            tx: tx.clone(),
            head: head.clone(),
            window: window.clone(),
            history: hub.history.clone(),
            metrics: hub.metrics.clone(),
            dirty: false,
        };
        let mut resyncs = hub.resyncs.clone();
        resyncs.mark_unchanged();
        tokio::spawn(task.run(subscriber, resyncs, stop.clone()));
        Ok(Arc::new(Feed {
            build_id: build_id.to_string(),
            id,
            tx,
            head,
            window,
            hub: Arc::downgrade(hub),
            metrics: hub.metrics.clone(),
            earliest_recorded: tokio::sync::OnceCell::new(),
            _stop: stop.drop_guard(),
        }))
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The build.
    pub fn build_id(&self) -> &str {
        &self.build_id
    }

    /// The newest sequence broadcast (or stored when the feed started).
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// The first sequence `store` holds for this build, cached for the feed's life: a
    /// viewer opening below what JetStream still holds reads the database only when it has
    /// something older. A database that cannot answer counts as holding nothing (streams
    /// go on from JetStream) and is asked again by the next viewer. (A build whose events
    /// JetStream drops while its feed lives, before the recorder stored any, would be
    /// missed here; the recorder runs seconds behind, retention is days.)
    pub async fn earliest_recorded(&self, store: &buildwire_record::Store) -> Option<u64> {
        let asked = self
            .earliest_recorded
            .get_or_try_init(|| async {
                let (events, _) = store.events_after(&self.build_id, 0, 1).await?;
                Ok::<_, buildwire_record::RecordError>(events.first().map(|e| e.seq))
            })
            .await;
        match asked {
            Ok(earliest) => *earliest,
            Err(err) => {
                tracing::warn!(build_id = %self.build_id, %err, "database unavailable for stream history");
                None
            }
        }
    }

    /// Called as a viewer of this feed leaves: the hub keeps the feed for its linger.
    pub(crate) fn release(self: &Arc<Self>) {
        if let Some(hub) = self.hub.upgrade() {
            hub.linger(self);
        }
    }

    /// A receiver of every frame broadcast from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.tx.subscribe()
    }

    /// For a viewer whose last event is `after`: every frame after it and the live feed
    /// from there, when the window covers `after` (else `None`: read history). Counted in
    /// `stream_starts` either way.
    pub fn read_window(&self, after: u64) -> Option<WindowRead> {
        let read = self.try_window(after);
        let from = if read.is_some() { "window" } else { "history" };
        self.metrics
            .stream_starts
            .get_or_create(&crate::metrics::FromLabel { from })
            .inc();
        read
    }

    fn try_window(&self, after: u64) -> Option<WindowRead> {
        let window = lock(&self.window);
        let covered = window.after.is_some_and(|from| from <= after);
        let last = window.frames.back()?.clone();
        if !covered || after > last.seq {
            return None;
        }
        let frames = window
            .frames
            .iter()
            .filter(|frame| frame.seq > after)
            .cloned()
            .collect();
        // Subscribed while holding the lock the feed sends under: nothing in between.
        let rx = self.tx.subscribe();
        Some(WindowRead { frames, last, rx })
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.forget(&self.build_id, self.id);
        }
    }
}

struct FeedTask {
    build_id: String,
    tx: broadcast::Sender<Arc<Frame>>,
    head: Arc<AtomicU64>,
    window: Arc<Mutex<Window>>,
    history: History,
    metrics: Metrics,
    /// A refetch is owed (the last one failed).
    dirty: bool,
}

impl FeedTask {
    async fn run(
        mut self,
        mut subscriber: Subscriber,
        mut resyncs: watch::Receiver<u64>,
        stop: CancellationToken,
    ) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                changed = resyncs.changed() => {
                    if changed.is_err() {
                        // The client is gone; keep serving what arrives.
                        resyncs = watch::channel(0).1;
                        continue;
                    }
                    self.metrics.refetches.get_or_create(&reason("reconnect")).inc();
                    self.refetch().await;
                }
                message = subscriber.next() => match message {
                    Some(message) => self.on_live(message).await,
                    None => break,
                },
                _ = tokio::time::sleep(REFETCH_RETRY), if self.dirty => self.refetch().await,
            }
        }
        let _ = subscriber.unsubscribe().await;
    }

    fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    async fn on_live(&mut self, message: Message) {
        let headers = message.headers.as_ref();
        let Some(seq) = header_u64(headers, "Nats-Sequence") else {
            tracing::warn!(subject = %message.subject, "live message without Nats-Sequence");
            return;
        };
        let head = self.head();
        if seq <= head {
            return;
        }
        let prev = header_u64(headers, "Nats-Last-Sequence");
        if self.dirty || prev.is_some_and(|prev| prev > head) {
            self.metrics.refetches.get_or_create(&reason("gap")).inc();
            // History holds this message too.
            self.refetch().await;
            return;
        }
        let stored_at = headers
            .and_then(|h| h.get("Nats-Time-Stamp"))
            .and_then(|v| parse_timestamp(v.as_str()));
        self.send(Frame::decode(seq, prev, stored_at, &message.payload));
    }

    /// Broadcasts everything stored after the head.
    async fn refetch(&mut self) {
        match self.history.all_after(&self.build_id, self.head()).await {
            Ok(frames) => {
                self.dirty = false;
                for frame in frames {
                    self.send(frame);
                }
            }
            Err(err) => {
                tracing::warn!(build_id = %self.build_id, %err, "refetch failed; retrying");
                self.dirty = true;
            }
        }
    }

    fn send(&self, frame: Frame) {
        if frame.seq <= self.head() {
            return;
        }
        let frame = Arc::new(frame);
        let mut window = lock(&self.window);
        self.head.store(frame.seq, Ordering::Release);
        window.push(frame.clone());
        // No receivers is fine: viewers come and go.
        let _ = self.tx.send(frame);
    }
}

fn reason(reason: &'static str) -> crate::metrics::ReasonLabel {
    crate::metrics::ReasonLabel { reason }
}
