//! The fan-out hub: per edge node, one live feed per build that has local viewers, shared
//! by all of them (design.md, "Fan-out"), and the session every stream runs.
//!
//! - Bookkeeping ([`entries`]) is one map under one lock: each build's entry is
//!   `Starting` (one feed start, however many viewers arrive together), `Live` (its feed
//!   and an explicit viewer count) or `Lingering` (no viewer since; kept until a deadline).
//!   A viewer holds a [`Seat`]; entries change state when a seat is taken or given back, a
//!   start ends, or the sweeper runs, nowhere else.
//! - [`feed`] keeps a build's subscription, its [`window`] and its broadcast; [`cursor`]
//!   is one connection's position in the build's log; [`session`] is a stream whatever
//!   carries it (greeting, catch-up, runs of live frames, heartbeats, resume, snapshot,
//!   the typed disconnect); `ws.rs` and `sse.rs` only encode.
//!
//! A feed outlives its last viewer by the linger (`BUILDWIRE_FEED_LINGER_SECS`): viewers
//! cut off together (a network blip, a proxy restart) come back to a feed that kept
//! receiving, and resume from its window instead of each build's log being read again.

pub mod cursor;
mod entries;
pub mod feed;
pub mod live;
pub mod session;
pub mod window;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::log::{BuildLog, LogError};
use crate::logs::Links;
use crate::metrics::Metrics;
pub use crate::metrics::ReasonLabel;
use entries::{Inner, Ready};
pub use feed::Feed;
use live::LiveSource;
pub use session::{Out, Session, Step};

/// Frames a build's window keeps, so a resume inside them reads no log.
pub const WINDOW_LEN: usize = 512;
/// Frames a viewer may fall behind the live feed before it is closed as slow (1013): the
/// bound of each connection's queue.
pub const VIEWER_QUEUE: usize = 512;

/// How the hub keeps feeds.
#[derive(Debug, Clone, Copy)]
pub struct HubOptions {
    /// How long a feed outlives its last viewer.
    pub linger: Duration,
    /// Frames each build's window keeps ([`WINDOW_LEN`]).
    pub window: usize,
    /// Frames a viewer may fall behind ([`VIEWER_QUEUE`]).
    pub queue: usize,
}

impl HubOptions {
    /// The defaults with `linger`.
    pub fn with_linger(linger: Duration) -> HubOptions {
        HubOptions {
            linger,
            window: WINDOW_LEN,
            queue: VIEWER_QUEUE,
        }
    }
}

/// What feeds, cursors and sessions share.
pub(crate) struct Context {
    pub(crate) log: Arc<dyn BuildLog>,
    pub(crate) live: Arc<dyn LiveSource>,
    pub(crate) links: Links,
    pub(crate) metrics: Metrics,
    pub(crate) options: HubOptions,
    pub(crate) shutdown: CancellationToken,
}

/// The node's feeds, by build id.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// One viewer's place in a build's entry: counted from [`Hub::join`] until dropped.
pub struct Seat {
    hub: Arc<Inner>,
    build_id: Box<str>,
    id: u64,
    slot: Slot,
}

/// A seat's feed, or the start it waits for.
enum Slot {
    Feed(Arc<Feed>),
    Waiting(Arc<Ready>),
}

impl Hub {
    /// A hub reading `log`, hearing `live`, signing with `links`. Call within a tokio
    /// runtime: it starts the task that expires lingering feeds; `shutdown` stops it and
    /// every feed.
    pub(crate) fn new(
        log: Arc<dyn BuildLog>,
        live: Arc<dyn LiveSource>,
        links: Links,
        metrics: Metrics,
        options: HubOptions,
        shutdown: CancellationToken,
    ) -> Hub {
        let context = Arc::new(Context {
            log,
            live,
            links,
            metrics,
            options,
            shutdown: shutdown.clone(),
        });
        let inner = Arc::new(Inner::new(context));
        if !options.linger.is_zero() {
            let every =
                (options.linger / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
            tokio::spawn(entries::sweep(Arc::downgrade(&inner), every, shutdown));
        }
        Hub { inner }
    }

    /// The build log every reader shares (JetStream, and the database below it).
    pub fn log(&self) -> &Arc<dyn BuildLog> {
        &self.inner.context.log
    }

    /// Signs log links on the way out.
    pub fn links(&self) -> &Links {
        &self.inner.context.links
    }

    /// Builds with a feed on this node (lingering ones included).
    pub fn active_builds(&self) -> usize {
        self.inner.feeds()
    }

    /// Takes a seat at `build_id`'s feed, starting one when this node has none. Viewers
    /// arriving together (a reconnect storm) wait for one start instead of each reading
    /// the log.
    pub fn join(&self, build_id: &str) -> Seat {
        let (id, slot) = self.inner.join(build_id);
        Seat {
            hub: self.inner.clone(),
            build_id: build_id.into(),
            id,
            slot,
        }
    }
}

impl Seat {
    /// The build's feed, once started.
    pub async fn feed(&mut self) -> Result<Arc<Feed>, LogError> {
        let ready = match &self.slot {
            Slot::Feed(feed) => return Ok(feed.clone()),
            Slot::Waiting(ready) => ready.clone(),
        };
        loop {
            let notified = ready.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match ready.outcome.get() {
                Some(Ok(feed)) => {
                    self.slot = Slot::Feed(feed.clone());
                    return Ok(feed.clone());
                }
                Some(Err(err)) => return Err(LogError::Start(err.clone())),
                None => notified.await,
            }
        }
    }

    pub(crate) fn context(&self) -> &Arc<Context> {
        &self.hub.context
    }
}

impl Drop for Seat {
    /// Gives the seat back; what that means for the feed is [`Hub`]'s to decide.
    fn drop(&mut self) {
        self.hub.leave(&self.build_id, self.id);
    }
}

#[cfg(test)]
mod tests;
