//! A build's stored history, read with JetStream's batch Direct Get on `EVENTS` (any
//! replica answers; no consumer is created). async-nats only has single-message Direct
//! Get, so the batch form is a plain request whose replies end with a 204 "EOB" status.

use std::time::Duration;

use async_nats::{Client, HeaderMap, StatusCode};
use buildwire_schemas::subjects;
use futures::StreamExt;
use serde_json::json;

use crate::frame::{Frame, parse_timestamp};

/// The stream every build's events live in.
pub const STREAM: &str = "EVENTS";
/// Most messages one batch request asks for.
pub const MAX_BATCH: usize = 1000;
/// How long one reply may take before the read is given up (NATS down, say).
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// NATS did not answer in time or refused the request.
    #[error("reading build history from JetStream failed: {0}")]
    Unavailable(String),
}

/// A page of a build's history.
#[derive(Debug, Default)]
pub struct Page {
    /// Frames in sequence order.
    pub frames: Vec<Frame>,
    /// Messages of the build still stored after the last frame.
    pub pending: u64,
}

/// Reads `EVENTS` by build.
#[derive(Clone, Debug)]
pub struct History {
    client: Client,
    api: String,
}

/// A numeric header (`Nats-Sequence`, `Nats-Last-Sequence`, `Nats-Num-Pending`).
pub(crate) fn header_u64(headers: Option<&HeaderMap>, name: &str) -> Option<u64> {
    headers?.get(name)?.as_str().parse().ok()
}

impl History {
    /// History over `client`'s account.
    pub fn new(client: Client) -> History {
        History {
            client,
            api: format!("$JS.API.DIRECT.GET.{STREAM}"),
        }
    }

    /// Up to `limit` events of `build_id` with `seq > after`, oldest first.
    pub async fn after(
        &self,
        build_id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Page, HistoryError> {
        let limit = limit.clamp(1, MAX_BATCH);
        let request = json!({
            "seq": after + 1,
            "batch": limit,
            "next_by_subj": subjects::events(build_id),
        });
        let unavailable = |e: &dyn std::fmt::Display| HistoryError::Unavailable(e.to_string());
        let inbox = self.client.new_inbox();
        let mut replies = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        self.client
            .publish_with_reply(self.api.clone(), inbox, request.to_string().into())
            .await
            .map_err(|e| unavailable(&e))?;
        let mut page = Page::default();
        loop {
            let message = tokio::time::timeout(REPLY_TIMEOUT, replies.next())
                .await
                .map_err(|_| unavailable(&"no reply within 5 s"))?
                .ok_or_else(|| unavailable(&"reply subscription closed"))?;
            match message.status {
                None | Some(StatusCode::OK) => {}
                // End of batch, or nothing stored after `after`.
                Some(status) if status.as_u16() == 204 || status == StatusCode::NOT_FOUND => {
                    break;
                }
                Some(status) => {
                    let reason = message.description.unwrap_or_default();
                    return Err(unavailable(&format!("status {status} {reason}")));
                }
            }
            let headers = message.headers.as_ref();
            let Some(seq) = header_u64(headers, "Nats-Sequence") else {
                return Err(unavailable(&"a reply without Nats-Sequence"));
            };
            page.pending = header_u64(headers, "Nats-Num-Pending").unwrap_or(0);
            let stored_at = headers
                .and_then(|h| h.get("Nats-Time-Stamp"))
                .and_then(|v| parse_timestamp(v.as_str()));
            page.frames
                .push(Frame::decode(seq, None, stored_at, &message.payload));
            if page.frames.len() >= limit {
                break;
            }
        }
        let _ = replies.unsubscribe().await;
        Ok(page)
    }

    /// Every event of `build_id` after `after` (pages of [`MAX_BATCH`]).
    pub async fn all_after(&self, build_id: &str, after: u64) -> Result<Vec<Frame>, HistoryError> {
        let mut frames = Vec::new();
        let mut cursor = after;
        loop {
            let page = self.after(build_id, cursor, MAX_BATCH).await?;
            let Some(last) = page.frames.last() else {
                return Ok(frames);
            };
            cursor = last.seq;
            let done = page.pending == 0;
            frames.extend(page.frames);
            if done {
                return Ok(frames);
            }
        }
    }

    /// The newest stored message of `build_id` (sequence and headers), if any.
    pub async fn last(&self, build_id: &str) -> Result<Option<Frame>, HistoryError> {
        let request = json!({ "last_by_subj": subjects::events(build_id) });
        Ok(self.one(request).await?.map(|(frame, _)| frame))
    }

    /// The oldest stored message of `build_id` and its headers, if any.
    pub async fn first(&self, build_id: &str) -> Result<Option<(Frame, HeaderMap)>, HistoryError> {
        self.one(json!({ "seq": 1, "next_by_subj": subjects::events(build_id) }))
            .await
    }

    /// Whether the message at `seq` is still stored as one of `build_id`'s events.
    pub async fn holds(&self, build_id: &str, seq: u64) -> Result<bool, HistoryError> {
        let Some((_, headers)) = self.one(json!({ "seq": seq })).await? else {
            return Ok(false);
        };
        let subject = headers.get("Nats-Subject").map(|v| v.as_str().to_string());
        Ok(subject.as_deref() == Some(subjects::events(build_id).as_str()))
    }

    async fn one(
        &self,
        request: serde_json::Value,
    ) -> Result<Option<(Frame, HeaderMap)>, HistoryError> {
        let message = tokio::time::timeout(
            REPLY_TIMEOUT,
            self.client
                .request(self.api.clone(), request.to_string().into()),
        )
        .await
        .map_err(|_| HistoryError::Unavailable("no reply within 5 s".into()))?
        .map_err(|e| HistoryError::Unavailable(e.to_string()))?;
        match message.status {
            None | Some(StatusCode::OK) => {}
            Some(StatusCode::NOT_FOUND) => return Ok(None),
            Some(status) => {
                return Err(HistoryError::Unavailable(format!(
                    "status {status} {}",
                    message.description.unwrap_or_default()
                )));
            }
        }
        let headers = message.headers.clone().unwrap_or_default();
        let seq = header_u64(Some(&headers), "Nats-Sequence")
            .ok_or_else(|| HistoryError::Unavailable("a reply without Nats-Sequence".into()))?;
        let stored_at = headers
            .get("Nats-Time-Stamp")
            .and_then(|v| parse_timestamp(v.as_str()));
        Ok(Some((
            Frame::decode(seq, None, stored_at, &message.payload),
            headers,
        )))
    }
}
