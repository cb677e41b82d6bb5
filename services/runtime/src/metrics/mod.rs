//! Prometheus metrics of every buildwire process, with prometheus-client: one registry per
//! process (names under `buildwire_`), rendered in the OpenMetrics text format
//! ([`CONTENT_TYPE`]).
//!
//! Each group registers itself on first use, with its labelled series at zero, so a
//! process exposes what it runs: [`stages`] (the stage loop: commands in flight,
//! redeliveries, durations, errors, breaker trips), [`record`] (events stored, builds
//! finished, recorder lag), [`llm`] (tokens by provider) and [`queues`] (consumer info read
//! by [`sampler`]: queue depth per stage, the recorder's backlog).
//!
//! Serving: services without an HTTP server call [`serve`] on `BUILDWIRE_METRICS_ADDR`.
//! The edge serves its own registry (`buildwire_edge_*`) at `/metrics` and appends this
//! one with [`merge`], so `buildwire up` (every service in one process) has one endpoint
//! for all. Another crate adds a metric of its own with [`register`].
//!
//! Counting LLM tokens from provider code: `buildwire_runtime::metrics::llm().add(provider,
//! kind, tokens)` (`kind`: `input`, `output`, `cache_read`, `cache_creation`). The plan and
//! execute stages already count every `Delta::Usage` their provider streams.

pub mod sampler;
mod serve;
mod stage;

use std::sync::atomic::AtomicU64;
use std::sync::{LazyLock, Mutex, MutexGuard, OnceLock};

use buildwire_schemas::Stage;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

pub use serve::serve;
pub use stage::{InFlight, StageMetrics, stages};

/// The OpenMetrics text format's content type, which `/metrics` answers with.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Stage attempt outcomes (`outcome` label of the stage duration histogram).
pub const OUTCOMES: [&str; 5] = ["ok", "retry", "failed", "cancelled", "interrupted"];
/// Build outcomes (`outcome` label of `buildwire_builds_finished_total`).
pub const BUILD_OUTCOMES: [&str; 3] = ["completed", "failed", "cancelled"];
/// Token kinds (`kind` label of `buildwire_llm_tokens_total`).
pub const TOKEN_KINDS: [&str; 4] = ["input", "output", "cache_read", "cache_creation"];
/// The providers whose token series start at zero.
pub const PROVIDERS: [&str; 3] = ["anthropic", "openai", "offline"];
/// Event types the recorder stores (stream-only types such as `heartbeat` are never stored).
pub const STORED_TYPES: [&str; 22] = [
    "status",
    "plan_generated",
    "plan_failed",
    "task_started",
    "task_completed",
    "task_failed",
    "file_progress",
    "usage",
    "execute_failed",
    "build_started",
    "build_progress",
    "build_completed",
    "build_failed",
    "deploy_started",
    "deploy_progress",
    "deploy_completed",
    "deploy_failed",
    "deploy_log",
    "error",
    "complete",
    "failed",
    "cancelled",
];

static REGISTRY: LazyLock<Mutex<Registry>> =
    LazyLock::new(|| Mutex::new(Registry::with_prefix("buildwire")));

fn registry() -> MutexGuard<'static, Registry> {
    // A panic while registering leaves the registry usable: take it back.
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers `metric` as `buildwire_<name>` in this process's registry (a counter gets
/// `_total` from the encoder: do not end `name` with it). Register each name once.
pub fn register(name: &str, help: &str, metric: impl Metric) {
    registry().register(name, help, metric);
}

/// This process's metrics in the OpenMetrics text format, ending with `# EOF`.
pub fn render() -> String {
    let mut text = String::new();
    encode_into(&mut text);
    text.push_str("# EOF\n");
    text
}

/// Appends this process's metric families to `text` (an exposition of another registry,
/// with or without its `# EOF`) and ends it with one `# EOF`: the edge's `/metrics`
/// answers `merge(edge_metrics.render())`.
pub fn merge(text: String) -> String {
    let mut text = match text.strip_suffix("# EOF\n") {
        Some(head) => head.to_string(),
        None => text,
    };
    encode_into(&mut text);
    text.push_str("# EOF\n");
    text
}

fn encode_into(text: &mut String) {
    let before = text.len();
    if prometheus_client::encoding::text::encode_registry(text, &registry()).is_err() {
        text.truncate(before);
    }
}

/// `stage="plan"|...`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabel {
    /// The stage.
    pub stage: &'static str,
}

/// `stage`, `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageOutcomeLabels {
    /// The stage.
    pub stage: &'static str,
    /// How the attempt ended (one of [`OUTCOMES`]).
    pub outcome: &'static str,
}

