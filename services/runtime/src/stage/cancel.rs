//! Cancel flags: `POST /v1/builds/{id}/cancel` puts `cancel/<buildId>` in KV; every stage
//! checks it before starting a command and polls it while working, so running work (npm
//! included) stops within a second and the build ends with the edge's `cancelled`.
//! [`CancelFlags`] is the one type that writes ([`CancelFlags::set`], the edge) and reads
//! them (the stage loop), so the key and the value's shape are decided in one place.

use std::time::Duration;

use async_nats::jetstream::kv;
use tokio_util::sync::CancellationToken;

use crate::jetstream::bucket::CANCEL as CANCEL_BUCKET;
use crate::nats::Nats;
use crate::{Error, Result};

/// How often a running job looks at its build's flag.
pub const POLL: Duration = Duration::from_millis(500);

/// The KV bucket `cancel`, when it exists.
#[derive(Clone, Debug)]
pub struct CancelFlags {
    kv: Option<kv::Store>,
}

impl CancelFlags {
    /// The flags of `nats` (none when the bucket is missing: nothing can be cancelled).
    pub async fn open(nats: &Nats) -> CancelFlags {
        let kv = match nats.js.get_key_value(CANCEL_BUCKET).await {
            Ok(kv) => Some(kv),
            Err(err) => {
                tracing::warn!(%err, "KV bucket cancel is missing: cancels are not honoured");
                None
            }
        };
        CancelFlags { kv }
    }

    /// The flags of `nats`, for a service that sets them (the edge): a missing bucket is an
    /// error at start, not a cancel that silently does nothing.
    pub async fn require(nats: &Nats) -> Result<CancelFlags> {
        let kv = nats
            .js
            .get_key_value(CANCEL_BUCKET)
            .await
            .map_err(|e| Error::JetStream {
                subject: format!("KV {CANCEL_BUCKET}"),
                reason: format!("{e} (are the nats/ definitions applied?)"),
            })?;
        Ok(CancelFlags { kv: Some(kv) })
    }

    /// Cancels `build_id`: every stage stops its work within [`POLL`] (the value records
    /// when, for operators).
    pub async fn set(&self, build_id: &str) -> Result<()> {
        let failed = |reason: String| Error::JetStream {
            subject: format!("KV {CANCEL_BUCKET} put {build_id}"),
            reason,
        };
        let kv = self
            .kv
            .as_ref()
            .ok_or_else(|| failed("the bucket is missing".into()))?;
        let flag = serde_json::json!({ "cancelledAt": chrono::Utc::now() }).to_string();
        kv.put(build_id, flag.into())
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(())
    }

    /// Whether `build_id` was cancelled. A flag that cannot be read counts as not set.
    pub async fn is_set(&self, build_id: &str) -> bool {
        let Some(kv) = &self.kv else {
            return false;
        };
        matches!(kv.get(build_id).await, Ok(Some(_)))
    }

    /// Fires `token` once `build_id` is cancelled; stops when `token` fires or `done` does.
    pub async fn watch(self, build_id: String, token: CancellationToken, done: CancellationToken) {
        loop {
            tokio::select! {
                _ = done.cancelled() => return,
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {
                    if self.is_set(&build_id).await {
                        tracing::info!(%build_id, "build cancelled: stopping its work");
                        token.cancel();
                        return;
                    }
                }
            }
        }
    }
}
