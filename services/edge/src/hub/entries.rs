//! The hub's bookkeeping: one map of entries under one lock. A build's entry is `Starting`
//! (one feed start however many viewers arrive together), `Live` (its feed and an explicit
//! viewer count) or `Lingering` (no viewer since, kept until a deadline); [`Inner::join`],
//! [`Inner::leave`], a start's end and the sweeper move entries, nothing else does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Context, Feed, Slot};
use crate::log::LogError;

/// A feed start's outcome, awaited by every viewer that arrived while it ran.
#[derive(Default)]
pub(super) struct Ready {
    pub(super) outcome: OnceLock<Result<Arc<Feed>, Arc<LogError>>>,
    pub(super) notify: Notify,
}

/// A build's state on this node.
enum Entry {
    Starting {
        id: u64,
        viewers: usize,
        ready: Arc<Ready>,
    },
    Live {
        feed: Arc<Feed>,
        viewers: usize,
    },
    Lingering {
        feed: Arc<Feed>,
        until: Instant,
    },
}

/// Every build's entry, the next feed start's id, and how many feeds there are.
#[derive(Default)]
struct Entries {
    map: HashMap<Box<str>, Entry>,
    next_id: u64,
    /// Entries with a feed (live or lingering), for `live_builds`.
    feeds: usize,
}

/// The hub itself: what it shares with feeds and sessions, and its entries.
pub(super) struct Inner {
    pub(super) context: Arc<Context>,
    entries: Mutex<Entries>,
}

impl Inner {
    /// A hub over `context` with no entry yet.
    pub(super) fn new(context: Arc<Context>) -> Inner {
        Inner {
            context,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// Builds with a feed on this node (lingering ones included).
    pub(super) fn feeds(&self) -> usize {
        self.entries().feeds
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a viewer of `build_id` in, starting its feed when this node has none: the
    /// feed start it belongs to, and the feed or the start to wait for.
    pub(super) fn join(self: &Arc<Inner>, build_id: &str) -> (u64, Slot) {
        let mut entries = self.entries();
        if let Some(entry) = entries.map.get_mut(build_id) {
            return match entry {
                Entry::Live { feed, viewers } => {
                    *viewers += 1;
                    (feed.id(), Slot::Feed(feed.clone()))
                }
                Entry::Starting { id, viewers, ready } => {
                    *viewers += 1;
                    (*id, Slot::Waiting(ready.clone()))
                }
                Entry::Lingering { feed, .. } => {
                    let feed = feed.clone();
                    let joined = (feed.id(), Slot::Feed(feed.clone()));
                    *entry = Entry::Live { feed, viewers: 1 };
                    joined
                }
            };
        }
        entries.next_id += 1;
        let id = entries.next_id;
        let ready = Arc::new(Ready::default());
        tokio::spawn(start(self.clone(), build_id.into(), id, ready.clone()));
        let starting = Entry::Starting {
            id,
            viewers: 1,
            ready: ready.clone(),
        };
        entries.map.insert(build_id.into(), starting);
        (id, Slot::Waiting(ready))
    }

    /// What a feed with no viewer left becomes: lingering, or nothing (stopped) without a
    /// linger.
    fn idle(&self, entries: &mut Entries, build_id: &str, feed: Arc<Feed>) {
        let linger = self.context.options.linger;
        if linger.is_zero() {
            feed.stop();
            entries.map.remove(build_id);
            entries.feeds -= 1;
            self.context.metrics.feeds.set(entries.feeds as i64);
        } else if let Some(entry) = entries.map.get_mut(build_id) {
            let until = Instant::now() + linger;
            *entry = Entry::Lingering { feed, until };
        }
    }

    /// A seat of feed `id` left.
    pub(super) fn leave(&self, build_id: &str, id: u64) {
        let mut entries = self.entries();
        let idle = match entries.map.get_mut(build_id) {
            Some(Entry::Live { feed, viewers }) if feed.id() == id => {
                *viewers -= 1;
                (*viewers == 0).then(|| feed.clone())
            }
            Some(Entry::Starting {
                id: starting,
                viewers,
                ..
            }) if *starting == id => {
                *viewers -= 1;
                None
            }
            _ => None,
        };
        if let Some(feed) = idle {
            self.idle(&mut entries, build_id, feed);
        }
    }

    /// Feed start `id` of `build_id` finished.
    fn started(&self, build_id: &str, id: u64, outcome: &Result<Arc<Feed>, Arc<LogError>>) {
        let mut entries = self.entries();
        let viewers = match entries.map.get(build_id) {
            Some(Entry::Starting {
                id: starting,
                viewers,
                ..
            }) if *starting == id => *viewers,
            _ => return,
        };
        let Ok(feed) = outcome else {
            // Failed: the entry goes; its waiting viewers get the error.
            entries.map.remove(build_id);
            return;
        };
        let live = Entry::Live {
            feed: feed.clone(),
            viewers,
        };
        entries.map.insert(build_id.into(), live);
        entries.feeds += 1;
        self.context.metrics.feeds.set(entries.feeds as i64);
        if viewers == 0 {
            self.idle(&mut entries, build_id, feed.clone());
        }
    }

    /// Stops the lingering feeds whose deadline passed.
    fn expire(&self) {
        let now = Instant::now();
        let mut entries = self.entries();
        entries.map.retain(|_, entry| match entry {
            Entry::Lingering { feed, until } if *until <= now => {
                feed.stop();
                false
            }
            _ => true,
        });
        entries.feeds = entries
            .map
            .values()
            .filter(|e| !matches!(e, Entry::Starting { .. }))
            .count();
        self.context.metrics.feeds.set(entries.feeds as i64);
    }
}

/// Starts feed `id` of `build_id` and tells its waiting viewers.
async fn start(hub: Arc<Inner>, build_id: Box<str>, id: u64, ready: Arc<Ready>) {
    let stop = hub.context.shutdown.child_token();
    let outcome = Feed::start(&hub.context, &build_id, id, stop)
        .await
        .map_err(Arc::new);
    if let Err(err) = &outcome {
        tracing::warn!(%build_id, %err, "a build's feed could not start");
    }
    hub.started(&build_id, id, &outcome);
    let _ = ready.outcome.set(outcome);
    ready.notify.notify_waiters();
}

/// Expires lingering feeds every `every` until the hub is gone or the node stops.
pub(super) async fn sweep(hub: Weak<Inner>, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => match hub.upgrade() {
                Some(hub) => hub.expire(),
                None => return,
            },
        }
    }
}
