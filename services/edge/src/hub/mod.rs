//! The fan-out hub: per edge node, one core NATS subscription per build that has local
//! viewers, shared by all of them (design.md, "Fan-out").
//!
//! [`feed`] keeps a build's subscription and repairs it (gaps, reconnects); [`viewer`]
//! merges history with the live feed for one connection, by sequence, so every
//! connection sees every event once.
//!
//! A feed outlives its last viewer by the linger (`BUILDWIRE_FEED_LINGER_SECS`): viewers
//! cut off together (a network blip, a proxy restart) come back to a feed that kept
//! receiving, and resume from its window in memory instead of each build's history being
//! read from JetStream again.

pub mod feed;
pub mod viewer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_nats::Client;
use tokio::sync::watch;

use crate::history::{History, HistoryError};
use crate::metrics::Metrics;

pub use feed::Feed;
pub use viewer::{End, Greeting, Next, Viewer};

/// The node's feeds, by build id.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<HubShared>,
}

pub(crate) struct HubShared {
    client: Client,
    history: History,
    resyncs: watch::Receiver<u64>,
    metrics: Metrics,
    store: Option<buildwire_record::Store>,
    feeds: Mutex<HashMap<String, Weak<Feed>>>,
    /// Builds whose feed is being started, so concurrent viewers start one, not one each.
    starting: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Feeds whose viewers have all left, kept alive until their deadline.
    lingering: Mutex<HashMap<String, (Arc<Feed>, tokio::time::Instant)>>,
    linger: Duration,
    next_feed: AtomicU64,
}

impl HubShared {
    /// Forgets feed `id` of `build_id` (called when its last viewer left).
    pub(crate) fn forget(&self, build_id: &str, id: u64) {
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        if feeds
            .get(build_id)
            .and_then(Weak::upgrade)
            .is_none_or(|f| f.id() == id)
        {
            feeds.remove(build_id);
        }
        self.metrics.feeds.set(feeds.len() as i64);
    }

    /// Keeps `feed` alive for the linger from now (called as each viewer leaves).
    pub(crate) fn linger(&self, feed: &Arc<Feed>) {
        if self.linger.is_zero() {
            return;
        }
        let deadline = tokio::time::Instant::now() + self.linger;
        let mut lingering = self.lingering.lock().unwrap_or_else(|p| p.into_inner());
        match lingering.get_mut(feed.build_id()) {
            Some(entry) => *entry = (feed.clone(), deadline),
            None => {
                lingering.insert(feed.build_id().to_string(), (feed.clone(), deadline));
            }
        }
    }

    /// Lets go of the feeds whose linger is over (those without viewers stop).
    fn expire_lingering(&self) {
        let now = tokio::time::Instant::now();
        let mut expired = Vec::new();
        {
            let mut lingering = self.lingering.lock().unwrap_or_else(|p| p.into_inner());
            lingering.retain(|_, (feed, deadline)| {
                let keep = *deadline > now;
                if !keep {
                    expired.push(feed.clone());
                }
                keep
            });
        }
        // Dropped outside the lock: a feed's drop takes the feeds map's lock.
        drop(expired);
    }
}

/// Expires lingering feeds every `every` until the hub is gone.
async fn sweep_lingering(hub: Weak<HubShared>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match hub.upgrade() {
            Some(hub) => hub.expire_lingering(),
            None => return,
        }
    }
}

impl Hub {
    /// A hub over `client` (core subscriptions), `history` (Direct Get), `resyncs`
    /// (NATS reconnects, after which every feed refetches) and `store` (recorded history),
    /// keeping feeds `linger` after their last viewer. Call within a tokio runtime: it
    /// starts the task that expires lingering feeds.
    pub fn new(
        client: Client,
        history: History,
        resyncs: watch::Receiver<u64>,
        metrics: Metrics,
        store: Option<buildwire_record::Store>,
        linger: Duration,
    ) -> Hub {
        let shared = Arc::new(HubShared {
            client,
            history,
            resyncs,
            metrics,
            store,
            feeds: Mutex::new(HashMap::new()),
            starting: Mutex::new(HashMap::new()),
            lingering: Mutex::new(HashMap::new()),
            linger,
            next_feed: AtomicU64::new(1),
        });
        if !linger.is_zero() {
            let every = (linger / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
            tokio::spawn(sweep_lingering(Arc::downgrade(&shared), every));
        }
        Hub { shared }
    }

    /// The history reader the hub uses.
    pub fn history(&self) -> &History {
        &self.shared.history
    }

    /// The database, for history JetStream no longer holds.
    pub fn store(&self) -> Option<&buildwire_record::Store> {
        self.shared.store.as_ref()
    }

    /// Builds with a live subscription on this node.
    pub fn active_builds(&self) -> usize {
        let feeds = self.shared.feeds.lock().unwrap_or_else(|p| p.into_inner());
        feeds.values().filter(|f| f.strong_count() > 0).count()
    }

    fn lookup(&self, build_id: &str) -> Option<Arc<Feed>> {
        let feeds = self.shared.feeds.lock().unwrap_or_else(|p| p.into_inner());
        feeds.get(build_id).and_then(Weak::upgrade)
    }

    /// The feed of `build_id`, subscribing when this node has none yet. Viewers arriving
    /// together (a reconnect storm) wait for one start instead of each reading history.
    pub async fn feed(&self, build_id: &str) -> Result<Arc<Feed>, HistoryError> {
        if let Some(feed) = self.lookup(build_id) {
            return Ok(feed);
        }
        let gate = {
            let mut starting = self
                .shared
                .starting
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            starting.entry(build_id.to_string()).or_default().clone()
        };
        let started = {
            let _turn = gate.lock().await;
            match self.lookup(build_id) {
                Some(feed) => Ok(feed),
                None => self.start_feed(build_id).await,
            }
        };
        let mut starting = self
            .shared
            .starting
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if starting
            .get(build_id)
            .is_some_and(|g| Arc::ptr_eq(g, &gate) && Arc::strong_count(g) <= 2)
        {
            starting.remove(build_id);
        }
        started
    }

    async fn start_feed(&self, build_id: &str) -> Result<Arc<Feed>, HistoryError> {
        let id = self.shared.next_feed.fetch_add(1, Ordering::Relaxed);
        let created = Feed::start(&self.shared, build_id, id).await?;
        let mut feeds = self.shared.feeds.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = feeds.get(build_id).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        feeds.insert(build_id.to_string(), Arc::downgrade(&created));
        self.shared.metrics.feeds.set(feeds.len() as i64);
        Ok(created)
    }
}
