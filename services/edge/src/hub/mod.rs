//! The fan-out hub: per edge node, one core NATS subscription per build that has local
//! viewers, shared by all of them (design.md, "Fan-out").
//!
//! [`feed`] keeps a build's subscription and repairs it (gaps, reconnects); [`viewer`]
//! merges history with the live feed for one connection, by sequence, so every
//! connection sees every event once.

pub mod feed;
pub mod viewer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use async_nats::Client;
use tokio::sync::watch;

use crate::history::{History, HistoryError};
use crate::metrics::Metrics;

pub use feed::Feed;
pub use viewer::{Greeting, Next, Viewer};

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
}

impl Hub {
    /// A hub over `client` (core subscriptions), `history` (Direct Get), `resyncs`
    /// (NATS reconnects, after which every feed refetches) and `store` (recorded history).
    pub fn new(
        client: Client,
        history: History,
        resyncs: watch::Receiver<u64>,
        metrics: Metrics,
        store: Option<buildwire_record::Store>,
    ) -> Hub {
        Hub {
            shared: Arc::new(HubShared {
                client,
                history,
                resyncs,
                metrics,
                store,
                feeds: Mutex::new(HashMap::new()),
                next_feed: AtomicU64::new(1),
            }),
        }
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

    /// The feed of `build_id`, subscribing when this node has none yet.
    pub async fn feed(&self, build_id: &str) -> Result<Arc<Feed>, HistoryError> {
        if let Some(feed) = self.lookup(build_id) {
            return Ok(feed);
        }
        let id = self.shared.next_feed.fetch_add(1, Ordering::Relaxed);
        let created = Feed::start(&self.shared, build_id, id).await?;
        let mut feeds = self.shared.feeds.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = feeds.get(build_id).and_then(Weak::upgrade) {
            // Another connection subscribed first; ours is dropped (and unsubscribes).
            return Ok(existing);
        }
        feeds.insert(build_id.to_string(), Arc::downgrade(&created));
        self.shared.metrics.feeds.set(feeds.len() as i64);
        Ok(created)
    }
}
