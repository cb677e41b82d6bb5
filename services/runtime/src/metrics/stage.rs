//! The stage loop's metrics: commands in flight, workers, redeliveries, attempt durations
//! by outcome, errors by code, breaker trips, the oldest command in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use buildwire_schemas::Stage;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use super::{OUTCOMES, StageCodeLabels, StageLabel, StageOutcomeLabels, registry};

/// Error codes every stage can report (more appear when first seen).
const COMMON_CODES: [&str; 3] = ["INFRASTRUCTURE", "MAX_DELIVER", "INVALID_COMMAND"];

/// Error codes a stage reports besides [`COMMON_CODES`], whose series start at zero.
fn stage_codes(stage: Stage) -> &'static [&'static str] {
    match stage {
        Stage::Plan => &["LLM_UNAVAILABLE", "PLAN_INVALID", "PARENT_NOT_FOUND"],
        Stage::Execute => &["LLM_UNAVAILABLE", "TASK_INVALID", "INVALID_PATH", "NO_PLAN"],
        Stage::Build => &[
            "NPM_INSTALL_FAILED",
            "NPM_BUILD_FAILED",
            "BUILD_TIMEOUT",
            "SANDBOX_UNAVAILABLE",
            "NO_OUTPUT",
        ],
        Stage::Deploy => &["NO_ARTIFACTS", "DEPLOY_TIMEOUT"],
    }
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn stage_duration_histogram() -> Histogram {
    Histogram::new([
        0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0,
    ])
}

/// The stage loop's metrics (`buildwire_stage_*`, `buildwire_breaker_trips_total`).
#[derive(Debug)]
pub struct StageMetrics {
    /// Commands being worked on by this process, by stage.
    pub in_flight: Family<StageLabel, Gauge>,
    /// Stage worker loops running in this process (0 once drained).
    pub workers: Family<StageLabel, Gauge>,
    /// Deliveries after the first (retries, redeliveries after a dead worker).
    pub redeliveries: Family<StageLabel, Counter>,
    /// Seconds per attempt, by stage and outcome.
    pub duration: HistogramFamily<StageOutcomeLabels>,
    /// Failed attempts by stage and code (retried ones included).
    pub errors: Family<StageCodeLabels, Counter>,
    /// Users' circuits opened by a fatal failure this process recorded.
    pub breaker_trips: Counter,
    /// Age in seconds of the oldest command this process works on, by stage (0: none).
    pub oldest_in_flight: Family<StageLabel, Gauge<f64, AtomicU64>>,
    started: Mutex<HashMap<u64, (Stage, Instant)>>,
    next_id: AtomicU64,
}

pub(super) static STAGES: OnceLock<StageMetrics> = OnceLock::new();

/// The stage loop's metrics, registered on first use.
pub fn stages() -> &'static StageMetrics {
    STAGES.get_or_init(|| {
        let metrics = StageMetrics {
            in_flight: Family::default(),
            workers: Family::default(),
            redeliveries: Family::default(),
            duration: Family::new_with_constructor(stage_duration_histogram),
            errors: Family::default(),
            breaker_trips: Counter::default(),
            oldest_in_flight: Family::default(),
            started: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        };
        let mut registry = registry();
        registry.register(
            "stage_commands_in_flight",
            "Commands a stage worker process is working on",
            metrics.in_flight.clone(),
        );
        registry.register(
            "stage_workers",
            "Stage worker loops running in this process",
            metrics.workers.clone(),
        );
        registry.register(
            "stage_redeliveries",
            "Command deliveries after the first (retries and redeliveries)",
            metrics.redeliveries.clone(),
        );
        registry.register(
            "stage_duration_seconds",
            "Seconds per stage attempt, by stage and outcome",
            metrics.duration.clone(),
        );
        registry.register(
            "stage_errors",
            "Failed stage attempts by stage and error code",
            metrics.errors.clone(),
        );
        registry.register(
            "breaker_trips",
            "Users' circuits opened (a fatal failure reached the breaker's threshold)",
            metrics.breaker_trips.clone(),
        );
        registry.register(
            "stage_oldest_in_flight_seconds",
            "Age of the oldest command this process works on, by stage",
            metrics.oldest_in_flight.clone(),
        );
        metrics
    })
}

impl StageMetrics {
    /// Starts `stage`'s series at zero (called when its worker starts).
    pub fn init(&self, stage: Stage) {
        let label = StageLabel {
            stage: stage.as_str(),
        };
        let _ = self.in_flight.get_or_create(&label);
        let _ = self.workers.get_or_create(&label);
        let _ = self.redeliveries.get_or_create(&label);
        let _ = self.oldest_in_flight.get_or_create(&label);
        for outcome in OUTCOMES {
            let _ = self.duration.get_or_create(&StageOutcomeLabels {
                stage: stage.as_str(),
                outcome,
            });
        }
        for code in COMMON_CODES.iter().chain(stage_codes(stage)) {
            let _ = self.errors.get_or_create(&StageCodeLabels {
                stage: stage.as_str(),
                code: (*code).to_string(),
            });
        }
    }

    /// Counts delivery `attempt` of a `stage` command as in flight until the returned
    /// guard is dropped; [`InFlight::finish`] records its duration.
    pub fn begin(&'static self, stage: Stage, attempt: u64) -> InFlight {
        let label = StageLabel {
            stage: stage.as_str(),
        };
        if attempt > 1 {
            let _ = self.redeliveries.get_or_create(&label).inc();
        }
        let _ = self.in_flight.get_or_create(&label).inc();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        self.started_table().insert(id, (stage, started));
        InFlight {
            metrics: self,
            stage,
            id,
            started,
        }
    }

    /// Counts a failed attempt of `stage` with `code`.
    pub fn error(&self, stage: Stage, code: &str) {
        self.errors
            .get_or_create(&StageCodeLabels {
                stage: stage.as_str(),
                code: code.to_string(),
            })
            .inc();
    }

    /// Sets `stage_oldest_in_flight_seconds` from the commands in flight now.
    pub fn refresh_oldest(&self) {
        let mut oldest: HashMap<Stage, f64> = HashMap::new();
        for (stage, started) in self.started_table().values() {
            let age = started.elapsed().as_secs_f64();
            let entry = oldest.entry(*stage).or_insert(0.0);
            *entry = entry.max(age);
        }
        for stage in Stage::ALL {
            let label = StageLabel {
                stage: stage.as_str(),
            };
            match oldest.get(&stage) {
                Some(age) => {
                    let _ = self.oldest_in_flight.get_or_create(&label).set(*age);
                }
                None => {
                    // Only stages this process runs have a series.
                    if self.workers.get_or_create(&label).get() > 0 {
                        let _ = self.oldest_in_flight.get_or_create(&label).set(0.0);
                    }
                }
            }
        }
    }

    fn started_table(&self) -> MutexGuard<'_, HashMap<u64, (Stage, Instant)>> {
        self.started.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One command in flight (see [`StageMetrics::begin`]).
#[derive(Debug)]
pub struct InFlight {
    metrics: &'static StageMetrics,
    stage: Stage,
    id: u64,
    started: Instant,
}

impl InFlight {
    /// Records the attempt's duration under `outcome` (one of [`OUTCOMES`]).
    pub fn finish(self, outcome: &'static str) {
        self.metrics
            .duration
            .get_or_create(&StageOutcomeLabels {
                stage: self.stage.as_str(),
                outcome,
            })
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics
            .in_flight
            .get_or_create(&StageLabel {
                stage: self.stage.as_str(),
            })
            .dec();
        self.metrics.started_table().remove(&self.id);
    }
}
