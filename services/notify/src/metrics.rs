//! The notifier's Prometheus metrics (`buildwire_notify_` prefix). [`Metrics::shared`]
//! registers them once in the process's registry (`buildwire_runtime::metrics`), which
//! `buildwire notify` serves on `BUILDWIRE_METRICS_ADDR` and the edge appends to its own
//! `/metrics` in `buildwire up`; [`Metrics::new`] keeps a registry of its own (tests).
//! Either way every outcome and result series starts at zero ([`OUTCOMES`], [`RESULTS`]).

use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How a webhook can end (`outcome` label).
pub const OUTCOMES: [&str; 3] = ["delivered", "gone", "expired"];
/// What a POST can come to (`result` label).
pub const RESULTS: [&str; 6] = ["2xx", "410", "3xx", "4xx", "5xx", "error"];

/// `outcome="delivered"|"gone"|"expired"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// How one event's webhook ended.
    pub outcome: &'static str,
}

/// `result="2xx"|"410"|"4xx"|"5xx"|"3xx"|"error"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// What one POST came to.
    pub result: &'static str,
}

/// Every metric of one notifier.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Webhooks finished, by outcome: `delivered` (2xx), `gone` (410: not sent again),
    /// `expired` (no 2xx or 410 within the retry window).
    pub webhooks: Family<OutcomeLabel, Counter>,
    /// POSTs made, by result (`error`: no answer: refused, timed out, refused target).
    pub attempts: Family<ResultLabel, Counter>,
    /// Seconds from the event being stored to its webhook being delivered.
    pub delivery_latency: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Name and help of each family (under `buildwire_notify_`).
const WEBHOOKS: (&str, &str) = (
    "webhooks",
    "Webhooks finished, by outcome (delivered, gone, expired)",
);
const ATTEMPTS: (&str, &str) = (
    "webhook_attempts",
    "Webhook POSTs, by result (2xx, 410, 3xx, 4xx, 5xx, error)",
);
const LATENCY: (&str, &str) = (
    "delivery_latency_seconds",
    "Seconds from an event being stored to its webhook being delivered",
);

impl Metrics {
    /// The process's notifier metrics, registered (once) in the process's registry.
    pub fn shared() -> Metrics {
        static SHARED: OnceLock<Metrics> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let metrics = Metrics::new();
                let name = |(name, _): (&str, &str)| format!("notify_{name}");
                buildwire_runtime::metrics::register(
                    &name(WEBHOOKS),
                    WEBHOOKS.1,
                    metrics.webhooks.clone(),
                );
                buildwire_runtime::metrics::register(
                    &name(ATTEMPTS),
                    ATTEMPTS.1,
                    metrics.attempts.clone(),
                );
                buildwire_runtime::metrics::register(
                    &name(LATENCY),
                    LATENCY.1,
                    metrics.delivery_latency.clone(),
                );
                metrics
            })
            .clone()
    }

    /// Metrics in a registry of their own.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("buildwire_notify");
        let webhooks = Family::<OutcomeLabel, Counter>::default();
        let attempts = Family::<ResultLabel, Counter>::default();
        let delivery_latency = Histogram::new(exponential_buckets(0.005, 2.0, 18));
        for outcome in OUTCOMES {
            let _ = webhooks.get_or_create(&OutcomeLabel { outcome });
        }
        for result in RESULTS {
            let _ = attempts.get_or_create(&ResultLabel { result });
        }
        registry.register(WEBHOOKS.0, WEBHOOKS.1, webhooks.clone());
        registry.register(ATTEMPTS.0, ATTEMPTS.1, attempts.clone());
        registry.register(LATENCY.0, LATENCY.1, delivery_latency.clone());
        Metrics {
            registry: Arc::new(registry),
            webhooks,
            attempts,
            delivery_latency,
        }
    }

    /// Counts a finished webhook.
    pub fn finished(&self, outcome: &'static str) {
        self.webhooks.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// Counts one POST.
    pub fn attempted(&self, result: &'static str) {
        self.attempts.get_or_create(&ResultLabel { result }).inc();
    }

    /// How many webhooks ended with `outcome` so far.
    pub fn count(&self, outcome: &'static str) -> u64 {
        self.webhooks.get_or_create(&OutcomeLabel { outcome }).get()
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_starts_at_zero_in_the_process_registry() {
        let _ = Metrics::shared();
        let text = buildwire_runtime::metrics::render();
        for outcome in OUTCOMES {
            let line = format!("buildwire_notify_webhooks_total{{outcome=\"{outcome}\"}} 0");
            assert!(text.contains(&line), "{line} missing:\n{text}");
        }
        for result in RESULTS {
            let line = format!("buildwire_notify_webhook_attempts_total{{result=\"{result}\"}} 0");
            assert!(text.contains(&line), "{line} missing:\n{text}");
        }
        assert!(text.contains("buildwire_notify_delivery_latency_seconds_count 0"));
        assert!(text.ends_with("# EOF\n"));
        assert!(
            Metrics::new()
                .encode()
                .contains("buildwire_notify_webhooks_total{outcome=\"gone\"} 0")
        );
    }
}
