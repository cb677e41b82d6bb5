//! The consumer-info sampler: every [`PERIOD`] it reads the info of each stage's consumer on
//! `CMDS` and of `EVENTS/record` (the `$JS.API.CONSUMER.INFO` every NATS user may call) into
//! [`super::queues`]: queue depth, unacknowledged commands and waiting pulls per stage, and
//! the recorder's backlog. It also refreshes the age of the oldest command in flight.
//!
//! One sampler runs per process that runs a stage or the recorder (the first to call
//! [`start`] wins), so the figures survive the loss of any one service: a stage with no
//! worker left still shows its queue growing in the other processes' samples.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::{self, pull};
use buildwire_schemas::Stage;
use tokio_util::sync::CancellationToken;

use super::StageLabel;
use crate::nats::Nats;

/// How often consumer info is read.
pub const PERIOD: Duration = Duration::from_secs(5);

static STARTED: AtomicBool = AtomicBool::new(false);

/// Starts this process's sampler on `nats` until `stop` (once per process; later calls do
/// nothing).
pub fn start(nats: &Nats, stop: CancellationToken) {
    if STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let nats = nats.clone();
    super::queues();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            sample(&nats).await;
            if let Some(stages) = super::stage::STAGES.get() {
                stages.refresh_oldest();
            }
        }
        STARTED.store(false, Ordering::SeqCst);
    });
}

/// Reads every consumer's info once.
pub async fn sample(nats: &Nats) {
    let queues = super::queues();
    for stage in Stage::ALL {
        let Some(info) = info(nats, "CMDS", stage.as_str()).await else {
            continue;
        };
        let label = StageLabel {
            stage: stage.as_str(),
        };
        queues
            .depth
            .get_or_create(&label)
            .set(clamp(info.num_pending));
        queues
            .unacked
            .get_or_create(&label)
            .set(clamp(info.num_ack_pending as u64));
        queues
            .waiting_pulls
            .get_or_create(&label)
            .set(clamp(info.num_waiting as u64));
    }
    if let Some(info) = info(nats, "EVENTS", "record").await {
        queues
            .recorder_lag
            .set(clamp(info.num_pending + info.num_ack_pending as u64));
    }
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

async fn info(nats: &Nats, stream: &str, name: &str) -> Option<consumer::Info> {
    let found = tokio::time::timeout(
        Duration::from_secs(3),
        nats.js
            .get_consumer_from_stream::<pull::Config, _, _>(name, stream),
    )
    .await;
    match found {
        Ok(Ok(consumer)) => Some(consumer.cached_info().clone()),
        Ok(Err(err)) => {
            tracing::debug!(%err, stream, consumer = name, "consumer info unavailable");
            None
        }
        Err(_) => {
            tracing::debug!(stream, consumer = name, "consumer info timed out");
            None
        }
    }
}
