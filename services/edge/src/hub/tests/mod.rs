//! The hub and its session with the in-memory log and live source, without a server:
//! [`feed`] (window edges, gaps, refetches, slow viewers, the feed's lifetime) and
//! [`stream`] (history then live, purges, resume, client messages, timing, links, ends).

mod feed;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use buildwire_runtime::signing::UrlSigner;
use buildwire_schemas::events::{Complete, StatusCode, StatusUpdate};
use buildwire_schemas::stream::{Disconnect, DisconnectReason};
use buildwire_schemas::{EventBody, api::ClientMessage};
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::live::Heard;
use super::live::memory::MemoryLive;
use super::session::{Inbound, Inbox, NoInbox};
use super::{Hub, HubOptions, Out, Session, Step};
use crate::log::memory::MemoryLog;
use crate::logs::Links;
use crate::metrics::Metrics;

const BUILD: &str = "01JF3KX0W8R4Y6T2N5M7P9Q1ZB";

/// What a client saw.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Connected { last_seq: u64, recovered: bool },
    Snapshot(u64),
    Event(u64),
    Heartbeat,
    End(Disconnect),
    Gone,
}

struct Rig {
    log: Arc<MemoryLog>,
    live: Arc<MemoryLive>,
    hub: Hub,
    metrics: Metrics,
    stop: CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn rig(window: usize, queue: usize, linger: Duration) -> Rig {
    let log = MemoryLog::new();
    let live = Arc::new(MemoryLive::default());
    let metrics = Metrics::new();
    let stop = CancellationToken::new();
    let signer = UrlSigner::from_keyring("k1:0123456789abcdef0123456789abcdef");
    let links = Links::new(signer.expect("keyring"), "http://edge.test");
    let options = HubOptions {
        linger,
        window,
        queue,
    };
    let hub = Hub::new(
        log.clone(),
        live.clone(),
        links,
        metrics.clone(),
        options,
        stop.clone(),
    );
    Rig {
        log,
        live,
        hub,
        metrics,
        stop,
    }
}

fn status(n: u64) -> EventBody {
    EventBody::Status(StatusUpdate {
        code: StatusCode::Write,
        message: format!("step {n}"),
        progress: None,
        build_status: None,
    })
}

fn complete() -> EventBody {
    EventBody::Complete(Complete {
        preview_url: "http://preview/".into(),
        message: "ready".into(),
        build_log_url: Some(crate::logs::log_path(BUILD)),
    })
}

impl Rig {
    /// Stores an event and lets the live source carry it.
    fn store(&self, body: EventBody) -> u64 {
        let stored = self.log.append(BUILD, body);
        let payload = Bytes::from(stored.payload);
        self.live.hear(BUILD, || Heard::Stored {
            seq: stored.seq,
            prev: Some(stored.prev),
            stored_at: Some(chrono::Utc::now()),
            payload: payload.clone(),
            headers: None,
        });
        stored.seq
    }

    /// Stores an event the live source never carries (a dropped message).
    fn store_unheard(&self, body: EventBody) -> u64 {
        self.log.append(BUILD, body).seq
    }

    fn steps(&self, n: u64) -> Vec<u64> {
        (0..n).map(|i| self.store(status(i))).collect()
    }

    async fn open(&self, after: u64) -> Session {
        Session::open(&self.hub, BUILD, after, "ws", None)
            .await
            .expect("session opens")
    }

    fn metric(&self, line: &str) -> bool {
        self.metrics.render().lines().any(|l| l == line)
    }
}

/// A client script: these messages, then silence.
struct Script(Vec<Inbound>);

impl Inbox for Script {
    async fn recv(&mut self) -> Inbound {
        if self.0.is_empty() {
            return std::future::pending().await;
        }
        self.0.remove(0)
    }
}

fn resume(after: u64) -> Script {
    let text = serde_json::to_string(&ClientMessage::Resume { after }).unwrap_or_default();
    Script(vec![Inbound::Text(text.into())])
}

/// One step of `session`, within `wait` (`None`: it had nothing).
async fn step(session: &mut Session, inbox: &mut impl Inbox, wait: Duration) -> Option<Vec<Seen>> {
    let step = tokio::time::timeout(wait, session.next(inbox)).await.ok()?;
    let seen = |out: Out| match out {
        Out::Event { seq, .. } => Seen::Event(seq),
        Out::Connected {
            last_seq,
            recovered,
            ..
        } => Seen::Connected {
            last_seq,
            recovered,
        },
        Out::Snapshot { seq, .. } => Seen::Snapshot(seq),
        Out::Heartbeat { .. } => Seen::Heartbeat,
    };
    Some(match step {
        Step::Say(out) => vec![seen(out)],
        Step::Run(run) => run.map(seen).collect(),
        Step::End(end) => vec![Seen::End(end)],
        Step::Gone => vec![Seen::Gone],
    })
}

/// Exactly `n` things the session says (each within 5 s).
async fn take(session: &mut Session, inbox: &mut impl Inbox, n: usize) -> Vec<Seen> {
    let mut seen = Vec::new();
    while seen.len() < n {
        let more = step(session, inbox, Duration::from_secs(5)).await;
        seen.extend(more.expect("the session says more within 5 s"));
    }
    assert_eq!(seen.len(), n, "{seen:?}");
    seen
}

/// Whatever the session says in the next 200 ms.
async fn quiet(session: &mut Session) -> Vec<Seen> {
    let mut seen = Vec::new();
    while let Some(more) = step(session, &mut NoInbox, Duration::from_millis(200)).await {
        seen.extend(more);
    }
    seen
}

fn events(seqs: &[u64]) -> Vec<Seen> {
    seqs.iter().map(|s| Seen::Event(*s)).collect()
}

fn hello(last_seq: u64, recovered: bool) -> Seen {
    Seen::Connected {
        last_seq,
        recovered,
    }
}

fn end(reason: DisconnectReason, resume_after: Option<u64>) -> Seen {
    Seen::End(Disconnect::new(reason, resume_after))
}

const LINGER: Duration = Duration::from_millis(300);

/// A rig whose build has one event, and a viewer that has read its greeting and that event.
async fn watched(window: usize, queue: usize) -> (Rig, u64, Session) {
    let rig = rig(window, queue, LINGER);
    let first = rig.store(status(0));
    let mut session = rig.open(0).await;
    take(&mut session, &mut NoInbox, 2).await;
    (rig, first, session)
}
