//! The edge's connection loop: accepts TCP connections and serves HTTP/1.1 on them with
//! hyper, handing each request to the poem app. It exists for what poem's own server
//! does not expose:
//!
//! - **A header timeout** (`BUILDWIRE_HEADER_TIMEOUT_SECS`): a request's head must arrive
//!   within it, counted from the connection's start or from the previous response, so a
//!   client trickling headers (slowloris) or idling on a keep-alive connection is closed.
//! - **A per-address cap** (`BUILDWIRE_MAX_CONNECTIONS_PER_ADDR`) on connections whose
//!   first request has not arrived yet: past it new connections from that address are
//!   closed at once, before anything is read, so one address cannot hold every socket.
//! - **A log line and a metric** for each of these, and for failed accepts (out of file
//!   descriptors), so a node under attack says so instead of going quiet.
//! - **`TCP_NODELAY`** on every socket: events are small writes sent one after another;
//!   with Nagle's algorithm a write waits for the peer's (delayed) ACK of the previous one.
//!
//! HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a proxy in front terminates,
//! and cleartext HTTP/2 would need version sniffing that has no deadline of its own.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, EndpointExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::Metrics;

/// How connections are guarded and how long shutdown waits for them.
#[derive(Clone, Copy, Debug)]
pub struct ListenOptions {
    /// A request head must arrive within this (and idle keep-alive connections close).
    pub header_timeout: Duration,
    /// Connections per client address before their first request; 0 is no cap.
    pub max_per_addr: u32,
    /// On shutdown, how long open connections may finish.
    pub grace: Duration,
}

/// A bound listener, not yet serving.
pub struct Listener {
    tcp: TcpListener,
    local: SocketAddr,
}

impl Listener {
    /// Binds `addr` (`host:port`).
    pub async fn bind(addr: &str) -> std::io::Result<Listener> {
        let tcp = TcpListener::bind(addr).await?;
        let local = tcp.local_addr()?;
        Ok(Listener { tcp, local })
    }

    /// The bound address (its real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves `endpoint` until `shutdown`, then lets open connections finish for
    /// `options.grace`.
    pub async fn serve<E>(
        self,
        endpoint: E,
        options: ListenOptions,
        shutdown: CancellationToken,
        metrics: Metrics,
    ) -> std::io::Result<()>
    where
        E: Endpoint + 'static,
    {
        let endpoint: Arc<poem::endpoint::BoxEndpoint<'static>> =
            Arc::new(endpoint.map_to_response().boxed());
        let slots = Arc::new(AddressSlots::new(options.max_per_addr));
        let guard = Arc::new(GuardLog::default());
        let connections = TaskTracker::new();
        loop {
            let accepted = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                accepted = self.tcp.accept() => accepted,
            };
            let (stream, remote) = match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // EMFILE and friends: say so, and give the node a moment to free some.
                    metrics.http_accept_errors.inc();
                    if let Some(more) = guard.accept_errors.hit() {
                        tracing::warn!(%err, more, "cannot accept connections");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(slot) = slots.take(remote.ip()) else {
                metrics.http_refused_address_cap.inc();
                if let Some(more) = guard.address_cap.hit() {
                    tracing::warn!(
                        address = %remote.ip(),
                        cap = options.max_per_addr,
                        more,
                        "too many connections without a request from one address; closing new ones"
                    );
                }
                continue;
            };
            if let Err(err) = stream.set_nodelay(true) {
                // The connection still works, only with Nagle's delays.
                tracing::debug!(%err, "TCP_NODELAY not set");
            }
            connections.spawn(connection(
                stream,
                self.local,
                remote,
                Arc::clone(&endpoint),
                slot,
                options.header_timeout,
                shutdown.clone(),
                (metrics.clone(), Arc::clone(&guard)),
            ));
        }
        connections.close();
        let _ = tokio::time::timeout(options.grace, connections.wait()).await;
        Ok(())
    }
}

