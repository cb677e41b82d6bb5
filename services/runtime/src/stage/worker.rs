//! The pull loop: fetch one command per free slot, run the handler with in-progress acks,
//! then ack, back off, fail the build, or hand the command back.
//!
//! Each attempt runs in a span (`<stage> attempt`) whose parent is the trace context the
//! command carries (`traceparent`), and is counted in [`crate::metrics::stages`]: in
//! flight, redeliveries, duration by outcome, errors by code.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{self, AckKind};
use buildwire_schemas::{
    StageCommand,
    events::{ErrorSeverity, StageFailure},
    subjects,
};
use futures::StreamExt;
use tokio::{sync::Semaphore, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{CancelFlags, Job, StageError, StageHandler, failure};
use crate::metrics::{self, StageLabel};
use crate::{Config, Error, Result, delivery, nats::Nats, publish::Publisher};

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Commands worked on at once.
    pub concurrency: usize,
    /// After shutdown, how long in-flight handlers may finish before being interrupted.
    pub drain_timeout: Duration,
    /// After an interrupt, how long a handler may take to hand back before it is dropped.
    pub interrupt_grace: Duration,
    /// How long one pull waits for a command (also the worst delay before a shutdown is seen).
    pub pull_wait: Duration,
}

impl WorkerOptions {
    /// From the configuration.
    pub fn from_config(config: &Config) -> WorkerOptions {
        WorkerOptions {
            concurrency: config.stage_concurrency,
            drain_timeout: config.drain_timeout(),
            interrupt_grace: Duration::from_secs(2),
            pull_wait: Duration::from_secs(2),
        }
    }
}

/// Consumer settings the loop follows, read from the server.
#[derive(Clone, Debug)]
struct Limits {
    max_deliver: u64,
    backoff: Vec<Duration>,
    progress_every: Duration,
}

/// Runs `handler` on its stage's consumer until `shutdown`, then drains.
pub async fn run<H: StageHandler>(
    handler: H,
    nats: Nats,
    options: WorkerOptions,
    shutdown: CancellationToken,
) -> Result<()> {
    let stage = handler.stage();
    let api = |e: String| Error::JetStream {
        subject: format!("CMDS/{stage}"),
        reason: e,
    };
    let consumer: jetstream::consumer::PullConsumer = nats
        .js
        .get_stream("CMDS")
        .await
        .map_err(|e| api(e.to_string()))?
        .get_consumer(stage.as_str())
        .await
        .map_err(|e| api(e.to_string()))?;
    let config = consumer.cached_info().config.clone();
    let limits = Arc::new(Limits {
        max_deliver: u64::try_from(config.max_deliver).unwrap_or(u64::MAX),
        backoff: config.backoff.clone(),
        progress_every: delivery::keep_alive_period(&config),
    });

    let watcher_stop = CancellationToken::new();
    let mut watcher = tokio::spawn(failure::watch_max_deliveries(
        nats.clone(),
        stage,
        watcher_stop.clone(),
    ));
    let handler = Arc::new(handler);
    let publisher = Publisher::new(nats.js.clone());
    let flags = CancelFlags::open(&nats).await;
    let breaker = crate::breaker::Breaker::open(&nats).await;
    let slots = Arc::new(Semaphore::new(options.concurrency));
    let interrupt = CancellationToken::new();
    let mut tasks = JoinSet::new();
    metrics::stages().init(stage);
    metrics::sampler::start(&nats, shutdown.clone());
    let workers = metrics::stages().workers.get_or_create_owned(&StageLabel {
        stage: stage.as_str(),
    });
    workers.inc();
    tracing::info!(%stage, concurrency = options.concurrency, "stage worker started");

    while !shutdown.is_cancelled() {
        let slot = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot.map_err(|e| api(e.to_string()))?,
        };
        while tasks.try_join_next().is_some() {}
        // One pull per free slot: a command waits in NATS, not in this process, while
        // every slot is busy, so another worker can take it. Every wait on NATS also
        // watches for shutdown: with NATS away a pull can wait forever.
        let pulled = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            pulled = consumer.batch().max_messages(1).expires(options.pull_wait).messages() => pulled,
        };
        let mut batch = match pulled {
            Ok(batch) => batch,
            Err(err) => {
                tracing::warn!(%err, "pull failed; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
                continue;
            }
        };
        let mut slot = Some(slot);
        loop {
            let message = tokio::select! {
                biased;
                _ = shutdown.cancelled() => None,
                message = batch.next() => message,
            };
            let Some(message) = message else { break };
            match message {
                Ok(message) => match slot.take() {
                    Some(slot) => {
                        let job = process(
                            handler.clone(),
                            publisher.clone(),
                            flags.clone(),
                            breaker.clone(),
                            limits.clone(),
                            options.clone(),
                            interrupt.clone(),
                            message,
                        );
                        tasks.spawn(async move {
                            job.await;
                            drop(slot);
                        });
                    }
                    None => {
                        // More than asked for: give it back at once.
                        delivery::confirm(&message, AckKind::Nak(None), &interrupt).await;
                    }
                },
                Err(err) => tracing::debug!(%err, "pull ended"),
            }
        }
    }

    // The whole shutdown fits in the drain timeout, NATS reachable or not: in-flight work
    // may finish until the interrupt, which leaves room for handing commands back.
    // (A tiny drain timeout still gives handing back a second.)
    let deadline = tokio::time::Instant::now() + options.drain_timeout;
    let hand_back_room =
        (options.interrupt_grace + Duration::from_secs(1)).min(options.drain_timeout * 3 / 4);
    tracing::info!(%stage, in_flight = tasks.len(), "draining");
    let drained = tokio::time::timeout_at(deadline - hand_back_room, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(%stage, in_flight = tasks.len(), "drain timeout: handing in-flight commands back");
        interrupt.cancel();
        let hand_back_until = deadline.max(tokio::time::Instant::now() + Duration::from_secs(1));
        let handed_back = tokio::time::timeout_at(hand_back_until, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if handed_back.is_err() {
            // NATS does not answer: these come back to another worker after the ack wait.
            tracing::warn!(%stage, in_flight = tasks.len(), "could not hand every command back");
            tasks.abort_all();
        }
    }
    watcher_stop.cancel();
    if tokio::time::timeout(Duration::from_millis(500), &mut watcher)
        .await
        .is_err()
    {
        watcher.abort();
    }
    delivery::flush_before_exit(&nats.client).await;
    workers.dec();
    tracing::info!(%stage, "stage worker stopped");
    Ok(())
}

