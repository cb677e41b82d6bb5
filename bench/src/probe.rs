//! What the load generator records: per viewer, every benchmark event it got (by index,
//! with the `seq` it came with), duplicates, order and catch-up; per run, latency
//! histograms, distinct deliveries and the time of the last one.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::Notify;

use crate::marker::{self, Seen};
use crate::publisher::Builds;

/// Latency shards (viewers record into `index % SHARDS`, so tasks rarely contend).
const SHARDS: usize = 8;
/// `got` value of an event received from a target that sends no `seq`.
const NO_SEQ: u64 = u64::MAX;

/// Run-wide counters every viewer reports into.
pub struct Probe {
    latency: Vec<Mutex<Histogram<u64>>>,
    recording: AtomicBool,
    delivered: AtomicU64,
    last_delivery_ns: AtomicU64,
    connected: AtomicUsize,
    failed: AtomicUsize,
    reconnects: AtomicU64,
    caught_up: AtomicUsize,
    recovered: AtomicUsize,
    refused: AtomicU64,
    refusal: Mutex<Option<String>>,
    changed: Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn histogram() -> Histogram<u64> {
    // 1 us to 10 minutes, 3 significant figures.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant histogram bounds are valid")
}

impl Probe {
    /// A fresh probe.
    pub fn new() -> Arc<Probe> {
        Arc::new(Probe {
            latency: (0..SHARDS).map(|_| Mutex::new(histogram())).collect(),
            recording: AtomicBool::new(false),
            delivered: AtomicU64::new(0),
            last_delivery_ns: AtomicU64::new(0),
            connected: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            reconnects: AtomicU64::new(0),
            caught_up: AtomicUsize::new(0),
            recovered: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            refusal: Mutex::new(None),
            changed: Notify::new(),
        })
    }

    /// Starts or stops recording latencies.
    pub fn record_latency(&self, on: bool) {
        self.recording.store(on, Ordering::Release);
    }

    /// Every latency recorded, merged (microseconds).
    pub fn latency(&self) -> Histogram<u64> {
        let mut all = histogram();
        for shard in &self.latency {
            let _ = all.add(&*lock(shard));
        }
        all
    }

    /// Distinct benchmark events delivered so far, over all viewers.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Acquire)
    }

    /// When the newest delivery arrived (unix ns).
    pub fn last_delivery_ns(&self) -> u64 {
        self.last_delivery_ns.load(Ordering::Acquire)
    }

    /// Viewers whose connection is up (counted once per viewer task start).
    pub fn connected(&self) -> usize {
        self.connected.load(Ordering::Acquire)
    }

    /// Viewers that gave up connecting.
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::Acquire)
    }

    /// Reconnections after a close the run did not ask for.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Acquire)
    }

    /// Viewers caught up with their catch-up target.
    pub fn caught_up(&self) -> usize {
        self.caught_up.load(Ordering::Acquire)
    }

    /// socket.io sessions the server recovered (same `pid` after a reconnect).
    pub fn recovered(&self) -> usize {
        self.recovered.load(Ordering::Acquire)
    }

    /// Connection attempts that failed (each retried), and the first reason.
    pub fn refused(&self) -> (u64, Option<String>) {
        (
            self.refused.load(Ordering::Acquire),
            lock(&self.refusal).clone(),
        )
    }

    pub(crate) fn on_refused(&self, reason: &str) {
        if self.refused.fetch_add(1, Ordering::AcqRel) == 0 {
            *lock(&self.refusal) = Some(reason.to_string());
        }
    }

    pub(crate) fn on_recovered(&self) {
        self.recovered.fetch_add(1, Ordering::AcqRel);
    }

    /// Resets the connection counters (before viewers connect again).
    pub fn reset_connections(&self) {
        self.connected.store(0, Ordering::Release);
        self.failed.store(0, Ordering::Release);
        self.caught_up.store(0, Ordering::Release);
        self.recovered.store(0, Ordering::Release);
        self.refused.store(0, Ordering::Release);
    }

    pub(crate) fn on_connected(&self) {
        self.connected.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    pub(crate) fn on_failed(&self) {
        self.failed.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    pub(crate) fn on_reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::AcqRel);
    }

    /// Waits until `done` holds, checking whenever something changed and every 50 ms;
    /// false when `limit` passed first.
    pub async fn wait_for(&self, limit: Duration, mut done: impl FnMut(&Probe) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if done(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), self.changed.notified()).await;
        }
    }
}

