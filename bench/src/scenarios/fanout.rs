//! `fanout`: N viewers over B live builds. Per target, on the same schedule: connect every
//! viewer; a steady phase at a fixed publish rate (publish-to-client latency, CPU per
//! delivery); then a burst of events per build published as fast as JetStream
//! acknowledges (delivered events per second until the last viewer has the last event);
//! gaps and duplicates over both.

use std::time::Duration;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::Settings;
use super::rig::{Rig, progress};
use crate::clients::{Resume, Target};
use crate::edge_metrics;
use crate::marker::now_ns;
use crate::probe::{Accounting, account};
use crate::report::{self, Report, count, ms, percent, ratio};
use crate::sys::CpuMeter;

/// A fanout run's shape.
#[derive(Clone, Debug)]
pub struct Fanout {
    /// Viewers.
    pub viewers: usize,
    /// Live builds (viewer `i` watches build `i % builds`).
    pub builds: usize,
    /// Steady phase: events per second over all builds.
    pub rate: f64,
    /// Steady phase length.
    pub seconds: f64,
    /// Burst: events per build.
    pub burst: u32,
    /// Targets, in order.
    pub targets: Vec<Target>,
}

/// One target's figures.
#[derive(Clone, Debug)]
pub struct FanoutResult {
    /// The target.
    pub target: Target,
    /// Seconds until every viewer was connected.
    pub connect_secs: f64,
    /// Steady phase latency p50/p99/max (ms).
    pub latency: (f64, f64, f64),
    /// Steady phase: share of one core the server used.
    pub steady_cpu: f64,
    /// Steady phase: deliveries per second.
    pub steady_rate: f64,
    /// The edge's own histogram over the steady phase: p50/p99 bucket bounds (ms).
    pub edge_view: Option<(f64, f64)>,
    /// Burst: distinct events delivered per second.
    pub burst_rate: f64,
    /// Burst: whether every viewer got every burst event in time.
    pub burst_complete: bool,
    /// Burst: share of one core the server / the load generator / nats-server used.
    pub burst_cpu: (f64, f64, f64),
    /// Server RSS at the end (MiB).
    pub rss_mib: f64,
    /// Gaps and duplicates over the run.
    pub accounting: Accounting,
    /// Unplanned reconnects.
    pub reconnects: u64,
}

/// Runs every target of `shape` in turn.
pub async fn run(settings: &Settings, shape: &Fanout) -> Result<Vec<FanoutResult>> {
    let mut results = Vec::new();
    for &target in &shape.targets {
        results.push(one(settings, shape, target).await?);
    }
    Ok(results)
}

async fn one(settings: &Settings, shape: &Fanout, target: Target) -> Result<FanoutResult> {
    let name = format!("fanout {}x{}", shape.viewers, shape.builds);
    let mut rig = Rig::start(settings, target, shape.builds).await?;
    rig.add_viewers(shape.viewers);
    progress(
        &name,
        target,
        format!("connecting {} viewers", shape.viewers),
    );
    let connect_secs = rig.connect(|_| Resume::Fresh).await?;
    if !rig.drain(Duration::from_secs(30)).await {
        progress(&name, target, "warning: seed events not all delivered");
    }

    progress(
        &name,
        target,
        format!(
            "connected in {connect_secs:.1} s; steady {} events/s for {} s",
            shape.rate, shape.seconds
        ),
    );
    let before = match target.is_edge() {
        true => edge_metrics::scrape(rig.server.addr).await.ok(),
        false => None,
    };
    let delivered = rig.probe.delivered();
    let cpu = CpuMeter::start(Some(rig.server.pid));
    rig.probe.record_latency(true);
    let stop = CancellationToken::new();
    rig.feeder
        .at_rate(shape.rate, Duration::from_secs_f64(shape.seconds), &stop)
        .await?;
    let (_, steady_cpu) = cpu.stop();
    let steady_rate = (rig.probe.delivered() - delivered) as f64 / shape.seconds;
    if !rig.drain(Duration::from_secs(30)).await {
        progress(
            &name,
            target,
            "warning: steady events not all delivered in 30 s",
        );
    }
    rig.probe.record_latency(false);
    let latency = report::percentiles(&rig.probe.latency());
    let edge_view = match before {
        Some(before) => edge_metrics::scrape(rig.server.addr)
            .await
            .ok()
            .map(|after| after.since(&before))
            .map(|phase| (phase.quantile_ms(0.5), phase.quantile_ms(0.99))),
        None => None,
    };

    progress(
        &name,
        target,
        format!(
            "p50 {} ms p99 {} ms; burst of {} events per build",
            ms(latency.0),
            ms(latency.1),
            shape.burst
        ),
    );
    let delivered = rig.probe.delivered();
    let server_cpu = CpuMeter::start(Some(rig.server.pid));
    let generator_cpu = CpuMeter::start(None);
    let nats_cpu = rig.nats_pid().map(|pid| CpuMeter::start(Some(pid)));
    let started_ns = now_ns();
    rig.feeder.burst(shape.burst).await?;
    let expected = rig.expected();
    let burst_complete = rig
        .probe
        .wait_for(Duration::from_secs(120), |p| p.delivered() >= expected)
        .await;
    let burst_cpu = (
        server_cpu.stop().1,
        generator_cpu.stop().1,
        nats_cpu.map_or(f64::NAN, |meter| meter.stop().1),
    );
    let elapsed = (rig.probe.last_delivery_ns().saturating_sub(started_ns)) as f64 / 1e9;
    let burst_rate = (rig.probe.delivered() - delivered) as f64 / elapsed.max(1e-9);
    let rss_mib = rig.server.rss_kib().unwrap_or(0) as f64 / 1024.0;
    let accounting = account(&rig.viewers, rig.builds());
    let reconnects = rig.probe.reconnects();
    progress(
        &name,
        target,
        format!(
            "{} events/s; gaps {} dups {}",
            count(burst_rate),
            accounting.gaps,
            accounting.dups
        ),
    );
    rig.finish().await;
    Ok(FanoutResult {
        target,
        connect_secs,
        latency,
        steady_cpu,
        steady_rate,
        edge_view,
        burst_rate,
        burst_complete,
        burst_cpu,
        rss_mib,
        accounting,
        reconnects,
    })
}

