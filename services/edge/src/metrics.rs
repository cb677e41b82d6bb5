//! The edge's Prometheus metrics (`GET /metrics`), with prometheus-client. Counter names
//! get `_total` from the encoder.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `transport="ws"|"sse"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabel {
    /// The stream transport.
    pub transport: &'static str,
}

/// `type="<event type>"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabel {
    /// The event's `type`.
    pub r#type: &'static str,
}

/// `reason="gap"|"reconnect"|"retry"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Why history was refetched.
    pub reason: &'static str,
}

/// `scope="user"|"global"|"connect"|"viewers_build"|"viewers_user"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScopeLabel {
    /// Which limit refused.
    pub scope: &'static str,
}

/// `from="window"|"history"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FromLabel {
    /// Where a stream's first events came from: the feed's window in memory, or history.
    pub from: &'static str,
}

/// Every metric of one edge node.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Open streams by transport.
    pub connections: Family<TransportLabel, Gauge>,
    /// Streams opened by transport.
    pub connections_opened: Family<TransportLabel, Counter>,
    /// Events written to clients, by type.
    pub events_delivered: Family<TypeLabel, Counter>,
    /// Seconds from JetStream storing an event to the edge writing it to a live client.
    pub delivery_latency: Histogram,
    /// Streams closed because the client read too slowly.
    pub slow_viewer_closes: Family<TransportLabel, Counter>,
    /// SSE streams opened by the browser client after a WebSocket handshake failed.
    pub sse_fallbacks: Counter,
    /// History refetches of live feeds, by reason.
    pub refetches: Family<ReasonLabel, Counter>,
    /// Builds with a live subscription on this node (lingering ones included).
    pub feeds: Gauge,
    /// Streams opened (and WebSocket resumes), by where their catch-up came from.
    pub stream_starts: Family<FromLabel, Counter>,
    /// Builds accepted by `POST /v1/builds` and `POST /build-preview`.
    pub builds_submitted: Counter,
    /// Refusals by rate limits and stream quotas, by scope.
    pub rate_limited: Family<ScopeLabel, Counter>,
    /// Submissions refused because the user's circuit was open.
    pub circuit_open_refusals: Counter,
    /// Connections closed at accept: their address held its cap of request-less ones.
    pub http_refused_address_cap: Counter,
    /// Connections closed because a request head did not arrive in time (slowloris, idle).
    pub http_header_timeouts: Counter,
    /// Failed accepts (out of file descriptors, ...).
    pub http_accept_errors: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered under `buildwire_edge_`.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("buildwire_edge");
        let metrics = Metrics {
            registry: Arc::new(Registry::default()),
            connections: Family::default(),
            connections_opened: Family::default(),
            events_delivered: Family::default(),
            delivery_latency: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            slow_viewer_closes: Family::default(),
            sse_fallbacks: Counter::default(),
            refetches: Family::default(),
            feeds: Gauge::default(),
            stream_starts: Family::default(),
            builds_submitted: Counter::default(),
            rate_limited: Family::default(),
            circuit_open_refusals: Counter::default(),
            http_refused_address_cap: Counter::default(),
            http_header_timeouts: Counter::default(),
            http_accept_errors: Counter::default(),
        };
        registry.register(
            "http_refused_address_cap",
            "Connections closed at accept because their address held its cap of connections without a request",
            metrics.http_refused_address_cap.clone(),
        );
        registry.register(
            "http_header_timeouts",
            "Connections closed because a request head did not arrive within the header timeout",
            metrics.http_header_timeouts.clone(),
        );
        registry.register(
            "http_accept_errors",
            "Failed TCP accepts (for example out of file descriptors)",
            metrics.http_accept_errors.clone(),
        );
        registry.register(
            "connections",
            "Open event streams by transport",
            metrics.connections.clone(),
        );
        registry.register(
            "connections_opened",
            "Event streams opened by transport",
            metrics.connections_opened.clone(),
        );
        registry.register(
            "events_delivered",
            "Events written to clients by type",
            metrics.events_delivered.clone(),
        );
        registry.register(
            "delivery_latency_seconds",
            "Seconds from JetStream storing an event to the edge writing it to a live client",
            metrics.delivery_latency.clone(),
        );
        registry.register(
            "slow_viewer_closes",
            "Streams closed because the client read too slowly",
            metrics.slow_viewer_closes.clone(),
        );
        registry.register(
            "sse_fallbacks",
            "SSE streams opened after a WebSocket handshake failed (?fallback=1)",
            metrics.sse_fallbacks.clone(),
        );
        registry.register(
            "history_refetches",
            "Live-feed refetches from history by reason",
            metrics.refetches.clone(),
        );
        registry.register(
            "live_builds",
            "Builds with a live subscription on this node",
            metrics.feeds.clone(),
        );
        registry.register(
            "stream_starts",
            "Streams opened or resumed, by where catch-up came from: the feed's window in memory or history (JetStream, the database)",
            metrics.stream_starts.clone(),
        );
        registry.register(
            "builds_submitted",
            "Builds accepted by the API",
            metrics.builds_submitted.clone(),
        );
        registry.register(
            "rate_limited",
            "Refusals by rate limits and stream quotas, by scope",
            metrics.rate_limited.clone(),
        );
        registry.register(
            "circuit_open_refusals",
            "Submissions refused because the user's circuit was open (breaker trips seen)",
            metrics.circuit_open_refusals.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            ..metrics
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }

    /// Counts one event written to a client (and its latency, when it came live).
    pub fn delivered(&self, frame: &crate::frame::Frame, live: bool) {
        self.events_delivered
            .get_or_create(&TypeLabel {
                r#type: frame.type_name(),
            })
            .inc();
        if live && let Some(stored_at) = frame.stored_at {
            let elapsed = chrono::Utc::now() - stored_at;
            if let Ok(elapsed) = elapsed.to_std() {
                self.delivery_latency.observe(elapsed.as_secs_f64());
            }
        }
    }
}

/// Counts a stream as open until dropped.
pub struct ConnectionGuard {
    gauge: Gauge,
}

impl ConnectionGuard {
    /// Counts a new stream of `transport`.
    pub fn open(metrics: &Metrics, transport: &'static str) -> ConnectionGuard {
        let label = TransportLabel { transport };
        metrics.connections_opened.get_or_create(&label).inc();
        let gauge = metrics.connections.get_or_create(&label).clone();
        gauge.inc();
        ConnectionGuard { gauge }
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}
