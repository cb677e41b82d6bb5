//! Cancel flags: `POST /v1/builds/{id}/cancel` puts `cancel/<buildId>` in KV; every stage
//! checks it before starting a command and polls it while working, so running work (npm
//! included) stops within a second and the build ends with the edge's `cancelled`.

use std::time::Duration;

use async_nats::jetstream::kv;
use tokio_util::sync::CancellationToken;

use crate::nats::Nats;

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
        let kv = match nats.js.get_key_value("cancel").await {
            Ok(kv) => Some(kv),
            Err(err) => {
                tracing::warn!(%err, "KV bucket cancel is missing: cancels are not honoured");
                None
            }
        };
        CancelFlags { kv }
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
