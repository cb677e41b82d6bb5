//! Publishing build events and stage commands to JetStream, each with a `Nats-Msg-Id` so a
//! retried publisher is stored once (the streams' `duplicate_window` is 15 minutes), and
//! the current span's W3C trace context (`traceparent`, [`crate::trace_context`]).

use async_nats::{HeaderMap, jetstream};
use buildwire_schemas::{Event, Stage, StageCommand, subjects};

use crate::{Error, Result};

/// Where a publish landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Published {
    /// The stream sequence (the original's, for a duplicate).
    pub seq: u64,
    /// Whether the stream already had this `Nats-Msg-Id` and stored nothing.
    pub duplicate: bool,
}

/// Publishes events and commands, waiting for the stream's acknowledgement.
#[derive(Clone, Debug)]
pub struct Publisher {
    js: jetstream::Context,
}

impl Publisher {
    /// A publisher on `js`.
    pub fn new(js: jetstream::Context) -> Publisher {
        Publisher { js }
    }

    /// Whether the command stored at `seq` in `CMDS` is gone (acked: a work queue keeps
    /// only what is not done). Anything but a clear "no such message" within a second
    /// (NATS away, a leader election) answers false.
    pub async fn command_gone(&self, seq: u64) -> bool {
        let lookup = async {
            let stream = self
                .js
                .get_stream_no_info(crate::jetstream::stream::CMDS)
                .await
                .ok()?;
            Some(stream.get_raw_message(seq).await)
        };
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(1), lookup).await,
            Ok(Some(Err(err)))
                if err.kind() == jetstream::stream::RawMessageErrorKind::NoMessageFound
        )
    }

    /// Stores `event` on `build.<id>.events` under `msg_id`.
    pub async fn event(&self, event: &Event, msg_id: &str) -> Result<Published> {
        self.event_with_headers(event, msg_id, HeaderMap::new())
            .await
    }

    /// [`Publisher::event`] with extra headers stored beside the event (metadata for
    /// services, such as the submitting user, that browsers never receive).
    pub async fn event_with_headers(
        &self,
        event: &Event,
        msg_id: &str,
        headers: HeaderMap,
    ) -> Result<Published> {
        let subject = subjects::events(&event.build_id);
        self.send(subject, serde_json::to_vec(event)?, msg_id, headers)
            .await
    }

    /// Stores `command` on `build.<id>.cmd.<stage>` under `msg_id`.
    pub async fn command(
        &self,
        stage: Stage,
        command: &StageCommand,
        msg_id: &str,
    ) -> Result<Published> {
        let subject = subjects::command(&command.build_id, stage);
        self.send(
            subject,
            serde_json::to_vec(command)?,
            msg_id,
            HeaderMap::new(),
        )
        .await
    }

    async fn send(
        &self,
        subject: String,
        payload: Vec<u8>,
        msg_id: &str,
        mut headers: HeaderMap,
    ) -> Result<Published> {
        let failed = |reason: String| Error::Publish {
            subject: subject.clone(),
            reason,
        };
        headers.insert(crate::jetstream::NATS_MESSAGE_ID, msg_id);
        // W3C trace context of the current span: one build is one trace across services.
        crate::trace_context::inject(&mut headers);
        let ack = self
            .js
            .publish_with_headers(subject.clone(), headers, payload.into())
            .await
            .map_err(|e| failed(e.to_string()))?
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(Published {
            seq: ack.sequence,
            duplicate: ack.duplicate,
        })
    }
}
