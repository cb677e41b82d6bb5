//! The edge's Prometheus metrics (`GET /metrics`), with prometheus-client, rendered in the
//! OpenMetrics text format (served as `buildwire_runtime::metrics::CONTENT_TYPE`). Counter
//! names get `_total` from the encoder. Every labelled family starts with its series at
//! zero for each known label value ([`TRANSPORTS`], [`REFETCH_REASONS`], [`STARTS_FROM`],
//! [`LIMIT_SCOPES`], every event type), so rates and alerts see them before the first
//! increment.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Stream transports (`transport` label).
pub const TRANSPORTS: [&str; 2] = ["ws", "sse"];
/// Why a live feed read history again (`reason` label).
pub const REFETCH_REASONS: [&str; 3] = ["gap", "reconnect", "retry"];
/// Where a stream's catch-up came from (`from` label).
pub const STARTS_FROM: [&str; 2] = ["window", "history"];
/// Which limit refused (`scope` label).
pub const LIMIT_SCOPES: [&str; 5] = ["user", "global", "connect", "viewers_build", "viewers_user"];

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
        metrics.start_at_zero();
        Metrics {
            registry: Arc::new(registry),
            ..metrics
        }
    }

    /// Creates every known labelled series at zero.
    fn start_at_zero(&self) {
        for transport in TRANSPORTS {
            let label = TransportLabel { transport };
            let _ = self.connections.get_or_create(&label);
            let _ = self.connections_opened.get_or_create(&label);
            let _ = self.slow_viewer_closes.get_or_create(&label);
        }
        for r#type in buildwire_schemas::openapi::EVENT_TYPES {
            let _ = self.events_delivered.get_or_create(&TypeLabel { r#type });
        }
        for reason in REFETCH_REASONS {
            let _ = self.refetches.get_or_create(&ReasonLabel { reason });
        }
        for from in STARTS_FROM {
            let _ = self.stream_starts.get_or_create(&FromLabel { from });
        }
        for scope in LIMIT_SCOPES {
            let _ = self.rate_limited.get_or_create(&ScopeLabel { scope });
        }
    }

    /// The OpenMetrics text exposition of every metric, ending with `# EOF`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_labelled_series_starts_at_zero_in_openmetrics() {
        let text = Metrics::new().render();
        assert!(text.ends_with("# EOF\n"), "{text}");
        for line in [
            "buildwire_edge_connections{transport=\"ws\"} 0",
            "buildwire_edge_connections{transport=\"sse\"} 0",
            "buildwire_edge_connections_opened_total{transport=\"sse\"} 0",
            "buildwire_edge_slow_viewer_closes_total{transport=\"ws\"} 0",
            "buildwire_edge_sse_fallbacks_total 0",
            "buildwire_edge_events_delivered_total{type=\"complete\"} 0",
            "buildwire_edge_history_refetches_total{reason=\"gap\"} 0",
            "buildwire_edge_stream_starts_total{from=\"history\"} 0",
            "buildwire_edge_rate_limited_total{scope=\"viewers_build\"} 0",
            "buildwire_edge_circuit_open_refusals_total 0",
            "buildwire_edge_delivery_latency_seconds_count 0",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
        let merged = buildwire_runtime::metrics::merge(text);
        assert_eq!(merged.matches("# EOF").count(), 1);
    }
}