/// Events a viewer must get before it counts as caught up (the storm).
#[derive(Clone, Copy, Debug)]
pub struct CatchUp {
    /// The newest event index it must get.
    pub until_n: u32,
    /// Distinct events still missing up to it.
    pub remaining: u32,
    /// When it got the last of them (unix ns).
    pub done_ns: Option<u64>,
}

/// One viewer's record.
#[derive(Debug, Default)]
pub struct Track {
    /// The first event index this connection must deliver (events after its cursor).
    pub first_n: u32,
    /// By event index: 0 not received, else the `seq` it came with ([`NO_SEQ`] if none).
    got: Vec<u64>,
    /// Events received again.
    pub dups: u32,
    /// Events at or before the cursor (a resume sending what the client had).
    pub stale: u32,
    /// Events whose `seq` was not above the previous one.
    pub out_of_order: u32,
    last_seq: u64,
    /// Edge: where a reconnect resumes (`after=`), the newest `seq` received or the
    /// cursor the connection started from.
    pub cursor: u64,
    /// The storm's catch-up, when one is measured.
    pub catch_up: Option<CatchUp>,
    /// socket.io: the session id (`pid`) for connection state recovery.
    pub pid: Option<String>,
    /// socket.io: the offset of each event by index, when the storm needs cursors.
    pub offsets: Option<Vec<Option<String>>>,
    /// socket.io: the newest offset received.
    pub last_offset: Option<String>,
}

impl Track {
    /// The `seq` the event with index `n` came with, if it was received with one.
    pub fn seq_of(&self, n: u32) -> Option<u64> {
        match self.got.get(n as usize) {
            Some(&seq) if seq != 0 && seq != NO_SEQ => Some(seq),
            _ => None,
        }
    }

    /// Whether event `n` was received.
    pub fn has(&self, n: u32) -> bool {
        self.got.get(n as usize).is_some_and(|&s| s != 0)
    }

    /// Starts a new connection's record: it must deliver events from `first_n` on.
    pub fn restart(&mut self, first_n: u32) {
        self.first_n = first_n;
        self.got.clear();
        self.dups = 0;
        self.stale = 0;
        self.out_of_order = 0;
        self.last_seq = 0;
        self.catch_up = None;
    }
}

/// A viewer: which build it watches and what it got.
#[derive(Debug)]
pub struct ViewerSlot {
    /// Its index among the run's viewers.
    pub index: usize,
    /// The build it watches (index into [`Builds`]).
    pub build: usize,
    track: Mutex<Track>,
}

impl ViewerSlot {
    /// Viewer `index` of build `build`, expecting events from `first_n` on.
    pub fn new(index: usize, build: usize, first_n: u32) -> Arc<ViewerSlot> {
        Arc::new(ViewerSlot {
            index,
            build,
            track: Mutex::new(Track {
                first_n,
                ..Track::default()
            }),
        })
    }

