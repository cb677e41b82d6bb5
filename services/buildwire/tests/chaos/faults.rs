//! The faults, one per phase: when each strikes, what it kills (SIGKILL), how the part
//! comes back, and what "recovered" means for it, measured from the kill.

use std::time::Duration;

use buildwire_record::Store;
use buildwire_runtime::nats::Nats;
use tokio::time::Instant;

use crate::FINISH_WITHIN;
use crate::checks::{self, Stored};
use crate::stack::{Stack, works_on};
use crate::viewers::Viewer;

/// One part of the deployment to kill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The build worker running a build's `npm install`.
    BuildWorker,
    /// Edge node 0, with half of the viewers on it.
    Edge,
    /// The record service.
    Recorder,
    /// A NATS node that does not lead `EVENTS`.
    NatsNode,
    /// The NATS node leading `EVENTS`.
    StreamLeader,
    /// The PostgreSQL server (postmaster and every backend).
    Postgres,
}

/// What was killed, to start it again.
#[derive(Clone, Copy, Debug)]
enum Target {
    Builder(usize),
    Edge(usize),
    Recorder,
    Node(usize),
    Postgres,
}

/// Who must make progress again for the fault to count as recovered.
enum Affected {
    /// These builds (index, last stored seq at the kill) each store a new event.
    Builds(Vec<(usize, u64)>),
    /// These viewers each connect again (or finish).
    Viewers(Vec<usize>),
    /// The database holds every event stored before the kill (per build) and one
    /// stored after it (above `max`).
    Rows { before: Vec<Vec<u64>>, max: u64 },
}

/// A fault that struck.
pub struct Injected {
    /// When the part was killed.
    pub at: Instant,
    target: Target,
    affected: Affected,
}

impl Fault {
    /// The phases, in order.
    pub const ALL: [Fault; 6] = [
        Fault::BuildWorker,
        Fault::Edge,
        Fault::Recorder,
        Fault::NatsNode,
        Fault::StreamLeader,
        Fault::Postgres,
    ];

