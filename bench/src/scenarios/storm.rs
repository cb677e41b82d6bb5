//! `storm`: a reconnect storm. N viewers over B builds receive H events per build live;
//! every connection is dropped at once (no close handshake); M more events per build are
//! stored while they are away; then all N reconnect at once, each resuming from a random
//! event it had (edge: `after=<seq>`; socket.io: connection state recovery with that
//! event's offset; bare: nothing to resume from), while events keep arriving live. We
//! measure the time until every viewer has every event up to the head of its build as
//! it was when the storm began, and count gaps and duplicates after each cursor.

use std::time::Duration;

use anyhow::Result;
use rand::Rng;
use tokio_util::sync::CancellationToken;

use super::Settings;
use super::rig::{Rig, progress};
use crate::clients::{Resume, Target};
use crate::marker::now_ns;
use crate::probe::{Accounting, CatchUp, account};
use crate::report::{Report, count, ms, ratio};
use crate::sys::CpuMeter;

/// A storm's shape.
#[derive(Clone, Debug)]
pub struct Storm {
    /// Viewers.
    pub viewers: usize,
    /// Builds.
    pub builds: usize,
    /// Events per build received before the drop (cursors are drawn among them).
    pub history: u32,
    /// Events per build stored while the viewers are away.
    pub missed: u32,
    /// Events per second (all builds) published live during the storm.
    pub live_rate: f64,
    /// Targets, in order.
    pub targets: Vec<Target>,
}

/// One target's figures.
#[derive(Clone, Debug)]
pub struct StormResult {
    /// The target.
    pub target: Target,
    /// Seconds until every viewer was connected again.
    pub reconnect_secs: f64,
    /// Seconds until every viewer had caught up (NaN for targets without history).
    pub catch_up_secs: f64,
    /// Per-viewer catch-up p50/p99 (ms).
    pub catch_up_ms: (f64, f64),
    /// Viewers caught up in time.
    pub caught_up: usize,
    /// socket.io sessions recovered.
    pub recovered: usize,
    /// Share of one core the server used during the storm.
    pub server_cpu: f64,
    /// Share of one core nats-server used during the storm.
    pub nats_cpu: f64,
    /// Gaps and duplicates after each cursor (meaningless for bare).
    pub accounting: Accounting,
}

/// How long the storm may take before the viewers still behind are given up.
const STORM_LIMIT: Duration = Duration::from_secs(60);

/// Runs every target of `shape` in turn.
pub async fn run(settings: &Settings, shape: &Storm) -> Result<Vec<StormResult>> {
    let mut results = Vec::new();
    for &target in &shape.targets {
        results.push(one(settings, shape, target).await?);
    }
    Ok(results)
}

/// The cursor viewer `track` resumes from: a random event index in `1..=history` it
/// received, and how the target is told.
fn cursor(target: Target, track: &crate::probe::Track, history: u32) -> (u32, Resume) {
    let mut rng = rand::rng();
    let mut n = rng.random_range(1..=history.max(1));
    while n > 1 && !track.has(n) {
        n -= 1;
    }
    let resume = match target {
        Target::EdgeWs | Target::EdgeSse => Resume::After(track.seq_of(n).unwrap_or(0)),
        Target::SocketIo => {
            let offset = track
                .offsets
                .as_ref()
                .and_then(|o| o.get(n as usize).cloned().flatten());
            match (&track.pid, offset) {
                (Some(pid), Some(offset)) => Resume::Recover {
                    pid: pid.clone(),
                    offset,
                },
                _ => Resume::Fresh,
            }
        }
        Target::Bare => Resume::Fresh,
    };
    (n, resume)
}