    /// Its record.
    pub fn track(&self) -> MutexGuard<'_, Track> {
        lock(&self.track)
    }

    /// Handles one text frame; returns the event it carried, if any.
    pub fn on_frame(&self, probe: &Probe, text: &str) -> Option<Seen> {
        let now = marker::now_ns();
        let seen = marker::parse(text)?;
        let mut track = self.track();
        if let Some(seq) = seen.seq {
            track.cursor = track.cursor.max(seq);
        }
        if seen.n < track.first_n {
            track.stale += 1;
            return Some(seen);
        }
        let at = seen.n as usize;
        if track.got.len() <= at {
            track.got.resize(at + 1, 0);
        }
        if track.got[at] != 0 {
            track.dups += 1;
            return Some(seen);
        }
        track.got[at] = seen.seq.unwrap_or(NO_SEQ);
        if let Some(seq) = seen.seq {
            if seq <= track.last_seq {
                track.out_of_order += 1;
            }
            track.last_seq = track.last_seq.max(seq);
        }
        if let Some(catch) = track.catch_up.as_mut()
            && seen.n <= catch.until_n
            && catch.done_ns.is_none()
        {
            catch.remaining = catch.remaining.saturating_sub(1);
            if catch.remaining == 0 {
                catch.done_ns = Some(now);
                probe.caught_up.fetch_add(1, Ordering::AcqRel);
                probe.changed.notify_waiters();
            }
        }
        drop(track);
        probe.delivered.fetch_add(1, Ordering::AcqRel);
        probe.last_delivery_ns.fetch_max(now, Ordering::AcqRel);
        if probe.recording.load(Ordering::Acquire) {
            let micros = now.saturating_sub(seen.sent_ns) / 1000;
            let _ = lock(&probe.latency[self.index % SHARDS]).record(micros.max(1));
        }
        Some(seen)
    }
}

/// Gap and duplicate counts over a run's viewers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accounting {
    /// Events a viewer should have got and did not.
    pub gaps: u64,
    /// Events a viewer got twice, or got again at or before its cursor.
    pub dups: u64,
    /// Events delivered out of `seq` order.
    pub out_of_order: u64,
    /// Events whose `seq` differs from the one the stream acknowledged.
    pub seq_mismatches: u64,
    /// Viewers that missed at least one event.
    pub viewers_with_gaps: u64,
}

impl Accounting {
    /// Whether every viewer got every event once, in order, with the right `seq`.
    pub fn clean(&self) -> bool {
        self.gaps == 0 && self.dups == 0 && self.out_of_order == 0 && self.seq_mismatches == 0
    }
}

/// Counts, for every viewer, the events of its build from its `first_n` up to the last
/// published that it did not get, and the ones it got twice.
pub fn account(viewers: &[Arc<ViewerSlot>], builds: &Builds) -> Accounting {
    let mut total = Accounting::default();
    let seqs: Vec<Vec<u64>> = (0..builds.len()).map(|b| builds.seqs(b)).collect();
    for viewer in viewers {
        let track = viewer.track();
        let published = builds.published(viewer.build);
        let mut missed = 0;
        for n in track.first_n..published {
            if !track.has(n) {
                missed += 1;
            } else if let Some(seq) = track.seq_of(n)
                && seqs[viewer.build]
                    .get(n as usize)
                    .is_some_and(|&s| s != 0 && s != seq)
            {
                total.seq_mismatches += 1;
            }
        }
        total.gaps += missed;
        total.viewers_with_gaps += u64::from(missed > 0);
        total.dups += u64::from(track.dups + track.stale);
        if missed > 0 || track.dups + track.stale > 0 {
            debug_dump(viewer, &track, published);
        }
        total.out_of_order += u64::from(track.out_of_order);
    }
    total
}

/// With `BENCH_DEBUG` set, prints a viewer that missed or repeated events, with the `seq`
/// of every event it got by index (0: not received).
fn debug_dump(viewer: &ViewerSlot, track: &Track, published: u32) {
    if std::env::var_os("BENCH_DEBUG").is_some() {
        eprintln!(
            "viewer {} build {} expects n {}..{published}: dups {} stale {} got {:?}",
            viewer.index, viewer.build, track.first_n, track.dups, track.stale, track.got
        );
    }
}

/// Distinct events the viewers should have got so far (from each one's `first_n`).
pub fn expected_deliveries(viewers: &[Arc<ViewerSlot>], builds: &Builds) -> u64 {
    viewers
        .iter()
        .map(|v| {
            let first = v.track().first_n;
            u64::from(builds.published(v.build).saturating_sub(first))
        })
        .sum()
}
