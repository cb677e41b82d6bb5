//! The sweeper: ends builds that were announced but never started.
//!
//! The edge stores a build's `QUEUED` event, then its plan command. When NATS fails in
//! between (the `QUEUED` publish buffered by the client and stored once NATS is back, the
//! command never sent), the build would sit in `queued` forever with viewers waiting. The
//! sweeper looks, every [`SweepOptions::every`], for builds whose progress is still
//! `queued` after [`SweepOptions::grace`], and fails each one that has no command in
//! `CMDS` and no event after its `QUEUED` (`plan_failed` and `failed` with code
//! `SUBMISSION_LOST`, retryable), so its viewers and the main app learn it ended. The
//! `Nats-Msg-Id`s are fixed per build, so several sweepers report it once.

use std::time::Duration;

use buildwire_runtime::{nats::Nats, publish::Publisher, stage::fail_build};
use buildwire_schemas::{
    Event, EventBody, Stage,
    events::{ErrorSeverity, StageFailure},
    subjects,
};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::Store;

/// The code of the failure the sweeper reports.
pub const SUBMISSION_LOST: &str = "SUBMISSION_LOST";
/// Builds looked at per round.
const BATCH: u64 = 100;

/// How often the sweeper looks and how old a `queued` build must be.
#[derive(Clone, Copy, Debug)]
pub struct SweepOptions {
    /// Time between rounds.
    pub every: Duration,
    /// How long a build may stay `queued` with nothing after it before it counts as lost.
    pub grace: Duration,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            every: Duration::from_secs(15),
            grace: Duration::from_secs(60),
        }
    }
}

/// Sweeps until `shutdown`. Errors of a round are logged; the next round tries again.
pub async fn run(nats: Nats, store: Store, options: SweepOptions, shutdown: CancellationToken) {
    let publisher = Publisher::new(nats.js.clone());
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(options.every) => {}
        }
        match round(&nats, &store, &publisher, options.grace).await {
            Ok(0) => {}
            Ok(failed) => tracing::warn!(failed, "ended builds that were queued but never started"),
            Err(err) => tracing::warn!(%err, "sweep round failed; trying again next round"),
        }
    }
}

/// One round: the number of builds it failed.
pub async fn round(
    nats: &Nats,
    store: &Store,
    publisher: &Publisher,
    grace: Duration,
) -> Result<usize, String> {
    let cutoff =
        chrono::Utc::now() - chrono::Duration::from_std(grace).map_err(|e| e.to_string())?;
    let candidates = store
        .stale_queued(cutoff, BATCH)
        .await
        .map_err(|e| e.to_string())?;
    let mut failed = 0;
    for (build_id, last_seq) in candidates {
        if let Some(queued) = lost(nats, &build_id, last_seq).await? {
            let failure = StageFailure {
                code: SUBMISSION_LOST.into(),
                error: "the build was accepted while NATS was unavailable and never started; submit it again".into(),
                retryable: true,
                attempts: 0,
            };
            fail_build(
                publisher,
                Stage::Plan,
                &build_id,
                &queued.request_id,
                failure,
                ErrorSeverity::Soft,
            )
            .await
            .map_err(|e| e.to_string())?;
            failed += 1;
        }
    }
    Ok(failed)
}

/// The build's `QUEUED` event when it is lost: still its last event in `EVENTS` (the
/// database may lag) and no command of it waits in `CMDS`.
async fn lost(nats: &Nats, build_id: &str, last_seq: u64) -> Result<Option<Event>, String> {
    let events = nats
        .js
        .get_stream("EVENTS")
        .await
        .map_err(|e| e.to_string())?;
    let last = match events
        .direct_get_last_for_subject(subjects::events(build_id))
        .await
    {
        Ok(last) => last,
        // Gone from the stream (purged): nothing to end any more.
        Err(_) => return Ok(None),
    };
    if last.sequence != last_seq {
        return Ok(None);
    }
    let Ok(event) = serde_json::from_slice::<Event>(&last.payload) else {
        return Ok(None);
    };
    if !matches!(event.body, EventBody::Status(_)) {
        return Ok(None);
    }
    let commands = nats
        .js
        .get_stream("CMDS")
        .await
        .map_err(|e| e.to_string())?;
    let filter = format!("build.{build_id}.cmd.*");
    let info = commands
        .info_with_subjects(filter)
        .await
        .map_err(|e| e.to_string())?;
    let pending: Vec<_> = info.collect().await;
    if pending.iter().any(Result::is_ok) {
        return Ok(None);
    }
    if let Some(Err(err)) = pending.into_iter().next() {
        return Err(err.to_string());
    }
    Ok(Some(event))
}
