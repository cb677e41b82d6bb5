//! `memory`: N idle viewers on one target. The server's `VmRSS` is read after it started
//! and its builds were seeded, then again once N viewers are connected and the figure has
//! settled; the difference over N is the memory one idle viewer costs.

use std::time::Duration;

use anyhow::Result;

use super::Settings;
use super::rig::{Rig, progress};
use crate::clients::{Resume, Target};
use crate::report::{Report, count, ratio};

/// A memory run's shape.
#[derive(Clone, Debug)]
pub struct Memory {
    /// Idle viewers.
    pub viewers: usize,
    /// Builds they watch.
    pub builds: usize,
    /// Targets, in order.
    pub targets: Vec<Target>,
}

/// One target's figures.
#[derive(Clone, Debug)]
pub struct MemoryResult {
    /// The target.
    pub target: Target,
    /// RSS before any viewer (KiB).
    pub before_kib: u64,
    /// RSS with every viewer connected and idle (KiB).
    pub after_kib: u64,
    /// Viewers connected.
    pub viewers: usize,
    /// Seconds to connect them.
    pub connect_secs: f64,
}

impl MemoryResult {
    /// KB (1000 bytes) per idle viewer.
    pub fn kb_per_viewer(&self) -> f64 {
        self.after_kib.saturating_sub(self.before_kib) as f64 * 1.024 / self.viewers.max(1) as f64
    }
}

/// Reads RSS every second until two readings agree within 1 % (at most `limit`).
async fn settled_rss(rig: &Rig, limit: Duration) -> Result<u64> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut last = rig.server.rss_kib()?;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = rig.server.rss_kib()?;
        if now.abs_diff(last) * 100 <= last || tokio::time::Instant::now() >= deadline {
            return Ok(now);
        }
        last = now;
    }
}

/// Runs every target of `shape` in turn.
pub async fn run(settings: &Settings, shape: &Memory) -> Result<Vec<MemoryResult>> {
    let mut results = Vec::new();
    for &target in &shape.targets {
        let name = format!("memory {}", shape.viewers);
        let mut rig = Rig::start(settings, target, shape.builds).await?;
        let before_kib = settled_rss(&rig, Duration::from_secs(5)).await?;
        rig.add_viewers(shape.viewers);
        progress(
            &name,
            target,
            format!(
                "RSS {} KiB; connecting {} idle viewers",
                count(before_kib as f64),
                shape.viewers
            ),
        );
        let connect_secs = rig.connect(|_| Resume::Fresh).await?;
        let after_kib = settled_rss(&rig, Duration::from_secs(15)).await?;
        let result = MemoryResult {
            target,
            before_kib,
            after_kib,
            viewers: shape.viewers,
            connect_secs,
        };
        progress(
            &name,
            target,
            format!(
                "RSS {} KiB: {:.2} KB per viewer",
                count(after_kib as f64),
                result.kb_per_viewer()
            ),
        );
        rig.finish().await;
        results.push(result);
    }
    Ok(results)
}

/// The scenario's table.
pub fn table(shape: &Memory, results: &[MemoryResult]) -> Report {
    let mut report = Report::new(
        format!(
            "memory: {} idle viewers over {} builds",
            count(shape.viewers as f64),
            count(shape.builds as f64)
        ),
        &[
            "target",
            "KB per viewer",
            "RSS before MiB",
            "RSS after MiB",
            "connect s",
        ],
    );
    for r in results {
        report.row(vec![
            r.target.name().into(),
            format!("{:.2}", r.kb_per_viewer()),
            format!("{:.1}", r.before_kib as f64 / 1024.0),
            format!("{:.1}", r.after_kib as f64 / 1024.0),
            format!("{:.1}", r.connect_secs),
        ]);
    }
    for edge in results.iter().filter(|r| r.target.is_edge()) {
        for base in results.iter().filter(|r| !r.target.is_edge()) {
            report.row(vec![
                format!("{} / {}", edge.target.name(), base.target.name()),
                ratio(edge.kb_per_viewer(), base.kb_per_viewer()),
                ratio(edge.before_kib as f64, base.before_kib as f64),
                ratio(edge.after_kib as f64, base.after_kib as f64),
                ratio(edge.connect_secs, base.connect_secs),
            ]);
        }
    }
    report.note("KB per viewer = (RSS with the viewers idle - RSS before) / viewers, 1 KB = 1000 bytes; each viewer got its build's first event, then nothing");
    report
}