/// Works on one delivery from start to its final ack.
#[allow(clippy::too_many_arguments)]
async fn process<H: StageHandler>(
    handler: Arc<H>,
    publisher: Publisher,
    flags: CancelFlags,
    breaker: crate::breaker::Breaker,
    limits: Arc<Limits>,
    options: WorkerOptions,
    interrupt: CancellationToken,
    message: jetstream::Message,
) {
    let stage = handler.stage();
    let attempt = message
        .info()
        .map(|i| u64::try_from(i.delivered).unwrap_or(1))
        .unwrap_or(1);
    let message = Arc::new(message);
    let command: StageCommand = match serde_json::from_slice(&message.payload) {
        Ok(command) => command,
        Err(err) => {
            // A malformed command can never succeed: fail its build (the subject names it).
            let build_id = subjects::build_id_of(&message.subject)
                .unwrap_or_default()
                .to_string();
            let failure = StageFailure {
                code: "INVALID_COMMAND".into(),
                error: err.to_string(),
                retryable: false,
                attempts: attempt,
            };
            finish_failed(
                &publisher,
                &message,
                stage,
                (&build_id, &build_id),
                failure,
                ErrorSeverity::Fatal,
                &interrupt,
            )
            .await;
            return;
        }
    };
    let span = tracing::info_span!(
        "stage",
        otel.name = attempt_name(stage),
        attempt,
        buildId = %command.build_id,
        requestId = %command.request_id,
        traceId = tracing::field::Empty,
    );
    crate::trace_context::adopt(&span, message.headers.as_ref());
    async move {
        tracing::info!(%stage, attempt, "command received");
        let in_flight = metrics::stages().begin(stage, attempt);
        if flags.is_set(&command.build_id).await {
            tracing::info!(%stage, "build cancelled: dropping its command");
            delivery::confirm(&message, AckKind::Ack, &interrupt).await;
            in_flight.finish("cancelled");
            return;
        }
        let cancelled = CancellationToken::new();
        let done = CancellationToken::new();
        let _stop_watch = done.clone().drop_guard();
        tokio::spawn(flags.clone().watch(command.build_id.clone(), cancelled.clone(), done));
        let progress = tokio::spawn({
            let (message, every) = (message.clone(), limits.progress_every);
            async move { delivery::keep_alive(&message, every).await }
        });
        let (build_id, request_id) = (command.build_id.clone(), command.request_id.clone());
        let user_id = command.user_id.clone();
        let mut job = Job::new(
            command,
            attempt,
            stage,
            publisher.clone(),
            interrupt.clone(),
            cancelled.clone(),
        )
        .fenced_by(message.info().ok().map(|i| i.stream_sequence));
        let outcome = tokio::select! {
            outcome = handler.handle(&mut job) => outcome,
            _ = async { interrupt.cancelled().await; tokio::time::sleep(options.interrupt_grace).await } => Err(StageError::Interrupted),
        };
        progress.abort();
        let result = match &outcome {
            Ok(()) => "ok",
            Err(_) if cancelled.is_cancelled() => "cancelled",
            Err(StageError::Interrupted) => "interrupted",
            Err(StageError::Cancelled) => "cancelled",
            Err(StageError::Retryable { code, .. }) | Err(StageError::Fatal { code, .. }) => {
                metrics::stages().error(stage, code);
                let retried = matches!(outcome, Err(StageError::Retryable { .. }))
                    && attempt < limits.max_deliver;
                if retried { "retry" } else { "failed" }
            }
        };
        in_flight.finish(result);
        match outcome {
            Ok(()) => {
                tracing::info!(%stage, "command done");
                delivery::confirm(&message, AckKind::Ack, &interrupt).await;
            }
            Err(_) if cancelled.is_cancelled() => {
                tracing::info!(%stage, "build cancelled: command dropped");
                delivery::confirm(&message, AckKind::Ack, &interrupt).await;
            }
            Err(StageError::Interrupted) => {
                tracing::info!(%stage, "handing the command back");
                delivery::confirm(&message, AckKind::Nak(None), &interrupt).await;
            }
            Err(StageError::Retryable { code, message: error }) if attempt < limits.max_deliver => {
                let delay = backoff(&limits.backoff, attempt);
                tracing::warn!(%stage, %code, %error, attempt, ?delay, "attempt failed; will retry");
                delivery::confirm(&message, AckKind::Nak(Some(delay)), &interrupt).await;
            }
            Err(err) => match err.into_failure(attempt) {
                Some((failure, severity)) => {
                    if severity == ErrorSeverity::Fatal
                        && let Err(err) = breaker.record_fatal(&user_id, &build_id, chrono::Utc::now()).await
                    {
                        tracing::warn!(%err, "could not record the fatal failure for the circuit breaker");
                    }
                    finish_failed(&publisher, &message, stage, (&build_id, &request_id), failure, severity, &interrupt).await
                }
                None => {
                    delivery::confirm(&message, AckKind::Nak(None), &interrupt).await;
                }
            },
        }
    }
    .instrument(span)
    .await
}