/// `stage`, `code`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageCodeLabels {
    /// The stage.
    pub stage: &'static str,
    /// The error's machine-readable code.
    pub code: String,
}

/// `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// One of [`BUILD_OUTCOMES`].
    pub outcome: &'static str,
}

/// `type`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabel {
    /// The event's `type`.
    pub r#type: String,
}

/// `provider`, `kind`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// `anthropic`, `openai`, `offline`.
    pub provider: String,
    /// One of [`TOKEN_KINDS`].
    pub kind: &'static str,
}

/// The recorder's metrics (`buildwire_recorder_*`, `buildwire_builds_finished_total`).
#[derive(Debug)]
pub struct RecordMetrics {
    /// Builds that ended, by outcome: counted when the recorder first stores a terminal
    /// event (`complete`, `failed`, `cancelled`), so exactly once per build whoever ended
    /// it (a stage, the edge's cancel, the sweeper).
    pub builds_finished: Family<OutcomeLabel, Counter>,
    /// Events written to the database by type (replays that stored nothing not counted).
    pub events_stored: Family<TypeLabel, Counter>,
    /// Seconds between an event's creation and the recorder handling it; while the
    /// database is away, the age of the event it holds. 0 when it has nothing to do.
    pub lag_seconds: Gauge<f64, AtomicU64>,
    /// Seconds per database write (one event, one transaction).
    pub write_seconds: Histogram,
}

/// The recorder's metrics, registered on first use.
pub fn record() -> &'static RecordMetrics {
    static RECORD: OnceLock<RecordMetrics> = OnceLock::new();
    RECORD.get_or_init(|| {
        let metrics = RecordMetrics {
            builds_finished: Family::default(),
            events_stored: Family::default(),
            lag_seconds: Gauge::default(),
            write_seconds: Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
        };
        for kind in STORED_TYPES {
            let _ = metrics.events_stored.get_or_create(&TypeLabel {
                r#type: kind.to_string(),
            });
        }
        for outcome in BUILD_OUTCOMES {
            let _ = metrics
                .builds_finished
                .get_or_create(&OutcomeLabel { outcome });
        }
        let mut registry = registry();
        registry.register(
            "builds_finished",
            "Builds that ended, by outcome (completed, failed, cancelled)",
            metrics.builds_finished.clone(),
        );
        registry.register(
            "recorder_events_stored",
            "Events written to the database by type",
            metrics.events_stored.clone(),
        );
        registry.register(
            "recorder_lag_seconds",
            "Seconds between an event's creation and the recorder handling it (0 when idle)",
            metrics.lag_seconds.clone(),
        );
        registry.register(
            "recorder_write_seconds",
            "Seconds per database write of one event",
            metrics.write_seconds.clone(),
        );
        metrics
    })
}

impl RecordMetrics {
    /// Counts an event of type `kind` written to the database (and a finished build for a
    /// terminal one).
    pub fn stored(&self, kind: &str) {
        self.events_stored
            .get_or_create(&TypeLabel {
                r#type: kind.to_string(),
            })
            .inc();
        let outcome = match kind {
            "complete" => "completed",
            "failed" => "failed",
            "cancelled" => "cancelled",
            _ => return,
        };
        self.builds_finished
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }
}

/// LLM metrics (`buildwire_llm_tokens_total`).
#[derive(Debug)]
pub struct LlmMetrics {
    /// Tokens by provider and kind.
    pub tokens: Family<TokenLabels, Counter>,
}

/// The LLM metrics, registered on first use.
pub fn llm() -> &'static LlmMetrics {
    static LLM: OnceLock<LlmMetrics> = OnceLock::new();
    LLM.get_or_init(|| {
        let metrics = LlmMetrics {
            tokens: Family::default(),
        };
        for provider in PROVIDERS {
            for kind in TOKEN_KINDS {
                let _ = metrics.tokens.get_or_create(&TokenLabels {
                    provider: provider.to_string(),
                    kind,
                });
            }
        }
        registry().register(
            "llm_tokens",
            "LLM tokens by provider and kind (input, output, cache_read, cache_creation)",
            metrics.tokens.clone(),
        );
        metrics
    })
}

impl LlmMetrics {
    /// Adds `tokens` of `kind` (one of [`TOKEN_KINDS`]) used with `provider`.
    pub fn add(&self, provider: &str, kind: &'static str, tokens: u64) {
        if tokens > 0 {
            self.tokens
                .get_or_create(&TokenLabels {
                    provider: provider.to_string(),
                    kind,
                })
                .inc_by(tokens);
        }
    }
}

