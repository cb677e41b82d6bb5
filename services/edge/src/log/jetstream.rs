//! A build's events in `EVENTS`, read with JetStream's batch Direct Get (any replica
//! answers; no consumer is created). async-nats only has single-message Direct Get, so the
//! batch form is a plain request whose replies end with a 204 "EOB" status.
//!
//! A read after cursor `N` asks from `N` itself (`next_by_subj`): when the first reply is
//! `N`, the cursor is still stored and so is everything after it (JetStream deletes from
//! the front), which is how [`Since::complete`] is known without another request.

use std::time::Duration;

use async_nats::{Client, HeaderMap, StatusCode};
use buildwire_runtime::jetstream::stream::EVENTS;
use buildwire_runtime::jetstream::{NATS_SEQUENCE, NATS_TIME_STAMP, NUM_PENDING, header_u64};
use buildwire_schemas::subjects;
use futures::StreamExt;
use serde_json::json;

use super::{LogError, Position, Since, ask, build_log};
use crate::frame::{Frame, parse_timestamp};

/// How long one reply may take before the read is given up (NATS down, say).
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads `EVENTS` by build.
#[derive(Clone, Debug)]
pub struct JetStreamLog {
    client: Client,
    api: String,
}

fn nats(op: &'static str) -> impl FnOnce(async_nats::Error) -> LogError {
    move |source| LogError::Nats { op, source }
}

fn status(op: &'static str, message: &async_nats::Message) -> Option<LogError> {
    match message.status {
        None | Some(StatusCode::OK) => None,
        Some(status) => Some(LogError::Status {
            op,
            status: status.as_u16(),
            description: message.description.clone().unwrap_or_default(),
        }),
    }
}

fn frame(op: &'static str, message: &async_nats::Message) -> Result<Frame, LogError> {
    let headers = message.headers.as_ref();
    let seq = header_u64(headers, NATS_SEQUENCE).ok_or(LogError::Malformed { op })?;
    let stored_at = headers
        .and_then(|h| h.get(NATS_TIME_STAMP))
        .and_then(|v| parse_timestamp(v.as_str()));
    Ok(Frame::decode(seq, None, stored_at, &message.payload))
}

impl JetStreamLog {
    /// The log over `client`'s account.
    pub fn new(client: Client) -> JetStreamLog {
        JetStreamLog {
            client,
            api: format!("$JS.API.DIRECT.GET.{EVENTS}"),
        }
    }

    /// Up to `limit` messages of `build_id` from `seq` on (inclusive), and how many of the
    /// build's messages are stored after the last one.
    async fn batch(
        &self,
        build_id: &str,
        seq: u64,
        limit: usize,
    ) -> Result<(Vec<Frame>, u64), LogError> {
        const OP: &str = "batch direct get";
        let request = json!({
            "seq": seq.max(1),
            "batch": limit,
            "next_by_subj": subjects::events(build_id),
        });
        let inbox = self.client.new_inbox();
        let mut replies = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| nats(OP)(e.into()))?;
        self.client
            .publish_with_reply(self.api.clone(), inbox, request.to_string().into())
            .await
            .map_err(|e| nats(OP)(e.into()))?;
        let mut frames = Vec::new();
        let mut pending = 0;
        loop {
            let message = tokio::time::timeout(REPLY_TIMEOUT, replies.next())
                .await
                .map_err(|_| LogError::Timeout {
                    op: OP,
                    timeout: REPLY_TIMEOUT,
                })?
                .ok_or_else(|| nats(OP)("reply subscription closed".into()))?;
            // End of batch, or nothing stored from `seq` on.
            if message
                .status
                .is_some_and(|s| s.as_u16() == 204 || s == StatusCode::NOT_FOUND)
            {
                break;
            }
            if let Some(err) = status(OP, &message) {
                return Err(err);
            }
            pending = header_u64(message.headers.as_ref(), NUM_PENDING).unwrap_or(0);
            frames.push(frame(OP, &message)?);
            if frames.len() >= limit {
                break;
            }
        }
        let _ = replies.unsubscribe().await;
        Ok((frames, pending))
    }

    async fn one(
        &self,
        op: &'static str,
        request: serde_json::Value,
    ) -> Result<Option<(Frame, HeaderMap)>, LogError> {
        let message = tokio::time::timeout(
            REPLY_TIMEOUT,
            self.client
                .request(self.api.clone(), request.to_string().into()),
        )
        .await
        .map_err(|_| LogError::Timeout {
            op,
            timeout: REPLY_TIMEOUT,
        })?
        .map_err(|e| nats(op)(e.into()))?;
        if message.status == Some(StatusCode::NOT_FOUND) {
            return Ok(None);
        }
        if let Some(err) = status(op, &message) {
            return Err(err);
        }
        let headers = message.headers.clone().unwrap_or_default();
        Ok(Some((frame(op, &message)?, headers)))
    }

    /// The newest stored event of `build_id`, if any.
    pub async fn last(&self, build_id: &str) -> Result<Option<Frame>, LogError> {
        let request = json!({ "last_by_subj": subjects::events(build_id) });
        Ok(self
            .one("direct get last", request)
            .await?
            .map(|(frame, _)| frame))
    }

    /// The oldest stored event of `build_id` and its headers (the submitting user), if any.
    pub async fn first(&self, build_id: &str) -> Result<Option<(Frame, HeaderMap)>, LogError> {
        let request = json!({ "seq": 1, "next_by_subj": subjects::events(build_id) });
        self.one("direct get first", request).await
    }

    async fn newest(&self, build_id: &str) -> Result<Option<Position>, LogError> {
        Ok(self.last(build_id).await?.map(|f| Position::at(&f)))
    }

    async fn read(&self, build_id: &str, after: u64, limit: usize) -> Result<Since, LogError> {
        // From the cursor itself (see the module docs); from the start for cursor 0.
        let (frames, pending) = self.batch(build_id, after, ask(after, limit)).await?;
        // Nothing stored after the last reply: it is the newest, no `last` request needed.
        let newest = self.newest(build_id);
        Since::from_cursor(frames, pending == 0, after, limit, newest).await
    }
}

build_log!(JetStreamLog);
