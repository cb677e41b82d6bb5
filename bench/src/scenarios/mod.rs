//! The scenarios (`fanout`, `storm`, `memory`, `pipeline`), what they share, and the
//! issue's targets judged against their figures.

pub mod fanout;
pub mod memory;
pub mod pipeline;
pub mod rig;
pub mod storm;

use crate::clients::Target;
use crate::report::{Format, Report, count, ms, ratio, verdict};
use crate::servers::Tools;

/// What every scenario runs with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Programs under test and CPU placement.
    pub tools: Tools,
    /// Table layout.
    pub format: Format,
    /// Handshakes in flight at once per target.
    pub concurrency: usize,
    /// Extra bytes in every event's message.
    pub padding: usize,
}

impl Settings {
    /// Prints `report` on stdout.
    pub fn print(&self, report: &Report) {
        println!("{}", report.render(self.format));
    }
}

/// Burst events per build for `viewers` over `builds`: about 600,000 deliveries (a few
/// seconds, so the rate is not one scheduler hiccup) and at most 50,000 publishes, 5 to
/// 400 per build (below the edge's 512-event queue bound).
pub fn burst_for(viewers: usize, builds: usize) -> u32 {
    let by_deliveries = 600_000 / viewers.max(1);
    let by_publishes = 50_000 / builds.max(1);
    u32::try_from(by_deliveries.min(by_publishes).clamp(5, 400)).unwrap_or(400)
}

/// The figures the issue sets targets for, from whichever scenarios ran.
#[derive(Default)]
pub struct Standing<'a> {
    /// The fanout run at the headline size.
    pub fanout: Option<(&'a fanout::Fanout, &'a [fanout::FanoutResult])>,
    /// The memory run.
    pub memory: Option<(&'a memory::Memory, &'a [memory::MemoryResult])>,
    /// The storm run.
    pub storm: Option<(&'a storm::Storm, &'a [storm::StormResult])>,
}

fn find<T>(results: &[T], target: Target, of: impl Fn(&T) -> Target) -> Option<&T> {
    results.iter().find(|r| of(r) == target)
}

/// Where the edge (WebSocket) stands against each target.
pub fn standing(figures: &Standing) -> Report {
    let mut report = Report::new(
        "targets (issue 8)",
        &["target", "goal", "measured", "status"],
    );
    if let Some((shape, results)) = figures.fanout {
        let size = format!(
            "{} viewers / {} builds",
            count(shape.viewers as f64),
            count(shape.builds as f64)
        );
        if let Some(edge) = find(results, Target::EdgeWs, |r| r.target) {
            report.row(vec![
                format!("p99 publish-to-client ({size})"),
                "<= 10 ms".into(),
                format!("{} ms", ms(edge.latency.1)),
                verdict(edge.latency.1 <= 10.0),
            ]);
            if let Some(sio) = find(results, Target::SocketIo, |r| r.target) {
                let x = edge.burst_rate / sio.burst_rate;
                report.row(vec![
                    format!("delivered events/s vs socket.io ({size})"),
                    ">= 5x".into(),
                    format!(
                        "{} ({} vs {})",
                        ratio(edge.burst_rate, sio.burst_rate),
                        count(edge.burst_rate),
                        count(sio.burst_rate)
                    ),
                    verdict(x >= 5.0),
                ]);
            }
            if let Some(bare) = find(results, Target::Bare, |r| r.target) {
                let x = bare.burst_rate / edge.burst_rate;
                report.row(vec![
                    format!("delivered events/s vs bare ({size})"),
                    "within 2x (bare / edge <= 2)".into(),
                    format!(
                        "bare / edge = {} ({} vs {})",
                        ratio(bare.burst_rate, edge.burst_rate),
                        count(bare.burst_rate),
                        count(edge.burst_rate)
                    ),
                    verdict(x <= 2.0),
                ]);
            }
        }
    }
    if let Some((shape, results)) = figures.memory
        && let Some(edge) = find(results, Target::EdgeWs, |r| r.target)
    {
        report.row(vec![
            format!(
                "edge RSS per idle viewer ({} viewers)",
                count(shape.viewers as f64)
            ),
            "<= 10 KB".into(),
            format!("{:.2} KB", edge.kb_per_viewer()),
            verdict(edge.kb_per_viewer() <= 10.0),
        ]);
    }
    if let Some((shape, results)) = figures.storm
        && let Some(edge) = find(results, Target::EdgeWs, |r| r.target)
    {
        let clean = edge.accounting.clean() && edge.caught_up == shape.viewers;
        report.row(vec![
            format!(
                "reconnect storm ({} viewers) caught up",
                count(shape.viewers as f64)
            ),
            "<= 3 s, 0 gaps, 0 duplicates".into(),
            format!(
                "{:.2} s, {} gaps, {} duplicates",
                edge.catch_up_secs,
                edge.accounting.gaps + edge.accounting.seq_mismatches,
                edge.accounting.dups + edge.accounting.out_of_order
            ),
            verdict(edge.catch_up_secs <= 3.0 && clean),
        ]);
    }
    report
}

/// Whether every edge run delivered every event once and in order (the `--check` gate).
pub fn edge_correct(figures: &Standing) -> bool {
    let fanout_ok = figures.fanout.is_none_or(|(_, results)| {
        results
            .iter()
            .filter(|r| r.target.is_edge())
            .all(|r| r.accounting.clean() && r.burst_complete)
    });
    let storm_ok = figures.storm.is_none_or(|(shape, results)| {
        results
            .iter()
            .filter(|r| r.target.is_edge())
            .all(|r| r.accounting.clean() && r.caught_up == shape.viewers)
    });
    fanout_ok && storm_ok
}
