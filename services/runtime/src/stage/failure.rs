//! Turning a command that cannot be completed into a failed build, and catching commands
//! whose workers died on every delivery (the server's max-deliveries advisory).

use async_nats::jetstream;
use buildwire_schemas::{
    Event, EventBody, Stage, StageCommand,
    events::{ErrorSeverity, Failed, StageFailure},
    subjects,
};
use futures::StreamExt;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{Result, publish::Publisher};

/// Publishes `<stage>_failed` and the terminal `failed` for `build_id`. The `Nats-Msg-Id`s
/// are fixed per build and stage, so the worker and the advisory watcher reporting the same
/// failure store it once.
pub async fn fail_build(
    publisher: &Publisher,
    stage: Stage,
    build_id: &str,
    request_id: &str,
    failure: StageFailure,
    severity: ErrorSeverity,
) -> Result<()> {
    tracing::error!(%stage, code = %failure.code, error = %failure.error, attempts = failure.attempts, "stage failed; failing the build");
    let message = format!("{stage} failed: {}", failure.error);
    let terminal = Failed {
        stage,
        code: failure.code.clone(),
        message,
        severity,
    };
    let stage_event = Event::new(build_id, request_id, stage.failure_body(failure));
    publisher
        .event(&stage_event, &format!("{build_id}:{stage}:failed"))
        .await?;
    let terminal = Event::new(build_id, request_id, EventBody::Failed(terminal));
    publisher
        .event(&terminal, &format!("{build_id}:{stage}:failed:terminal"))
        .await?;
    Ok(())
}

#[derive(Deserialize)]
struct MaxDeliveries {
    stream_seq: u64,
    deliveries: u64,
}

/// Listens for the server's max-deliveries advisories of this stage's consumer (one worker
/// of the queue group takes each) and fails those builds: a command whose worker died on
/// every delivery never stalls silently.
pub(super) async fn watch_max_deliveries(
    nats: crate::nats::Nats,
    stage: Stage,
    stop: CancellationToken,
) -> Result<()> {
    let subject = format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.CMDS.{stage}");
    let mut advisories = nats
        .client
        .queue_subscribe(subject, format!("buildwire-{stage}-advisories"))
        .await
        .map_err(|e| crate::Error::JetStream {
            subject: "advisory".into(),
            reason: e.to_string(),
        })?;
    let publisher = Publisher::new(nats.js.clone());
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            m = advisories.next() => match m { Some(m) => m, None => return Ok(()) },
        };
        let Ok(advisory) = serde_json::from_slice::<MaxDeliveries>(&message.payload) else {
            tracing::warn!("unreadable max-deliveries advisory");
            continue;
        };
        if let Err(err) = fail_exhausted(&nats.js, &publisher, stage, &advisory).await {
            tracing::error!(%err, seq = advisory.stream_seq, "cannot fail a build whose command ran out of deliveries");
        }
    }
}

async fn fail_exhausted(
    js: &jetstream::Context,
    publisher: &Publisher,
    stage: Stage,
    advisory: &MaxDeliveries,
) -> Result<()> {
    let api = |e: String| crate::Error::JetStream {
        subject: "CMDS".into(),
        reason: e,
    };
    let stream = js
        .get_stream("CMDS")
        .await
        .map_err(|e| api(e.to_string()))?;
    let Ok(message) = stream.get_raw_message(advisory.stream_seq).await else {
        return Ok(()); // already handled and removed
    };
    crate::metrics::stages().error(stage, "MAX_DELIVER");
    let command: Option<StageCommand> = serde_json::from_slice(&message.payload).ok();
    let build_id = command
        .as_ref()
        .map(|c| c.build_id.clone())
        .or_else(|| subjects::build_id_of(&message.subject).map(str::to_string))
        .unwrap_or_default();
    let request_id = command
        .as_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_else(|| build_id.clone());
    let failure = StageFailure {
        code: "MAX_DELIVER".into(),
        error: format!(
            "gave up after {} deliveries: the worker stopped or timed out on each",
            advisory.deliveries
        ),
        retryable: true,
        attempts: advisory.deliveries,
    };
    // The failure belongs to the build's trace: a child of the command's context.
    let span = tracing::info_span!(
        "max deliveries",
        buildId = %build_id,
        requestId = %request_id,
        traceId = tracing::field::Empty,
    );
    crate::trace_context::adopt(&span, Some(&message.headers));
    fail_build(
        publisher,
        stage,
        &build_id,
        &request_id,
        failure,
        ErrorSeverity::Soft,
    )
    .instrument(span)
    .await?;
    stream
        .delete_message(advisory.stream_seq)
        .await
        .map_err(|e| api(e.to_string()))?;
    Ok(())
}
