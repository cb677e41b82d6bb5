//! One read model of a build's log: [`BuildLog::since`] answers "the events after this
//! cursor, where the log stands, and whether anything after the cursor is missing", whatever
//! holds them. Viewers (through the feed's window, `hub/`), `GET /v1/builds/{id}` and
//! `GET /v1/builds/{id}/events` all read it, so the rule "window, database or JetStream,
//! recovered or not" is decided here once.
//!
//! - [`jetstream::JetStreamLog`]: `EVENTS` by batch Direct Get (any replica answers).
//! - [`database::DatabaseLog`]: the recorder's `build_events` and `build_progress`.
//! - [`layered::Layered`]: JetStream, with the database below it for what JetStream no
//!   longer holds (age limit, purges).
//! - `memory::MemoryLog` (tests): a log in memory, to test gaps, windows and recovery
//!   without a server.
//!
//! Every store deletes from the front, so "the cursor's own event is still held" means
//! everything after it is: that is how `complete` is known, never from what an event says.

pub mod database;
pub mod jetstream;
pub mod layered;
#[cfg(test)]
pub mod memory;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use buildwire_schemas::api::BuildProgress;
use futures::future::BoxFuture;

use crate::frame::Frame;

/// Most events one read returns (JetStream's batch limit).
pub const MAX_PAGE: usize = 1000;

/// Why a build's log could not be read. Each keeps its cause.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// NATS refused or dropped a request.
    #[error("JetStream {op}: {source}")]
    Nats {
        /// What was asked (`direct get`, `subscribe`).
        op: &'static str,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No reply in time (NATS away).
    #[error("JetStream {op}: no reply within {timeout:?}")]
    Timeout {
        /// What was asked.
        op: &'static str,
        /// How long it waited.
        timeout: Duration,
    },
    /// JetStream answered with an error status.
    #[error("JetStream {op}: status {status} {description}")]
    Status {
        /// What was asked.
        op: &'static str,
        /// The status code.
        status: u16,
        /// The server's description.
        description: String,
    },
    /// A reply JetStream should never send (no `Nats-Sequence`).
    #[error("JetStream {op}: a reply without Nats-Sequence")]
    Malformed {
        /// What was asked.
        op: &'static str,
    },
    /// The database failed where it had to answer.
    #[error("database: {0}")]
    Database(#[source] buildwire_record::RecordError),
    /// The build's feed could not start; every viewer that waited for it gets this.
    #[error("starting the build's live feed failed: {0}")]
    Start(#[source] Arc<LogError>),
    /// A test log was told to fail.
    #[cfg(test)]
    #[error("the test log is failing")]
    Failing,
}

/// Where a build's log stands: its newest event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// The newest event's `seq`.
    pub seq: u64,
    /// Whether it ends the build (`complete`, `failed`, `cancelled`).
    pub terminal: bool,
    /// The build's request id (empty when the store does not keep it).
    pub request_id: String,
}

impl Position {
    /// The position at `frame`.
    pub fn at(frame: &Frame) -> Position {
        Position {
            seq: frame.seq,
            terminal: frame.is_terminal(),
            request_id: frame.request_id().unwrap_or_default().to_string(),
        }
    }
}

/// What [`BuildLog::since`] answers.
#[derive(Debug, Default)]
pub struct Since {
    /// Events after the cursor, oldest first, at most the limit asked.
    pub frames: Vec<Arc<Frame>>,
    /// Where the log stands; `None` when it holds nothing of the build.
    pub position: Option<Position>,
    /// Whether nothing after the cursor is missing: from the start (cursor 0), the cursor's
    /// own event still held, or the log's newest event at or before it. False means events after the
    /// cursor are gone: the reader owes its client `recovered: false` and a snapshot.
    pub complete: bool,
}

impl Since {
    /// The newest `seq` (0 for an unknown build).
    pub fn head(&self) -> u64 {
        self.position.as_ref().map_or(0, |p| p.seq)
    }

    /// Whether events after the last frame remain (ask again after it).
    pub fn has_more(&self) -> bool {
        self.frames.last().is_some_and(|f| f.seq < self.head())
    }
}

/// How many events a store reads from the cursor itself, to answer `limit` after it.
pub(crate) fn ask(after: u64, limit: usize) -> usize {
    let limit = limit.clamp(1, MAX_PAGE);
    if after == 0 { limit } else { limit + 1 }.min(MAX_PAGE)
}

impl Since {
    /// The answer to "`limit` events after `after`" from a store's read that started at the
    /// cursor itself ([`ask`] events): the cursor dropped (and noted as held), `limit` kept,
    /// and the position that of the last event when the read reached the store's end, else
    /// what `newest` answers (awaited only then).
    pub(crate) async fn from_cursor(
        mut frames: Vec<Frame>,
        reached_end: bool,
        after: u64,
        limit: usize,
        newest: impl Future<Output = Result<Option<Position>, LogError>>,
    ) -> Result<Since, LogError> {
        let last = frames.last().filter(|_| reached_end).map(Position::at);
        let held = after > 0 && frames.first().is_some_and(|first| first.seq == after);
        if held {
            frames.remove(0);
        }
        frames.truncate(limit.clamp(1, MAX_PAGE));
        let position = match last {
            Some(last) => Some(last),
            None => newest.await?,
        };
        let nothing_after = frames.is_empty() && position.as_ref().is_some_and(|p| p.seq <= after);
        Ok(Since {
            frames: frames.into_iter().map(Frame::shared).collect(),
            position,
            complete: after == 0 || held || nothing_after,
        })
    }
}

/// Implements [`BuildLog`] for a log with `async fn read(&self, build_id, after, limit)`,
/// and with `progress: method` a progress of its own instead of the fold.
macro_rules! build_log {
    ($log:ty $(, progress: $progress:ident)?) => {
        impl $crate::log::BuildLog for $log {
            fn since<'a>(
                &'a self,
                build_id: &'a str,
                after: u64,
                limit: usize,
            ) -> futures::future::BoxFuture<'a, Result<$crate::log::Since, $crate::log::LogError>> {
                Box::pin(self.read(build_id, after, limit))
            }
            $(
                fn progress<'a>(
                    &'a self,
                    build_id: &'a str,
                ) -> futures::future::BoxFuture<
                    'a,
                    Result<Option<buildwire_schemas::api::BuildProgress>, $crate::log::LogError>,
                > {
                    Box::pin(self.$progress(build_id))
                }
            )?
        }
    };
}
pub(crate) use build_log;