async fn one(settings: &Settings, shape: &Storm, target: Target) -> Result<StormResult> {
    let name = format!("storm {}x{}", shape.viewers, shape.builds);
    let mut rig = Rig::start(settings, target, shape.builds).await?;
    rig.add_viewers(shape.viewers);
    if target == Target::SocketIo {
        for viewer in &rig.viewers {
            viewer.track().offsets = Some(Vec::new());
        }
    }
    progress(
        &name,
        target,
        format!("connecting {} viewers", shape.viewers),
    );
    rig.connect(|_| Resume::Fresh).await?;
    rig.feeder.burst(shape.history).await?;
    if !rig.drain(Duration::from_secs(60)).await {
        progress(
            &name,
            target,
            "warning: history not all delivered before the drop",
        );
    }

    let cursors: Vec<(u32, Resume)> = rig
        .viewers
        .iter()
        .map(|v| cursor(target, &v.track(), shape.history))
        .collect();
    progress(
        &name,
        target,
        format!(
            "dropping every connection; {} events per build stored meanwhile",
            shape.missed
        ),
    );
    rig.drop_viewers().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    rig.feeder.burst(shape.missed).await?;
    let builds = rig.builds().clone();
    for (viewer, (n, _)) in rig.viewers.iter().zip(&cursors) {
        let mut track = viewer.track();
        let head = builds.published(viewer.build).saturating_sub(1);
        if target.has_history() || target == Target::SocketIo {
            track.restart(n + 1);
            track.catch_up = Some(CatchUp {
                until_n: head,
                remaining: head.saturating_sub(*n),
                done_ns: None,
            });
        } else {
            track.restart(head + 1);
        }
    }

    let live = CancellationToken::new();
    let trickle = {
        let (feeder, live, rate) = (rig.feeder.clone(), live.clone(), shape.live_rate);
        tokio::spawn(async move {
            feeder
                .at_rate(rate, STORM_LIMIT + Duration::from_secs(30), &live)
                .await
        })
    };
    progress(
        &name,
        target,
        format!("{} viewers reconnecting at once", shape.viewers),
    );
    let cpu = CpuMeter::start(Some(rig.server.pid));
    let nats_cpu = rig.nats_pid().map(|pid| CpuMeter::start(Some(pid)));
    let started = now_ns();
    let resumes: Vec<Resume> = cursors.into_iter().map(|(_, r)| r).collect();
    let reconnect_secs = rig.connect(|v| resumes[v.index].clone()).await?;
    let total = rig.viewers.len();
    if target != Target::Bare {
        rig.probe
            .wait_for(STORM_LIMIT, |p| p.caught_up() >= total)
            .await;
    }
    let (_, server_cpu) = cpu.stop();
    let nats_cpu = nats_cpu.map_or(f64::NAN, |meter| meter.stop().1);
    let mut times: Vec<f64> = rig
        .viewers
        .iter()
        .filter_map(|v| v.track().catch_up.and_then(|c| c.done_ns))
        .map(|done| done.saturating_sub(started) as f64 / 1e6)
        .collect();
    times.sort_by(f64::total_cmp);
    let caught_up = times.len();
    let at = |q: f64| {
        times
            .get(((times.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let catch_up_secs = match target {
        Target::Bare => f64::NAN,
        _ if caught_up < total => f64::INFINITY,
        _ => at(1.0) / 1000.0,
    };
    live.cancel();
    let _ = trickle.await;
    // Bare loses what was published while its viewers reconnected: nothing to wait for.
    if target != Target::Bare && !rig.drain(Duration::from_secs(10)).await {
        progress(
            &name,
            target,
            "warning: live events not all delivered after the storm",
        );
    }
    let accounting = account(&rig.viewers, rig.builds());
    let recovered = rig.probe.recovered();
    progress(
        &name,
        target,
        format!(
            "reconnected in {reconnect_secs:.2} s, caught up {caught_up}/{total} in {catch_up_secs:.2} s; gaps {} dups {}",
            accounting.gaps, accounting.dups
        ),
    );
    rig.finish().await;
    Ok(StormResult {
        target,
        reconnect_secs,
        catch_up_secs,
        catch_up_ms: (at(0.5), at(0.99)),
        caught_up,
        recovered,
        server_cpu,
        nats_cpu,
        accounting,
    })
}

/// The scenario's table.
pub fn table(shape: &Storm, results: &[StormResult]) -> Report {
    let mut report = Report::new(
        format!(
            "storm: {} viewers over {} builds resume from random cursors ({} events per build seen, {} missed, {} events/s live)",
            count(shape.viewers as f64),
            count(shape.builds as f64),
            shape.history,
            shape.missed,
            shape.live_rate
        ),
        &[
            "target",
            "all caught up s",
            "catch-up p50 ms",
            "catch-up p99 ms",
            "caught up",
            "all reconnected s",
            "server CPU (NATS)",
            "gaps",
            "dups",
        ],
    );
    for r in results {
        let bare = r.target == Target::Bare;
        let na = |text: String| if bare { "n/a".to_string() } else { text };
        let caught = match r.target {
            Target::SocketIo => format!("{} ({} recovered)", r.caught_up, r.recovered),
            _ => r.caught_up.to_string(),
        };
        report.row(vec![
            r.target.name().into(),
            na(if r.catch_up_secs.is_infinite() {
                format!("> {}", STORM_LIMIT.as_secs())
            } else {
                format!("{:.2}", r.catch_up_secs)
            }),
            na(ms(r.catch_up_ms.0)),
            na(ms(r.catch_up_ms.1)),
            na(caught),
            format!("{:.2}", r.reconnect_secs),
            format!(
                "{} ({})",
                crate::report::percent(r.server_cpu),
                crate::report::percent(r.nats_cpu)
            ),
            na((r.accounting.gaps + r.accounting.seq_mismatches).to_string()),
            na((r.accounting.dups + r.accounting.out_of_order).to_string()),
        ]);
    }
    for edge in results.iter().filter(|r| r.target.is_edge()) {
        for base in results.iter().filter(|r| !r.target.is_edge()) {
            let bare = base.target == Target::Bare;
            let na = |text: String| if bare { "n/a".to_string() } else { text };
            report.row(vec![
                format!("{} / {}", edge.target.name(), base.target.name()),
                na(ratio(edge.catch_up_secs, base.catch_up_secs)),
                na(ratio(edge.catch_up_ms.0, base.catch_up_ms.0)),
                na(ratio(edge.catch_up_ms.1, base.catch_up_ms.1)),
                "-".into(),
                ratio(edge.reconnect_secs, base.reconnect_secs),
                ratio(edge.server_cpu, base.server_cpu),
                "-".into(),
                "-".into(),
            ]);
        }
    }
    report.note("catch-up: from the first reconnect attempt until a viewer holds every event up to its build's head at storm start; bare has no history, so only its reconnect time is comparable");
    report
}
