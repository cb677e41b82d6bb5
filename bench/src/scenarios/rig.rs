//! One target's test rig: a fresh nats-server, the server under test, the publisher with
//! its builds seeded (one event each, so the edge knows them), and the viewers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio::task::JoinHandle;

use super::Settings;
use crate::clients::{self, Fleet, Resume, Target};
use crate::probe::{Probe, ViewerSlot, expected_deliveries};
use crate::publisher::{Builds, Feeder};
use crate::servers::{NatsServer, Server};

/// Viewers per loopback source address: an address has about 28,000 ephemeral ports, and
/// binding port 0 slows down as an address's ports fill, so each takes 1,000.
const SOCKETS_PER_SOURCE: usize = 1_000;
/// How long viewers may take to connect, per thousand of them (plus a minute).
const CONNECT_PER_THOUSAND: Duration = Duration::from_secs(10);

/// A target with its NATS, publisher and viewers.
pub struct Rig {
    /// The target.
    pub target: Target,
    /// The server under test.
    pub server: Server,
    /// Publishes the run's events.
    pub feeder: Feeder,
    /// Where viewers report.
    pub probe: Arc<Probe>,
    /// The viewers, viewer `i` on build `i % builds`.
    pub viewers: Vec<Arc<ViewerSlot>>,
    fleet: Option<Arc<Fleet>>,
    tasks: Vec<JoinHandle<()>>,
    /// Deliveries counted before the current connections (a storm reconnects).
    delivered_before: u64,
    settings: Settings,
    nats: NatsServer,
}

impl Rig {
    /// Starts NATS, the publisher (which applies the stream definitions), the server, and
    /// seeds `builds` builds with one event each.
    pub async fn start(settings: &Settings, target: Target, builds: usize) -> Result<Rig> {
        let nats = NatsServer::start(&settings.tools)?;
        let feeder = Feeder::connect(&nats.url(), Builds::new(builds), settings.padding).await?;
        let server = Server::start(target, &settings.tools, &nats.url(), &[]).await?;
        feeder.seed().await?;
        Ok(Rig {
            target,
            server,
            feeder,
            probe: Probe::new(),
            viewers: Vec::new(),
            fleet: None,
            tasks: Vec::new(),
            delivered_before: 0,
            settings: settings.clone(),
            nats,
        })
    }

    /// The nats-server's process id.
    pub fn nats_pid(&self) -> Option<u32> {
        self.nats.pid()
    }

    /// The builds.
    pub fn builds(&self) -> &Arc<Builds> {
        self.feeder.builds()
    }

    /// Creates `count` viewers (viewer `i` on build `i % builds`) expecting every event
    /// from now on (targets with history: from each build's first event).
    pub fn add_viewers(&mut self, count: usize) {
        let builds = self.builds().clone();
        self.viewers = (0..count)
            .map(|i| {
                let build = i % builds.len().max(1);
                let first = if self.target.has_history() {
                    0
                } else {
                    builds.published(build)
                };
                ViewerSlot::new(i, build, first)
            })
            .collect();
    }

    /// Connects every viewer, each from `resume(viewer)`, all at once (at most the
    /// configured number of handshakes in flight); returns the seconds until all were up.
    pub async fn connect(&mut self, resume: impl Fn(&ViewerSlot) -> Resume) -> Result<f64> {
        self.probe.reset_connections();
        self.delivered_before = self.probe.delivered();
        let fleet = Fleet::new(
            self.target,
            self.server.addr,
            self.probe.clone(),
            self.builds().clone(),
            self.settings.concurrency,
            self.viewers.len().div_ceil(SOCKETS_PER_SOURCE),
        )?;
        let started = Instant::now();
        self.tasks = self
            .viewers
            .iter()
            .map(|slot| clients::spawn(&fleet, slot, resume(slot)))
            .collect();
        self.fleet = Some(fleet);
        let total = self.viewers.len();
        let limit = Duration::from_secs(60) + CONNECT_PER_THOUSAND * (total / 1000) as u32;
        let up = self
            .probe
            .wait_for(limit, |p| p.connected() + p.failed() >= total)
            .await;
        let secs = started.elapsed().as_secs_f64();
        if let (refused @ 1.., reason) = self.probe.refused() {
            progress(
                "connect",
                self.target,
                format!(
                    "{refused} connection attempts failed and were retried; the first: {}",
                    reason.unwrap_or_default()
                ),
            );
        }
        let (connected, failed) = (self.probe.connected(), self.probe.failed());
        if !up || failed > 0 {
            bail!(
                "{}: {connected} of {total} viewers connected ({failed} gave up) within {limit:?}; server log:\n{}",
                self.target.name(),
                self.server.log_tail()
            );
        }
        Ok(secs)
    }

    /// Waits until every viewer has every event published so far, counting from its
    /// current connection's first event (false after `limit`).
    pub async fn drain(&self, limit: Duration) -> bool {
        let expected = self.expected();
        self.probe
            .wait_for(limit, |p| p.delivered() >= expected)
            .await
    }

    /// The probe's delivery count once every viewer has every event published so far.
    pub fn expected(&self) -> u64 {
        self.delivered_before + expected_deliveries(&self.viewers, self.builds())
    }

    /// Drops every viewer's connection at once (no close handshake, like a network
    /// loss) and waits for their tasks.
    pub async fn drop_viewers(&mut self) {
        if let Some(fleet) = self.fleet.take() {
            fleet.stop.cancel();
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }

    /// Drops the viewers and stops the server and NATS.
    pub async fn finish(mut self) {
        self.drop_viewers().await;
        self.server.stop().await;
    }
}

/// Prints a progress line on stderr.
pub fn progress(scenario: &str, target: Target, what: impl std::fmt::Display) {
    eprintln!("[{scenario}] {:<8} {what}", target.name());
}