/// A build's stored events, read by cursor.
pub trait BuildLog: Send + Sync {
    /// Up to `limit` (at most [`MAX_PAGE`]) events of `build_id` after `after`, oldest
    /// first, with the log's position and whether anything after `after` is missing.
    fn since<'a>(
        &'a self,
        build_id: &'a str,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Since, LogError>>;

    /// The build's progress (`None`: unknown build), by default folded from every event.
    fn progress<'a>(
        &'a self,
        build_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<BuildProgress>, LogError>> {
        Box::pin(fold(self, build_id))
    }
}

/// Folds every event of `build_id` in `log` into its progress.
pub async fn fold<L: BuildLog + ?Sized>(
    log: &L,
    build_id: &str,
) -> Result<Option<BuildProgress>, LogError> {
    let mut progress: Option<BuildProgress> = None;
    let mut cursor = 0;
    loop {
        let since = log.since(build_id, cursor, MAX_PAGE).await?;
        let head = since.head();
        for frame in &since.frames {
            if let Some(event) = &frame.event {
                progress
                    .get_or_insert_with(|| BuildProgress::new(build_id, event.timestamp))
                    .apply(event);
            }
        }
        match since.frames.last() {
            Some(last) if last.seq < head => cursor = last.seq,
            _ => {
                return Ok(progress.map(|mut p| {
                    p.last_seq = p.last_seq.max(head);
                    p
                }));
            }
        }
    }
}
