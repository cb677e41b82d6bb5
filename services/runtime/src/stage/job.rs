//! One delivery of a command to a handler: what it may publish and how it learns to stop.

use buildwire_schemas::{Event, EventBody, Stage, StageCommand};
use tokio_util::sync::CancellationToken;

use super::StageError;
use crate::publish::{Published, Publisher};

/// A command being worked on, with the publishing it may do.
#[derive(Debug)]
pub struct Job {
    /// The work order.
    pub command: StageCommand,
    /// Which delivery this is (1 for the first).
    pub attempt: u64,
    stage: Stage,
    publisher: Publisher,
    emitted: u64,
    interrupted: CancellationToken,
    cancelled: CancellationToken,
    command_seq: Option<u64>,
}

impl Job {
    pub(super) fn new(
        command: StageCommand,
        attempt: u64,
        stage: Stage,
        publisher: Publisher,
        interrupted: CancellationToken,
        cancelled: CancellationToken,
    ) -> Job {
        Job {
            command,
            attempt,
            stage,
            publisher,
            emitted: 0,
            interrupted,
            cancelled,
            command_seq: None,
        }
    }

    /// Fences this delivery by its command's sequence in `CMDS` (see [`Job::emit`]).
    pub(super) fn fenced_by(mut self, command_seq: Option<u64>) -> Job {
        self.command_seq = command_seq;
        self
    }

    /// Refuses once another delivery of this command finished it: in a work queue an acked
    /// command is gone. That happens when in-progress acks were lost (a NATS leader change
    /// outlasting the ack wait) and the command was redelivered while this attempt still
    /// ran; the other attempt then moved the build on, and what this one published would
    /// land after the build's end. Fires [`Job::cancelled`] so the handler stops its work.
    async fn still_queued(&self) -> Result<(), StageError> {
        if self.cancelled.is_cancelled() {
            return Err(StageError::Cancelled);
        }
        let Some(seq) = self.command_seq else {
            return Ok(());
        };
        if self.publisher.command_gone(seq).await {
            tracing::warn!(
                stage = %self.stage,
                attempt = self.attempt,
                "another delivery of this command finished it: this attempt stops"
            );
            self.cancelled.cancel();
            return Err(StageError::Cancelled);
        }
        Ok(())
    }

    /// Publishes an event of this build. Its `Nats-Msg-Id` is
    /// `<buildId>:<stage>:<n>` for the n-th event of this handler run, so a retried attempt
    /// that emits the same sequence of events stores each once. Refused
    /// ([`StageError::Cancelled`]) once the build is cancelled or another delivery of the
    /// command finished it.
    pub async fn emit(&mut self, body: EventBody) -> Result<Published, StageError> {
        self.still_queued().await?;
        self.emitted += 1;
        let event = Event::new(&self.command.build_id, &self.command.request_id, body);
        let msg_id = format!("{}:{}:{}", self.command.build_id, self.stage, self.emitted);
        let published = self.publisher.event(&event, &msg_id).await?;
        tracing::debug!(
            seq = published.seq,
            duplicate = published.duplicate,
            r#type = event.type_name(),
            "event"
        );
        Ok(published)
    }

    /// Publishes an event under a caller-chosen key: `Nats-Msg-Id` `<buildId>:<stage>:<key>`.
    /// For events whose count depends on timing (batched log lines), keyed by content
    /// position (`log:<first line offset>`) so a retried attempt does not store a batch
    /// twice.
    pub async fn emit_keyed(
        &mut self,
        key: &str,
        body: EventBody,
    ) -> Result<Published, StageError> {
        self.still_queued().await?;
        let event = Event::new(&self.command.build_id, &self.command.request_id, body);
        let msg_id = format!("{}:{}:{key}", self.command.build_id, self.stage);
        Ok(self.publisher.event(&event, &msg_id).await?)
    }

    /// Hands the build to `next` with `command`; stored once however often it is retried.
    pub async fn forward(
        &mut self,
        next: Stage,
        command: &StageCommand,
    ) -> Result<Published, StageError> {
        self.still_queued().await?;
        let msg_id = format!("{}:{}:cmd:{}", command.build_id, self.stage, next);
        Ok(self.publisher.command(next, command, &msg_id).await?)
    }

    /// Fires when the worker must hand the command back (drain timeout after SIGTERM).
    pub fn interrupted(&self) -> &CancellationToken {
        &self.interrupted
    }

    /// Fires when the build is cancelled (or another delivery of the command finished it):
    /// stop, kill what runs, return [`StageError::Cancelled`]. Emitting and forwarding
    /// refuse from then on.
    pub fn cancelled(&self) -> &CancellationToken {
        &self.cancelled
    }

    /// The stage doing the work.
    pub fn stage(&self) -> Stage {
        self.stage
    }
}
