//! Grouping log lines into `build_progress` batches: one event per 100 lines or per
//! 250 ms, not one per line. Each batch carries the offset of its first line so the
//! caller can derive a content-stable `Nats-Msg-Id` (see [`log_msg_id`]).

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::lines::LogLine;

/// Flush when this many lines are pending. 100 capped lines stay under 400 KiB, well
/// inside a NATS message.
pub const MAX_BATCH_LINES: usize = 100;

/// Flush this long after the first pending line arrived.
pub const MAX_BATCH_DELAY: Duration = Duration::from_millis(250);

/// Consecutive log lines and where they start in the build's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogBatch {
    /// Index of the first line in the whole log (0-based, counted across batches).
    pub offset: u64,
    /// The lines, in arrival order; never empty.
    pub lines: Vec<LogLine>,
}

/// The `Nats-Msg-Id` of a batch: the same on a retried stage as long as the batch starts
/// at the same line. (Batch boundaries depend on timing, so a retry may still publish
/// some lines again under other ids.)
pub fn log_msg_id(build_id: &str, offset: u64) -> String {
    format!("{build_id}:build:log:{offset}")
}

/// Reads lines from a channel and yields batches; ends when the channel closes and the
/// last batch is out.
#[derive(Debug)]
pub struct Batcher {
    rx: mpsc::Receiver<LogLine>,
    next_offset: u64,
    pending: Vec<LogLine>,
    deadline: Option<Instant>,
    closed: bool,
    max_lines: usize,
    max_delay: Duration,
}

impl Batcher {
    /// Batches `rx` with the default limits; `start_offset` is the index the first line
    /// gets (e.g. the number of install lines already sent, when batching the build).
    pub fn new(rx: mpsc::Receiver<LogLine>, start_offset: u64) -> Self {
        Self {
            rx,
            next_offset: start_offset,
            pending: Vec::new(),
            deadline: None,
            closed: false,
            max_lines: MAX_BATCH_LINES,
            max_delay: MAX_BATCH_DELAY,
        }
    }

    /// Other limits (at least one line per batch).
    pub fn with_limits(mut self, max_lines: usize, max_delay: Duration) -> Self {
        self.max_lines = max_lines.max(1);
        self.max_delay = max_delay;
        self
    }

    /// The offset the next line will get (= lines batched so far plus the start).
    pub fn next_offset(&self) -> u64 {
        self.next_offset + self.pending.len() as u64
    }

    /// The next batch, or `None` once the channel is closed and drained. Cancel-safe:
    /// pending lines stay in the batcher if the future is dropped.
    pub async fn next(&mut self) -> Option<LogBatch> {
        loop {
            if self.pending.len() >= self.max_lines
                || self.deadline.is_some_and(|d| Instant::now() >= d)
            {
                return self.flush();
            }
            if self.closed {
                return self.flush();
            }
            let received = match self.deadline {
                None => Some(self.rx.recv().await),
                Some(deadline) => tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(deadline) => None,
                    line = self.rx.recv() => Some(line),
                },
            };
            match received {
                None => return self.flush(),
                Some(None) => self.closed = true,
                Some(Some(line)) => {
                    if self.pending.is_empty() {
                        self.deadline = Some(Instant::now() + self.max_delay);
                    }
                    self.pending.push(line);
                }
            }
        }
    }

    fn flush(&mut self) -> Option<LogBatch> {
        self.deadline = None;
        if self.pending.is_empty() {
            return None;
        }
        let take = self.pending.len().min(self.max_lines);
        let lines: Vec<LogLine> = self.pending.drain(..take).collect();
        let offset = self.next_offset;
        self.next_offset += lines.len() as u64;
        if !self.pending.is_empty() {
            self.deadline = Some(Instant::now() + self.max_delay);
        }
        Some(LogBatch { offset, lines })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(i: usize) -> LogLine {
        LogLine::stdout(format!("l{i}"))
    }

    #[tokio::test(start_paused = true)]
    async fn flushes_at_100_lines_without_waiting() {
        let (tx, rx) = mpsc::channel(1000);
        for i in 0..250 {
            tx.send(line(i)).await.expect("send");
        }
        let mut b = Batcher::new(rx, 0);
        let start = Instant::now();
        let first = b.next().await.expect("batch");
        assert_eq!((first.offset, first.lines.len()), (0, 100));
        assert_eq!(first.lines[0], line(0));
        let second = b.next().await.expect("batch");
        assert_eq!((second.offset, second.lines.len()), (100, 100));
        assert_eq!(start.elapsed(), Duration::ZERO);
        // The remaining 50 wait for the timer (the sender is still open).
        let third = b.next().await.expect("batch");
        assert_eq!((third.offset, third.lines.len()), (200, 50));
        assert_eq!(third.lines[49], line(249));
        assert_eq!(start.elapsed(), MAX_BATCH_DELAY);
        drop(tx);
        assert_eq!(b.next().await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn flushes_250ms_after_the_first_pending_line() {
        let (tx, rx) = mpsc::channel(10);
        let mut b = Batcher::new(rx, 7);
        let start = Instant::now();
        let producer = tokio::spawn(async move {
            tx.send(line(0)).await.expect("send");
            tokio::time::sleep(Duration::from_millis(200)).await;
            tx.send(line(1)).await.expect("send");
            tokio::time::sleep(Duration::from_millis(100)).await;
            tx.send(line(2)).await.expect("send");
        });
        let first = b.next().await.expect("batch");
        assert_eq!(first.offset, 7);
        assert_eq!(first.lines, vec![line(0), line(1)]);
        assert_eq!(start.elapsed(), Duration::from_millis(250));
        let second = b.next().await.expect("batch");
        assert_eq!(second.offset, 9);
        assert_eq!(second.lines, vec![line(2)]);
        // Line 2 arrived at 300 ms; the channel closed right after, so it flushed then.
        assert_eq!(start.elapsed(), Duration::from_millis(300));
        producer.await.expect("producer");
        assert_eq!(b.next().await, None);
        assert_eq!(b.next_offset(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_without_lines_does_not_flush_empty_batches() {
        let (tx, rx) = mpsc::channel(10);
        let mut b = Batcher::new(rx, 0);
        let producer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            tx.send(line(0)).await.expect("send");
        });
        let start = Instant::now();
        let batch = b.next().await.expect("batch");
        assert_eq!(batch.lines.len(), 1);
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        producer.await.expect("producer");
        assert_eq!(b.next().await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn custom_limits_and_msg_ids() {
        let (tx, rx) = mpsc::channel(10);
        for i in 0..5 {
            tx.send(line(i)).await.expect("send");
        }
        drop(tx);
        let mut b = Batcher::new(rx, 0).with_limits(2, Duration::from_secs(1));
        let mut offsets = Vec::new();
        while let Some(batch) = b.next().await {
            offsets.push((batch.offset, batch.lines.len()));
        }
        assert_eq!(offsets, vec![(0, 2), (2, 2), (4, 1)]);
        assert_eq!(log_msg_id("01J", 4), "01J:build:log:4");
    }
}
