//! A deployment's log: lines forwarded live as `deploy_log` events (each poll's new lines
//! in one event, keyed by line offset so a retried attempt stores none twice), and the
//! whole log stored in bucket `logs` as `<buildId>/deploy.log`. The event keeps a
//! reference, `/v1/builds/<id>/logs/deploy`, which the edge signs (15 minutes) each time
//! it hands the event out, as it does the build log's.

use buildwire_runtime::objects::Bucket;
use buildwire_runtime::stage::Job;
use buildwire_schemas::EventBody;
use buildwire_schemas::events::{DeployLog, Severity};

use crate::DeployError;

/// Lines of one event at most (longer polls are split).
const BATCH_LINES: usize = 100;

/// The reference a stored event keeps to `build_id`'s deploy log (the edge signs it).
pub use buildwire_schemas::commands::deploy_log_path as log_path;

/// Where full deploy logs go.
#[derive(Clone, Debug)]
pub struct LogStore {
    bucket: Bucket,
}

impl LogStore {
    /// Logs in `bucket` (`logs`).
    pub fn new(bucket: Bucket) -> LogStore {
        LogStore { bucket }
    }

    /// Stores `lines` as `build_id`'s deploy log; answers its reference, or `None` (with a
    /// warning) when it cannot be stored: a missing log link never fails a deploy.
    pub async fn store(&self, build_id: &str, lines: &[String]) -> Option<String> {
        let mut text = lines.join("\n");
        text.push('\n');
        if let Err(err) = self
            .bucket
            .put(&format!("{build_id}/deploy.log"), text.as_bytes())
            .await
        {
            tracing::warn!(%err, "the deploy log was not stored");
            return None;
        }
        Some(log_path(build_id))
    }
}

/// The lines of one deployment seen so far, and how many were forwarded.
#[derive(Debug, Default)]
pub struct LogForwarder {
    lines: Vec<String>,
    forwarded: usize,
}

impl LogForwarder {
    /// Takes the deployment's whole log as read now (Cloudflare answers it from the
    /// start each time) and emits the lines not forwarded yet.
    pub async fn forward(&mut self, job: &mut Job, all: Vec<String>) -> Result<(), DeployError> {
        if all.len() > self.lines.len() {
            self.lines = all;
        }
        while self.forwarded < self.lines.len() {
            let end = (self.forwarded + BATCH_LINES).min(self.lines.len());
            let batch = &self.lines[self.forwarded..end];
            let level = if batch.iter().any(|l| is_failure(l)) {
                Severity::Error
            } else {
                Severity::Info
            };
            job.emit_keyed(
                &format!("log:{}", self.forwarded),
                EventBody::DeployLog(DeployLog {
                    message: batch.join("\n"),
                    level,
                }),
            )
            .await?;
            self.forwarded = end;
        }
        Ok(())
    }

    /// Every line seen.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The last few lines, for an error message.
    pub fn tail(&self, count: usize) -> String {
        let start = self.lines.len().saturating_sub(count);
        self.lines[start..].join("\n")
    }
}

/// Whether a Cloudflare log line reports a failure (`Failed: ...`, `Error: ...`).
fn is_failure(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("Failed") || line.starts_with("Error")
}