/// Publishes the failure, then acks; if publishing fails the command is handed back so
/// the failure is reported by a later delivery or by the max-deliveries watcher.
async fn finish_failed(
    publisher: &Publisher,
    message: &jetstream::Message,
    stage: buildwire_schemas::Stage,
    (build_id, request_id): (&str, &str),
    failure: StageFailure,
    severity: ErrorSeverity,
    give_up: &CancellationToken,
) {
    match failure::fail_build(publisher, stage, build_id, request_id, failure, severity).await {
        Ok(()) => {
            delivery::confirm(message, AckKind::Ack, give_up).await;
        }
        Err(err) => {
            tracing::error!(%err, "cannot publish the failure; handing the command back");
            delivery::confirm(message, AckKind::Nak(Some(Duration::from_secs(1))), give_up).await;
        }
    }
}

/// The span name of one attempt of `stage`.
fn attempt_name(stage: buildwire_schemas::Stage) -> &'static str {
    match stage {
        buildwire_schemas::Stage::Plan => "plan attempt",
        buildwire_schemas::Stage::Execute => "execute attempt",
        buildwire_schemas::Stage::Build => "build attempt",
        buildwire_schemas::Stage::Deploy => "deploy attempt",
    }
}

fn backoff(steps: &[Duration], attempt: u64) -> Duration {
    let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
    steps
        .get(index)
        .or(steps.last())
        .copied()
        .unwrap_or_else(|| Duration::from_secs(1 << attempt.min(6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_consumer_then_doubles() {
        let steps = [Duration::from_secs(1), Duration::from_secs(5)];
        assert_eq!(backoff(&steps, 1), Duration::from_secs(1));
        assert_eq!(backoff(&steps, 2), Duration::from_secs(5));
        assert_eq!(backoff(&steps, 9), Duration::from_secs(5));
        assert_eq!(backoff(&[], 1), Duration::from_secs(2));
        assert_eq!(backoff(&[], 40), Duration::from_secs(64));
    }
}
