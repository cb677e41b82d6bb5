//! A build log in memory with JetStream's rules (one sequence across builds, deletion from
//! the front), so the hub's gaps, windows and recovery are unit-tested without a server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use buildwire_schemas::{Event, EventBody};

use super::{LogError, Position, Since, ask, build_log};
use crate::frame::Frame;

#[derive(Default)]
struct State {
    last_seq: u64,
    builds: HashMap<String, Vec<Arc<Frame>>>,
    failing: bool,
    reads: usize,
}

/// Stored events, by build.
#[derive(Default)]
pub struct MemoryLog {
    state: Mutex<State>,
}

/// One stored event as the live subscription would carry it.
pub struct Stored {
    /// Its stream sequence.
    pub seq: u64,
    /// The build's previous sequence (`Nats-Last-Sequence`).
    pub prev: u64,
    /// The stored body (no `seq`, as stages publish it).
    pub payload: Vec<u8>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Arc<MemoryLog> {
        Arc::new(MemoryLog::default())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores an event of `build_id`.
    pub fn append(&self, build_id: &str, body: EventBody) -> Stored {
        let event = Event::new(build_id, "req-test", body);
        let payload = serde_json::to_vec(&event).unwrap_or_default();
        let mut state = self.state();
        state.last_seq += 1;
        let seq = state.last_seq;
        let frames = state.builds.entry(build_id.to_string()).or_default();
        let prev = frames.last().map_or(0, |f| f.seq);
        frames.push(Frame::decode(seq, None, None, &payload).shared());
        Stored { seq, prev, payload }
    }

    /// Deletes `build_id`'s events up to `through` (a purge, or the age limit).
    pub fn purge(&self, build_id: &str, through: u64) {
        if let Some(frames) = self.state().builds.get_mut(build_id) {
            frames.retain(|f| f.seq > through);
        }
    }

    /// Makes every read fail (`true`) or work again.
    pub fn fail(&self, failing: bool) {
        self.state().failing = failing;
    }

    /// Reads so far.
    pub fn reads(&self) -> usize {
        self.state().reads
    }

    /// The seqs stored for `build_id`.
    pub fn seqs(&self, build_id: &str) -> Vec<u64> {
        let state = self.state();
        let frames = state.builds.get(build_id).map(Vec::as_slice).unwrap_or(&[]);
        frames.iter().map(|f| f.seq).collect()
    }

    async fn read(&self, build_id: &str, after: u64, limit: usize) -> Result<Since, LogError> {
        let frames = {
            let mut state = self.state();
            state.reads += 1;
            if state.failing {
                return Err(LogError::Failing);
            }
            let frames = state.builds.get(build_id).map(Vec::as_slice).unwrap_or(&[]);
            let from: Vec<Frame> = frames
                .iter()
                .filter(|f| f.seq >= after)
                .take(ask(after, limit))
                .map(|f| Frame::decode(f.seq, None, None, f.text.as_bytes()))
                .collect();
            let newest = frames.last().map(|f| Position::at(f));
            (from, newest)
        };
        let (from, newest) = frames;
        Since::from_cursor(from, false, after, limit, std::future::ready(Ok(newest))).await
    }
}

build_log!(MemoryLog);
