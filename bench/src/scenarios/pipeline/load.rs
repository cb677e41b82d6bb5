//! Many builds at once on one stack while other people watch other builds: the edge's
//! delivery latency for those viewers in a quiet window, then while the builds run.
//! Viewers are WebSocket clients of synthetic builds fed at a steady rate through the
//! stages' own publisher (as the `fanout` scenario does); latency is the publisher's send
//! time to the client reading the frame, plus the edge's own histogram (JetStream store to
//! socket write) over the same windows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio_util::sync::CancellationToken;

use super::stack::{BuildFigures, Stack};
use crate::clients::{self, Fleet, Resume, Target};
use crate::edge_metrics;
use crate::probe::{Probe, ViewerSlot};
use crate::publisher::{Builds, Feeder};
use crate::report::percentiles;

/// Synthetic builds the other viewers watch.
const WATCHED_BUILDS: usize = 20;

/// What the load phase measured.
#[derive(Clone, Debug)]
pub struct LoadFigures {
    /// The builds submitted at once.
    pub builds: Vec<BuildFigures>,
    /// Submission to the last `complete` (seconds).
    pub wall: f64,
    /// Other viewers.
    pub viewers: usize,
    /// Events per second they received, in all.
    pub rate: f64,
    /// Client-side latency p50/p99/max (ms) in the quiet windows before and after the
    /// builds, together.
    pub quiet: (f64, f64, f64),
    /// The same, before the builds only and after them only.
    pub quiet_apart: ((f64, f64, f64), (f64, f64, f64)),
    /// The same, during the builds.
    pub busy: (f64, f64, f64),
    /// The edge's histogram p50/p99 bucket bounds (ms): the quiet window before the
    /// builds, during them, the quiet window after.
    pub edge: Option<[(f64, f64); 3]>,
    /// Each window without builds (seconds).
    pub quiet_secs: f64,
}

/// Runs `prompts` at once on `stack` (as users `load-<i>`) while `viewers` watch other
/// builds receiving `rate` events/s; the quiet window lasts `quiet`.
pub async fn run(
    stack: &Stack,
    prompts: &[&str],
    viewers: usize,
    rate: f64,
    quiet: Duration,
) -> Result<LoadFigures> {
    let builds = Builds::new(WATCHED_BUILDS);
    let feeder = Feeder::connect(&stack.nats_url(), builds.clone(), 0).await?;
    feeder.seed().await?;
    let probe = Probe::new();
    let fleet = Fleet::new(
        Target::EdgeWs,
        stack.up.addr,
        probe.clone(),
        builds.clone(),
        64,
        1,
    )?;
    let slots: Vec<Arc<ViewerSlot>> = (0..viewers)
        .map(|i| ViewerSlot::new(i, i % builds.len(), 0))
        .collect();
    let tasks: Vec<_> = slots
        .iter()
        .map(|slot| clients::spawn(&fleet, slot, Resume::Fresh))
        .collect();
    if !probe
        .wait_for(Duration::from_secs(60), |p| p.connected() >= viewers)
        .await
    {
        bail!("{} of {viewers} viewers connected", probe.connected());
    }
    eprintln!(
        "[pipeline] load: {viewers} viewers on {WATCHED_BUILDS} builds, {rate} events/s, quiet window"
    );

    let scrape = || edge_metrics::scrape(stack.up.addr);
    let start = scrape().await.ok();
    probe.record_latency(true);
    let stop = CancellationToken::new();
    feeder.at_rate(rate, quiet, &stop).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    probe.record_latency(false);
    let quiet_histogram = probe.latency();
    let middle = scrape().await.ok();

    eprintln!("[pipeline] load: {} builds at once", prompts.len());
    let publishing = {
        let (feeder, stop) = (feeder.clone(), stop.clone());
        tokio::spawn(async move { feeder.at_rate(rate, Duration::from_secs(900), &stop).await })
    };
    probe.record_latency(true);
    let started = Instant::now();
    let mut submitted = Vec::new();
    for (i, prompt) in prompts.iter().enumerate() {
        let user = format!("load-{i}");
        submitted.push(stack.submit(prompt, &user, &user, None).await?);
    }
    let followed = futures::future::join_all(submitted.into_iter().map(|s| stack.follow(s))).await;
    let wall = started.elapsed().as_secs_f64();
    stop.cancel();
    publishing.await??;
    tokio::time::sleep(Duration::from_millis(500)).await;
    probe.record_latency(false);
    let mut busy_histogram = probe.latency();
    busy_histogram.subtract(&quiet_histogram)?;
    let end = scrape().await.ok();

    eprintln!("[pipeline] load: quiet window after the builds");
    let before_after = probe.latency();
    probe.record_latency(true);
    feeder
        .at_rate(rate, quiet, &CancellationToken::new())
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    probe.record_latency(false);
    let mut after_histogram = probe.latency();
    after_histogram.subtract(&before_after)?;
    let last = scrape().await.ok();
    let mut both_quiet = quiet_histogram.clone();
    both_quiet.add(&after_histogram)?;
    fleet.stop.cancel();
    for task in tasks {
        let _ = task.await;
    }
    let edge = match (start, middle, end, last) {
        (Some(start), Some(middle), Some(end), Some(last)) => Some(
            [middle.since(&start), end.since(&middle), last.since(&end)]
                .map(|window| (window.quantile_ms(0.5), window.quantile_ms(0.99))),
        ),
        _ => None,
    };
    Ok(LoadFigures {
        builds: followed.into_iter().collect::<Result<Vec<_>>>()?,
        wall,
        viewers,
        rate,
        quiet: percentiles(&both_quiet),
        quiet_apart: (percentiles(&quiet_histogram), percentiles(&after_histogram)),
        busy: percentiles(&busy_histogram),
        edge,
        quiet_secs: quiet.as_secs_f64(),
    })
}
