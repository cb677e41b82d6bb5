//! Moving a child's output to the caller without ever blocking the child.
//!
//! One task per pipe reads as fast as the child writes, cuts lines and queues them; one
//! forwarder delivers them in order with `send().await`, so a slow receiver delays
//! delivery, not the child. The queue is capped by bytes ([`MAX_PENDING_BYTES`]); past
//! that, lines are dropped and counted, and a final stderr line reports the drop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::lines::{LineSplitter, LogLine, Stream};

/// Bytes of log text that may wait for a slow receiver before lines are dropped.
pub const MAX_PENDING_BYTES: usize = 32 * 1024 * 1024;

/// Counters shared by the readers and the forwarder.
#[derive(Debug, Default)]
struct Budget {
    pending: AtomicUsize,
    dropped: AtomicU64,
}

/// The running reader and forwarder tasks of one child.
#[derive(Debug)]
pub(crate) struct Pump {
    readers: Vec<JoinHandle<()>>,
    forwarder: JoinHandle<()>,
    budget: Arc<Budget>,
}

/// Starts draining `stdout` and `stderr` into `out`.
pub(crate) fn start<O, E>(stdout: Option<O>, stderr: Option<E>, out: mpsc::Sender<LogLine>) -> Pump
where
    O: AsyncRead + Unpin + Send + 'static,
    E: AsyncRead + Unpin + Send + 'static,
{
    let budget = Arc::new(Budget::default());
    let (tx, rx) = mpsc::unbounded_channel();
    let mut readers = Vec::new();
    if let Some(pipe) = stdout {
        readers.push(tokio::spawn(read_pipe(
            pipe,
            Stream::Stdout,
            tx.clone(),
            budget.clone(),
        )));
    }
    if let Some(pipe) = stderr {
        readers.push(tokio::spawn(read_pipe(
            pipe,
            Stream::Stderr,
            tx.clone(),
            budget.clone(),
        )));
    }
    drop(tx);
    let forwarder = tokio::spawn(forward(rx, out, budget.clone()));
    Pump {
        readers,
        forwarder,
        budget,
    }
}

impl Pump {
    /// Waits up to `drain` for the pipes to close (processes that escaped the kill may
    /// hold them open; their readers are then abandoned) and up to `deliver` for queued
    /// lines to reach the receiver. Returns how many lines were dropped.
    pub(crate) async fn finish(self, drain: Duration, deliver: Duration) -> u64 {
        let aborts: Vec<_> = self.readers.iter().map(JoinHandle::abort_handle).collect();
        if tokio::time::timeout(drain, futures::future::join_all(self.readers))
            .await
            .is_err()
        {
            tracing::warn!("output pipes still open after the process tree was killed");
            aborts.iter().for_each(|a| a.abort());
        }
        let forwarder_abort = self.forwarder.abort_handle();
        if tokio::time::timeout(deliver, self.forwarder).await.is_err() {
            tracing::warn!("log receiver too slow; undelivered lines discarded");
            forwarder_abort.abort();
        }
        self.budget.dropped.load(Ordering::Relaxed)
    }
}

async fn read_pipe<R: AsyncRead + Unpin>(
    mut pipe: R,
    stream: Stream,
    tx: mpsc::UnboundedSender<LogLine>,
    budget: Arc<Budget>,
) {
    let mut splitter = LineSplitter::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut emit = |text: String| {
        let size = text.len() + 1;
        if budget.pending.fetch_add(size, Ordering::AcqRel) + size > MAX_PENDING_BYTES {
            budget.pending.fetch_sub(size, Ordering::AcqRel);
            budget.dropped.fetch_add(1, Ordering::Relaxed);
        } else if tx.send(LogLine { stream, text }).is_err() {
            budget.pending.fetch_sub(size, Ordering::AcqRel);
        }
    };
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => splitter.push(&buf[..n], &mut emit),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!(error = %e, ?stream, "reading child output failed");
                break;
            }
        }
    }
    splitter.finish(&mut emit);
}

async fn forward(
    mut rx: mpsc::UnboundedReceiver<LogLine>,
    out: mpsc::Sender<LogLine>,
    budget: Arc<Budget>,
) {
    let mut receiver_gone = false;
    while let Some(line) = rx.recv().await {
        budget
            .pending
            .fetch_sub(line.text.len() + 1, Ordering::AcqRel);
        if !receiver_gone && out.send(line).await.is_err() {
            receiver_gone = true;
        }
    }
    let dropped = budget.dropped.load(Ordering::Relaxed);
    if dropped > 0 && !receiver_gone {
        let _ = out
            .send(LogLine::stderr(format!(
                "[buildwire] {dropped} log lines dropped: the log reader fell too far behind"
            )))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivers_every_line_in_order_to_a_slow_receiver() {
        let (mut w, r) = tokio::io::duplex(64);
        let (tx, mut rx) = mpsc::channel(1);
        let pump = start(Some(r), None::<tokio::io::Empty>, tx);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for i in 0..500 {
                w.write_all(format!("line {i}\n").as_bytes())
                    .await
                    .expect("write");
            }
        });
        let mut got = Vec::new();
        while got.len() < 500 {
            tokio::time::sleep(Duration::from_micros(10)).await;
            got.push(rx.recv().await.expect("line").text);
        }
        writer.await.expect("writer");
        assert_eq!(
            pump.finish(Duration::from_secs(1), Duration::from_secs(1))
                .await,
            0
        );
        let want: Vec<String> = (0..500).map(|i| format!("line {i}")).collect();
        assert_eq!(got, want);
    }
}
