//! What a build's feed hears live: every event EVENTS stores for the build, republished on
//! `live.build.<id>.events` with its sequence and the build's previous one, and the moments
//! it may have missed some (a NATS reconnect). Behind [`LiveSource`], so the hub runs on
//! NATS in the edge and on a channel in unit tests.

use async_nats::{Client, HeaderMap};
use buildwire_runtime::jetstream::{
    NATS_LAST_SEQUENCE, NATS_SEQUENCE, NATS_TIME_STAMP, header_u64,
};
use buildwire_schemas::subjects;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use tokio::sync::watch;

use crate::frame::parse_timestamp;
use crate::log::LogError;

/// One thing a feed hears.
#[derive(Debug)]
pub enum Heard {
    /// A stored event.
    Stored {
        /// Its stream sequence.
        seq: u64,
        /// The build's previous sequence (`Nats-Last-Sequence`), when given.
        prev: Option<u64>,
        /// When it was stored.
        stored_at: Option<DateTime<Utc>>,
        /// The stored body.
        payload: Bytes,
        /// The message's headers (moved, not copied): the event's trace context, which
        /// the feed reads once, for its first delivery's span.
        headers: Option<HeaderMap>,
    },
    /// Events may have been missed (NATS reconnected): the feed reads the log.
    Resync,
}

/// Where feeds hear a build's events live.
pub trait LiveSource: Send + Sync {
    /// Subscribes to `build_id`'s events from now on; the stream ends when the source does.
    fn subscribe<'a>(
        &'a self,
        build_id: &'a str,
    ) -> BoxFuture<'a, Result<BoxStream<'static, Heard>, LogError>>;
}

/// Core NATS subscriptions to `live.build.<id>.events` (EVENTS republishes there), and the
/// client's reconnects.
pub struct NatsLive {
    client: Client,
    resyncs: watch::Receiver<u64>,
}

impl NatsLive {
    /// Over `client`; `resyncs` changes on every reconnect.
    pub fn new(client: Client, resyncs: watch::Receiver<u64>) -> NatsLive {
        NatsLive { client, resyncs }
    }
}

fn heard(mut message: async_nats::Message) -> Option<Heard> {
    let owned = message.headers.take();
    let headers = owned.as_ref();
    let Some(seq) = header_u64(headers, NATS_SEQUENCE) else {
        tracing::warn!(subject = %message.subject, "live message without Nats-Sequence");
        return None;
    };
    Some(Heard::Stored {
        seq,
        prev: header_u64(headers, NATS_LAST_SEQUENCE),
        stored_at: headers
            .and_then(|h| h.get(NATS_TIME_STAMP))
            .and_then(|v| parse_timestamp(v.as_str())),
        payload: message.payload,
        headers: owned,
    })
}

impl LiveSource for NatsLive {
    fn subscribe<'a>(
        &'a self,
        build_id: &'a str,
    ) -> BoxFuture<'a, Result<BoxStream<'static, Heard>, LogError>> {
        Box::pin(async move {
            let subscriber = self
                .client
                .subscribe(subjects::live_events(build_id))
                .await
                .map_err(|e| LogError::Nats {
                    op: "subscribe",
                    source: e.into(),
                })?;
            let mut resyncs = self.resyncs.clone();
            resyncs.mark_unchanged();
            // (subscription, reconnects, whether the client that reports them is gone)
            let state = (subscriber, resyncs, false);
            let stream =
                futures::stream::unfold(state, |(mut sub, mut resyncs, mut gone)| async move {
                    loop {
                        tokio::select! {
                            changed = resyncs.changed(), if !gone => {
                                if changed.is_err() {
                                    gone = true;
                                    continue;
                                }
                                return Some((Heard::Resync, (sub, resyncs, gone)));
                            }
                            message = sub.next() => match heard(message?) {
                                Some(heard) => return Some((heard, (sub, resyncs, gone))),
                                None => continue,
                            },
                        }
                    }
                });
            Ok(stream.boxed())
        })
    }
}

/// A live source tests drive by hand.
#[cfg(test)]
pub mod memory {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use tokio::sync::mpsc;

    use super::*;

    /// Subscribers by build; [`MemoryLive::hear`] reaches every one.
    #[derive(Default)]
    pub struct MemoryLive {
        subscribers: Mutex<HashMap<String, Vec<mpsc::UnboundedSender<Heard>>>>,
    }

    impl MemoryLive {
        /// Delivers `make()` to every subscriber of `build_id`.
        pub fn hear(&self, build_id: &str, make: impl Fn() -> Heard) {
            let mut subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(subscribers) = subscribers.get_mut(build_id) {
                subscribers.retain(|s| s.send(make()).is_ok());
            }
        }

        /// Open subscriptions of `build_id`.
        pub fn subscribers(&self, build_id: &str) -> usize {
            let mut subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
            subscribers.get_mut(build_id).map_or(0, |s| {
                s.retain(|s| !s.is_closed());
                s.len()
            })
        }
    }

    impl LiveSource for MemoryLive {
        fn subscribe<'a>(
            &'a self,
            build_id: &'a str,
        ) -> BoxFuture<'a, Result<BoxStream<'static, Heard>, LogError>> {
            let (tx, mut rx) = mpsc::unbounded_channel();
            self.subscribers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(build_id.to_string())
                .or_default()
                .push(tx);
            let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
            Box::pin(std::future::ready(Ok(stream.boxed())))
        }
    }
}