/// The scenario's table: a row per target, then the edge's ratios to each baseline.
pub fn table(shape: &Fanout, results: &[FanoutResult]) -> Report {
    let mut report = Report::new(
        format!(
            "fanout: {} viewers over {} builds (steady {} events/s for {} s, burst {} per build)",
            count(shape.viewers as f64),
            count(shape.builds as f64),
            shape.rate,
            shape.seconds,
            shape.burst
        ),
        &[
            "target",
            "p50 ms",
            "p99 ms",
            "max ms",
            "edge's p50/p99 ms",
            "CPU steady",
            "events/s burst",
            "CPU burst srv/gen/nats",
            "RSS MiB",
            "connect s",
            "gaps",
            "dups",
            "reconnects",
        ],
    );
    for r in results {
        let edge_view = r.edge_view.map_or("-".into(), |(p50, p99)| {
            format!("<={} / <={}", ms(p50), ms(p99))
        });
        let burst = if r.burst_complete {
            count(r.burst_rate)
        } else {
            format!("{} (incomplete)", count(r.burst_rate))
        };
        report.row(vec![
            r.target.name().into(),
            ms(r.latency.0),
            ms(r.latency.1),
            ms(r.latency.2),
            edge_view,
            percent(r.steady_cpu),
            burst,
            format!(
                "{} / {} / {}",
                percent(r.burst_cpu.0),
                percent(r.burst_cpu.1),
                percent(r.burst_cpu.2)
            ),
            format!("{:.0}", r.rss_mib),
            format!("{:.1}", r.connect_secs),
            (r.accounting.gaps + r.accounting.seq_mismatches).to_string(),
            (r.accounting.dups + r.accounting.out_of_order).to_string(),
            r.reconnects.to_string(),
        ]);
    }
    for edge in results.iter().filter(|r| r.target.is_edge()) {
        for base in results.iter().filter(|r| !r.target.is_edge()) {
            report.row(vec![
                format!("{} / {}", edge.target.name(), base.target.name()),
                ratio(edge.latency.0, base.latency.0),
                ratio(edge.latency.1, base.latency.1),
                ratio(edge.latency.2, base.latency.2),
                "-".into(),
                ratio(edge.steady_cpu, base.steady_cpu),
                ratio(edge.burst_rate, base.burst_rate),
                ratio(edge.burst_cpu.0, base.burst_cpu.0),
                ratio(edge.rss_mib, base.rss_mib),
                ratio(edge.connect_secs, base.connect_secs),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
    }
    if let Some(r) = results.first() {
        report.note(format!(
            "steady phase delivered {} events/s per target; latency is publisher send (unix ns in the event) to the client reading the frame",
            count(r.steady_rate)
        ));
    }
    report.note("CPU: share of one core used by the server under test (burst: server / load generator / nats-server); ratio rows divide edge by baseline (lower is better except events/s)");
    report
}