/// What the consumer-info sampler ([`sampler`]) sees (`buildwire_stage_queue_*`,
/// `buildwire_recorder_lag_messages`). Every process running a stage or the recorder
/// samples, so aggregate with `max by (stage)`.
#[derive(Debug)]
pub struct QueueMetrics {
    /// Commands waiting for a worker (`num_pending` of the stage's consumer).
    pub depth: Family<StageLabel, Gauge>,
    /// Commands delivered and not yet acknowledged, across every worker (`num_ack_pending`).
    pub unacked: Family<StageLabel, Gauge>,
    /// Pull requests waiting: idle worker slots across every worker (`num_waiting`).
    pub waiting_pulls: Family<StageLabel, Gauge>,
    /// Events the recorder has not acknowledged yet (`num_pending + num_ack_pending` of
    /// `EVENTS/record`).
    pub recorder_lag: Gauge,
}

/// The sampler's metrics, registered on first use.
pub fn queues() -> &'static QueueMetrics {
    static QUEUES: OnceLock<QueueMetrics> = OnceLock::new();
    QUEUES.get_or_init(|| {
        let metrics = QueueMetrics {
            depth: Family::default(),
            unacked: Family::default(),
            waiting_pulls: Family::default(),
            recorder_lag: Gauge::default(),
        };
        for stage in Stage::ALL {
            let label = StageLabel {
                stage: stage.as_str(),
            };
            let _ = metrics.depth.get_or_create(&label);
            let _ = metrics.unacked.get_or_create(&label);
            let _ = metrics.waiting_pulls.get_or_create(&label);
        }
        let mut registry = registry();
        registry.register(
            "stage_queue_depth",
            "Commands waiting for a worker, by stage (consumer info)",
            metrics.depth.clone(),
        );
        registry.register(
            "stage_unacked_commands",
            "Commands delivered to workers and not yet acknowledged, by stage (consumer info)",
            metrics.unacked.clone(),
        );
        registry.register(
            "stage_waiting_pulls",
            "Pull requests of idle worker slots, by stage (consumer info; 0 with no idle worker)",
            metrics.waiting_pulls.clone(),
        );
        registry.register(
            "recorder_lag_messages",
            "Events stored in JetStream that the recorder has not acknowledged yet",
            metrics.recorder_lag.clone(),
        );
        metrics
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_start_at_zero_and_merge_after_another_registry() {
        stages().init(Stage::Build);
        llm().add("anthropic", "input", 12);
        record();
        queues();
        let text = merge("# TYPE other_total counter\nother_total 1\n# EOF\n".into());
        assert!(text.starts_with("# TYPE other_total counter\nother_total 1\n"));
        assert!(text.ends_with("# EOF\n") && text.matches("# EOF").count() == 1);
        for line in [
            "buildwire_builds_finished_total{outcome=\"completed\"} 0",
            "buildwire_stage_commands_in_flight{stage=\"build\"} 0",
            "buildwire_stage_redeliveries_total{stage=\"build\"} 0",
            "buildwire_stage_errors_total{stage=\"build\",code=\"NPM_BUILD_FAILED\"} 0",
            "buildwire_stage_duration_seconds_count{stage=\"build\",outcome=\"failed\"} 0",
            "buildwire_breaker_trips_total 0",
            "buildwire_llm_tokens_total{provider=\"anthropic\",kind=\"input\"} 12",
            "buildwire_llm_tokens_total{provider=\"openai\",kind=\"output\"} 0",
            "buildwire_recorder_events_stored_total{type=\"build_progress\"} 0",
            "buildwire_stage_queue_depth{stage=\"deploy\"} 0",
            "buildwire_recorder_lag_messages 0",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }

    #[test]
    fn in_flight_commands_are_counted_until_finished() {
        let metrics = stages();
        metrics.init(Stage::Deploy);
        let label = StageLabel { stage: "deploy" };
        let first = metrics.begin(Stage::Deploy, 1);
        let second = metrics.begin(Stage::Deploy, 2);
        assert!(metrics.in_flight.get_or_create(&label).get() >= 2);
        metrics.refresh_oldest();
        assert!(metrics.oldest_in_flight.get_or_create(&label).get() >= 0.0);
        first.finish("ok");
        drop(second);
        assert!(metrics.redeliveries.get_or_create(&label).get() >= 1);
        let text = render();
        assert!(
            text.contains(
                "buildwire_stage_duration_seconds_count{stage=\"deploy\",outcome=\"ok\"} 1"
            ),
            "{text}"
        );
    }
}