/// Serves one connection until it ends, times out or the node shuts down.
#[allow(clippy::too_many_arguments)]
async fn connection(
    stream: TcpStream,
    local: SocketAddr,
    remote: SocketAddr,
    endpoint: Arc<poem::endpoint::BoxEndpoint<'static>>,
    slot: Slot,
    header_timeout: Duration,
    shutdown: CancellationToken,
    (metrics, guard): (Metrics, Arc<GuardLog>),
) {
    let slot = Arc::new(slot);
    let service = {
        let slot = Arc::clone(&slot);
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            // A request arrived: this connection no longer counts against its address.
            slot.release();
            let endpoint = Arc::clone(&endpoint);
            async move {
                let request = poem::Request::from((
                    request,
                    LocalAddr(Addr::SocketAddr(local)),
                    RemoteAddr(Addr::SocketAddr(remote)),
                    Scheme::HTTP,
                ));
                let response = endpoint.get_response(request).await;
                Ok::<_, Infallible>(hyper::Response::<BoxBody<Bytes, std::io::Error>>::from(
                    response,
                ))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    drop(slot);
    if let Err(err) = ended
        && err.is_timeout()
    {
        metrics.http_header_timeouts.inc();
        if let Some(more) = guard.header_timeouts.hit() {
            tracing::warn!(
                address = %remote.ip(),
                timeout_secs = header_timeout.as_secs(),
                more,
                "closed a connection that did not send a request head in time"
            );
        }
    }
}

/// Connections per address that have not sent a request yet.
struct AddressSlots {
    max: u32,
    open: Mutex<HashMap<IpAddr, u32>>,
}

impl AddressSlots {
    fn new(max: u32) -> AddressSlots {
        AddressSlots {
            max,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for `ip`, or `None` when it holds `max` already.
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        if self.max > 0 {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            let count = open.entry(ip).or_insert(0);
            if *count >= self.max {
                return None;
            }
            *count += 1;
        }
        Some(Slot {
            slots: Arc::clone(self),
            ip,
            released: AtomicBool::new(self.max == 0),
        })
    }

    fn give_back(&self, ip: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&ip);
            }
        }
    }
}

/// One connection's place under its address's cap, given back at its first request or
/// when it closes, whichever comes first.
struct Slot {
    slots: Arc<AddressSlots>,
    ip: IpAddr,
    released: AtomicBool,
}

impl Slot {
    fn release(&self) {
        if !self.released.swap(true, Ordering::AcqRel) {
            self.slots.give_back(self.ip);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.release();
    }
}

/// Rate of the guard's warnings: an attack of thousands of sockets logs a line every
/// ten seconds with how many more it saw, not a line per socket.
#[derive(Default)]
struct GuardLog {
    accept_errors: Throttle,
    address_cap: Throttle,
    header_timeouts: Throttle,
}

/// One warning per [`Throttle::EVERY`], counting the ones it swallowed.
#[derive(Default)]
struct Throttle {
    last: Mutex<Option<Instant>>,
    swallowed: AtomicU64,
}

impl Throttle {
    const EVERY: Duration = Duration::from_secs(10);

    /// `Some(swallowed since the last line)` when a line is due now.
    fn hit(&self) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < Self::EVERY) {
            self.swallowed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *last = Some(now);
        Some(self.swallowed.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_cap_and_a_slot_back_once_released_or_dropped() {
        let slots = Arc::new(AddressSlots::new(2));
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let first = slots.take(ip).expect("first");
        let second = slots.take(ip).expect("second");
        assert!(slots.take(ip).is_none(), "the cap holds");
        assert!(
            slots.take(other).is_some(),
            "other addresses are not affected"
        );
        first.release();
        first.release();
        let third = slots.take(ip).expect("a released slot is free again");
        assert!(
            slots.take(ip).is_none(),
            "a double release frees one slot only"
        );
        drop(first);
        assert!(
            slots.take(ip).is_none(),
            "dropping a released slot frees nothing"
        );
        drop((second, third));
        assert!(
            slots.open.lock().expect("lock").is_empty(),
            "nothing left behind"
        );
    }

    #[test]
    fn no_cap_counts_nothing() {
        let slots = Arc::new(AddressSlots::new(0));
        let held: Vec<Slot> = (0..1000)
            .filter_map(|_| slots.take([127, 0, 0, 1].into()))
            .collect();
        assert_eq!(held.len(), 1000);
        assert!(slots.open.lock().expect("lock").is_empty());
    }

    #[test]
    fn the_throttle_lets_one_line_through_and_counts_the_rest() {
        let throttle = Throttle::default();
        assert_eq!(throttle.hit(), Some(0));
        assert_eq!(throttle.hit(), None);
        assert_eq!(throttle.hit(), None);
        assert_eq!(throttle.swallowed.load(Ordering::Relaxed), 2);
    }
}