    /// Its name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Fault::BuildWorker => "build worker, mid-install",
            Fault::Edge => "edge node",
            Fault::Recorder => "recorder",
            Fault::NatsNode => "NATS node (not the EVENTS leader)",
            Fault::StreamLeader => "NATS node leading EVENTS",
            Fault::Postgres => "PostgreSQL",
        }
    }

    /// What its recovery time measures.
    pub fn recovery(self) -> &'static str {
        match self {
            Fault::BuildWorker => "its builds store their next event",
            Fault::Edge => "every viewer of the node connected again",
            Fault::Recorder | Fault::Postgres => {
                "the database holds every event stored before the kill and a later one"
            }
            Fault::NatsNode | Fault::StreamLeader => "every build in flight stores its next event",
        }
    }

    /// Whether the moment to strike has come.
    pub fn due(self, stack: &Stack, builds: &[Stored], viewers: &[Viewer]) -> bool {
        let installing = |b: &Stored| {
            b.has("build_started")
                && !b
                    .events
                    .iter()
                    .any(|e| e["type"] == "status" && e["code"] == "BUILD")
        };
        match self {
            Fault::BuildWorker => builds.iter().any(|b| {
                installing(b)
                    && stack
                        .builders
                        .iter()
                        .any(|w| works_on(&w.data, &b.build_id))
            }),
            Fault::Edge => {
                builds.iter().any(|b| b.has("build_started"))
                    && viewers
                        .iter()
                        .all(|v| !v.seen.lock().expect("viewer").connected.is_empty())
            }
            _ => builds.iter().any(|b| b.has("build_started")),
        }
    }

    /// Kills the part (SIGKILL).
    pub async fn inject(
        self,
        stack: &mut Stack,
        builds: &mut [Stored],
        viewers: &[Viewer],
    ) -> Injected {
        crate::refresh(stack, builds).await;
        let before: Vec<u64> = builds.iter().map(Stored::last_seq).collect();
        let target = match self {
            Fault::BuildWorker => {
                let running = builds.iter().find(|b| {
                    stack
                        .builders
                        .iter()
                        .any(|w| works_on(&w.data, &b.build_id))
                });
                let running = running.expect("a build being installed");
                let index = stack
                    .builders
                    .iter()
                    .position(|w| works_on(&w.data, &running.build_id))
                    .expect("its worker");
                Target::Builder(index)
            }
            Fault::Edge => Target::Edge(0),
            Fault::Recorder => Target::Recorder,
            Fault::NatsNode => {
                let leader = stack.cluster.stream_leader(&stack.nats, "EVENTS").await;
                Target::Node((leader + 1) % stack.cluster.nodes.len())
            }
            Fault::StreamLeader => {
                Target::Node(stack.cluster.stream_leader(&stack.nats, "EVENTS").await)
            }
            Fault::Postgres => Target::Postgres,
        };
        // Who is affected is read before the kill (a killed worker's folder stays, but a
        // finished build's is gone).
        let held: Vec<usize> = match target {
            Target::Builder(w) => (0..builds.len())
                .filter(|&b| works_on(&stack.builders[w].data, &builds[b].build_id))
                .collect(),
            _ => Vec::new(),
        };
        let displaced: Vec<usize> = match target {
            Target::Edge(e) => viewers
                .iter()
                .enumerate()
                .filter(|(_, v)| {
                    let seen = v.seen.lock().expect("viewer");
                    seen.edge == e && !seen.finished
                })
                .map(|(i, _)| i)
                .collect(),
            _ => Vec::new(),
        };
        match target {
            Target::Builder(w) => stack.builders[w].kill().await,
            Target::Edge(e) => stack.edges[e].kill().await,
            Target::Recorder => stack.other("record").kill().await,
            Target::Node(n) => stack.cluster.nodes[n].kill(),
            Target::Postgres => stack.postgres.kill(),
        }
        let at = Instant::now();
        // Exact when the stream answers (everything but a leader election); else what
        // was read just before the kill.
        let before = if crate::refresh(stack, builds).await {
            builds.iter().map(Stored::last_seq).collect()
        } else {
            before
        };
        let in_flight = |b: &usize| builds[*b].terminal().is_none();
        let affected = match self {
            Fault::BuildWorker => {
                Affected::Builds(held.into_iter().map(|b| (b, before[b])).collect())
            }
            Fault::Edge => Affected::Viewers(displaced),
            Fault::Recorder | Fault::Postgres => Affected::Rows {
                before: builds.iter().map(Stored::seqs).collect(),
                max: before.iter().copied().max().unwrap_or(0),
            },
            Fault::NatsNode | Fault::StreamLeader => Affected::Builds(
                (0..builds.len())
                    .filter(in_flight)
                    .map(|b| (b, before[b]))
                    .collect(),
            ),
        };
        eprintln!(
            "chaos: killed {target:?} ({}) at {}",
            self.name(),
            builds
                .iter()
                .map(|b| format!("{} seq {}", b.build_id, b.last_seq()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Injected {
            at,
            target,
            affected,
        }
    }
}

impl Injected {
    /// Starts the killed part again after a moment.
    pub async fn restore(&self, stack: &mut Stack) {
        match self.target {
            Target::Builder(w) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                stack.builders[w].restart().await;
            }
            Target::Edge(e) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                stack.edges[e].restart().await;
            }
            Target::Recorder => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                stack.other("record").restart().await;
            }
            Target::Node(n) => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                tokio::task::block_in_place(|| stack.cluster.nodes[n].restart())
                    .expect("the node starts again");
            }
            Target::Postgres => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                tokio::task::block_in_place(|| stack.postgres.resume());
            }
        }
    }

    /// The time from the kill until the affected parts made progress again, polled
    /// every 100 ms; `None` if not within the phase's bound.
    pub async fn recovered(
        &self,
        nats: &Nats,
        store: &Store,
        builds: &mut [Stored],
        viewers: &[Viewer],
    ) -> Option<Duration> {
        let deadline = self.at + FINISH_WITHIN;
        while Instant::now() < deadline {
            if self.progressed(nats, store, builds, viewers).await {
                return Some(self.at.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    async fn progressed(
        &self,
        nats: &Nats,
        store: &Store,
        builds: &mut [Stored],
        viewers: &[Viewer],
    ) -> bool {
        match &self.affected {
            Affected::Builds(held) => {
                for (b, _) in held {
                    builds[*b].refresh(nats).await;
                }
                held.iter()
                    .all(|(b, seq)| builds[*b].first_after(*seq).is_some())
            }
            Affected::Viewers(displaced) => displaced.iter().all(|v| {
                let seen = viewers[*v].seen.lock().expect("viewer");
                seen.finished || seen.connected.last().is_some_and(|t| *t > self.at)
            }),
            Affected::Rows { before, max } => {
                let mut later = false;
                for (build, stored) in builds.iter().zip(before) {
                    let Some(rows) = checks::rows(store, &build.build_id).await else {
                        return false;
                    };
                    if !stored.iter().all(|s| rows.binary_search(s).is_ok()) {
                        return false;
                    }
                    later |= rows.last().is_some_and(|s| s > max);
                }
                later
            }
        }
    }
}
