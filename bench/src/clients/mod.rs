//! The load generator's viewers: one tokio task per viewer that connects to a target,
//! reports every frame into the run's [`Probe`], and after a close it did not ask for
//! reconnects, resuming where the target allows (edge: `after=<seq>`; socket.io: its
//! connection state recovery; bare: from now).

mod bare;
mod edge;
mod net;
mod socketio;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::probe::{Probe, ViewerSlot};
use crate::publisher::Builds;

/// A server under test and the transport its viewers use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Target {
    /// The buildwire edge over WebSocket.
    EdgeWs,
    /// The buildwire edge over Server-Sent Events.
    EdgeSse,
    /// socket.io 4.8 (Node), a namespace per build.
    #[value(name = "socketio")]
    SocketIo,
    /// A bare tokio WebSocket broadcaster: no history, no auth, no checks.
    Bare,
}

impl Target {
    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Target::EdgeWs => "edge-ws",
            Target::EdgeSse => "edge-sse",
            Target::SocketIo => "socketio",
            Target::Bare => "bare",
        }
    }

    /// Whether it is the system under test (the others are baselines).
    pub fn is_edge(self) -> bool {
        matches!(self, Target::EdgeWs | Target::EdgeSse)
    }

    /// Whether a new connection gets events stored before it connected.
    pub fn has_history(self) -> bool {
        self.is_edge()
    }
}

/// Where a viewer resumes.
#[derive(Clone, Debug, Default)]
pub enum Resume {
    /// From now on (the edge: from the build's first event).
    #[default]
    Fresh,
    /// Edge: after this `seq`.
    After(u64),
    /// socket.io: connection state recovery with the session id and last offset.
    Recover {
        /// The session id (`pid`) the server handed out.
        pid: String,
        /// The offset of the last event received.
        offset: String,
    },
}

/// What the viewers of one phase share.
pub struct Fleet {
    /// The target's kind.
    pub target: Target,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where every viewer reports.
    pub probe: Arc<Probe>,
    /// The builds being watched.
    pub builds: Arc<Builds>,
    /// Stops every viewer of the phase (their sockets are dropped, not closed politely).
    pub stop: CancellationToken,
    handshakes: Arc<Semaphore>,
    sources: Vec<IpAddr>,
    http: Vec<reqwest::Client>,
}

/// Connection attempts before a viewer gives up.
const CONNECT_ATTEMPTS: u32 = 8;

impl Fleet {
    /// Viewers of `target` at `addr`, at most `concurrency` handshakes at once, spreading
    /// their source addresses over `sources` fresh loopback addresses (127.1.x.y), so
    /// more than one address's worth of ephemeral ports can connect to one port.
    pub fn new(
        target: Target,
        addr: SocketAddr,
        probe: Arc<Probe>,
        builds: Arc<Builds>,
        concurrency: usize,
        sources: usize,
    ) -> Result<Arc<Fleet>> {
        let sources = net::source_addresses(sources);
        let http = if target == Target::EdgeSse {
            sources
                .iter()
                .map(|ip| {
                    reqwest::Client::builder()
                        .local_address(*ip)
                        .pool_max_idle_per_host(0)
                        .tcp_nodelay(true)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        Ok(Arc::new(Fleet {
            target,
            addr,
            probe,
            builds,
            stop: CancellationToken::new(),
            handshakes: Arc::new(Semaphore::new(concurrency.max(1))),
            sources,
            http,
        }))
    }

    fn source(&self, viewer: usize) -> IpAddr {
        self.sources[viewer % self.sources.len()]
    }
}

/// How one connection ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The phase stopped it.
    Stopped,
    /// The server ended the stream for good (the build finished).
    Finished,
    /// The connection closed or failed after it was up.
    Closed,
    /// It could not connect.
    Refused(String),
}

impl Ended {
    /// A connection that closed: [`Ended::Closed`] once it was up, else a refusal (so the
    /// viewer retries and still counts as connecting).
    pub(crate) fn closed(up: bool) -> Ended {
        if up {
            Ended::Closed
        } else {
            Ended::Refused("closed before the server acknowledged the viewer".into())
        }
    }
}

/// Starts viewer `slot`'s task, first connecting with `resume`.
pub fn spawn(fleet: &Arc<Fleet>, slot: &Arc<ViewerSlot>, resume: Resume) -> JoinHandle<()> {
    let (fleet, slot) = (fleet.clone(), slot.clone());
    tokio::spawn(async move { run(fleet, slot, resume).await })
}

async fn run(fleet: Arc<Fleet>, slot: Arc<ViewerSlot>, mut resume: Resume) {
    let mut first = true;
    let mut attempts = 0;
    loop {
        let ended = tokio::select! {
            _ = fleet.stop.cancelled() => Ended::Stopped,
            ended = session(&fleet, &slot, &resume, first) => ended,
        };
        match ended {
            Ended::Stopped | Ended::Finished => return,
            Ended::Refused(reason) => {
                fleet.probe.on_refused(&reason);
                attempts += 1;
                if attempts >= CONNECT_ATTEMPTS {
                    eprintln!(
                        "bench: viewer {} gave up connecting to {}: {reason}",
                        slot.index,
                        fleet.target.name()
                    );
                    if first {
                        fleet.probe.on_failed();
                    }
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempts))).await;
            }
            Ended::Closed => {
                if fleet.stop.is_cancelled() {
                    return;
                }
                first = false;
                attempts = 0;
                fleet.probe.on_reconnect();
                resume = next_resume(fleet.target, &slot);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn session(fleet: &Fleet, slot: &ViewerSlot, resume: &Resume, first: bool) -> Ended {
    match fleet.target {
        Target::EdgeWs => edge::websocket(fleet, slot, resume, first).await,
        Target::EdgeSse => edge::sse(fleet, slot, resume, first).await,
        Target::SocketIo => socketio::session(fleet, slot, resume, first).await,
        Target::Bare => bare::session(fleet, slot, first).await,
    }
}

/// Where a viewer continues after an unplanned close.
fn next_resume(target: Target, slot: &ViewerSlot) -> Resume {
    let track = slot.track();
    match target {
        Target::EdgeWs | Target::EdgeSse => Resume::After(track.cursor),
        Target::SocketIo => match (&track.pid, &track.last_offset) {
            (Some(pid), Some(offset)) => Resume::Recover {
                pid: pid.clone(),
                offset: offset.clone(),
            },
            _ => Resume::Fresh,
        },
        Target::Bare => Resume::Fresh,
    }
}
