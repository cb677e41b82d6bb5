//! The plan's circuit breaker, shared by every node through KV `breaker`: stages record a
//! user's fatal build failures (soft ones never count); the edge refuses that user's
//! submissions while `threshold` of them fall inside the window. One key per user holds
//! the recent failures, updated with compare-and-set so concurrent writers lose nothing.
//!
//! The failure that opens a user's circuit counts as a trip
//! (`buildwire_breaker_trips_total`, [`crate::metrics::stages`]), judged with the policy
//! set by [`set_trip_policy`] (the `BUILDWIRE_BREAKER_*` defaults until then).

use async_nats::jetstream::kv;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result, nats::Nats};

/// Failures kept per user (more than any sensible threshold).
const KEEP: usize = 50;

/// The threshold and window (seconds) trips are judged with.
static TRIP_POLICY: std::sync::RwLock<(usize, i64)> = std::sync::RwLock::new((3, 300));

/// Sets the policy trips are counted with (`BUILDWIRE_BREAKER_FAILURES`,
/// `BUILDWIRE_BREAKER_WINDOW_SECS`): the edge refuses with the same one.
pub fn set_trip_policy(threshold: usize, window: Duration) {
    let mut policy = TRIP_POLICY.write().unwrap_or_else(|p| p.into_inner());
    *policy = (threshold, window.num_seconds());
}

fn trip_policy() -> (usize, Duration) {
    let (threshold, seconds) = *TRIP_POLICY.read().unwrap_or_else(|p| p.into_inner());
    (threshold, Duration::seconds(seconds))
}

/// One fatal failure.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FatalFailure {
    /// The failed build.
    pub build_id: String,
    /// When it failed.
    pub at: DateTime<Utc>,
}

/// The failure records in KV `breaker`.
#[derive(Clone, Debug)]
pub struct Breaker {
    kv: Option<kv::Store>,
}

fn key(user_id: &str) -> String {
    let digest = hex::encode(Sha256::digest(user_id.as_bytes()));
    format!("u_{}", &digest[..32])
}

fn failed(err: impl std::fmt::Display) -> Error {
    Error::JetStream {
        subject: "KV_breaker".into(),
        reason: err.to_string(),
    }
}

impl Breaker {
    /// The bucket of `nats` (none when missing: nothing is recorded or refused).
    pub async fn open(nats: &Nats) -> Breaker {
        let kv = match nats.js.get_key_value("breaker").await {
            Ok(kv) => Some(kv),
            Err(err) => {
                tracing::warn!(%err, "KV bucket breaker is missing: the circuit breaker is off");
                None
            }
        };
        Breaker { kv }
    }

    /// The recorded fatal failures of `user_id`, oldest first.
    pub async fn failures(&self, user_id: &str) -> Result<Vec<FatalFailure>> {
        let Some(kv) = &self.kv else {
            return Ok(Vec::new());
        };
        match kv.entry(key(user_id)).await.map_err(failed)? {
            Some(entry) if entry.operation == kv::Operation::Put => {
                Ok(serde_json::from_slice(&entry.value).unwrap_or_default())
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Records a fatal failure of `build_id` for `user_id` (once per build).
    pub async fn record_fatal(
        &self,
        user_id: &str,
        build_id: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let Some(kv) = &self.kv else {
            return Ok(());
        };
        let key = key(user_id);
        for _ in 0..20 {
            let entry = kv.entry(&key).await.map_err(failed)?;
            let (mut failures, revision): (Vec<FatalFailure>, Option<u64>) = match &entry {
                Some(entry) if entry.operation == kv::Operation::Put => (
                    serde_json::from_slice(&entry.value).unwrap_or_default(),
                    Some(entry.revision),
                ),
                Some(entry) => (Vec::new(), Some(entry.revision)),
                None => (Vec::new(), None),
            };
            if failures.iter().any(|f| f.build_id == build_id) {
                return Ok(());
            }
            let (threshold, window) = trip_policy();
            let was_open = open_until(&failures, threshold, window, at).is_some();
            failures.push(FatalFailure {
                build_id: build_id.to_string(),
                at,
            });
            let excess = failures.len().saturating_sub(KEEP);
            failures.drain(..excess);
            let value = serde_json::to_vec(&failures)?;
            let written = match revision {
                Some(revision) => kv.update(&key, value.into(), revision).await.is_ok(),
                None => kv.create(&key, value.into()).await.is_ok(),
            };
            if written {
                if !was_open && open_until(&failures, threshold, window, at).is_some() {
                    crate::metrics::stages().breaker_trips.inc();
                    tracing::warn!(build_id, "this fatal failure opened the user's circuit");
                }
                return Ok(());
            }
        }
        Err(failed("too many concurrent updates"))
    }
}

/// When the circuit of a user with `failures` closes, if it is open at `now`: open while
/// at least `threshold` failures fall within `window` before `now`.
pub fn open_until(
    failures: &[FatalFailure],
    threshold: usize,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if threshold == 0 {
        return None;
    }
    let mut recent: Vec<DateTime<Utc>> = failures
        .iter()
        .map(|f| f.at)
        .filter(|at| *at > now - window && *at <= now)
        .collect();
    if recent.len() < threshold {
        return None;
    }
    recent.sort();
    // It closes when the oldest failure that keeps it open leaves the window.
    Some(recent[recent.len() - threshold] + window)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> FatalFailure {
        FatalFailure {
            build_id: format!("b{seconds}"),
            at: DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(seconds),
        }
    }

    #[test]
    fn three_failures_in_the_window_open_it_until_the_oldest_ages_out() {
        let window = Duration::seconds(300);
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1000);
        let failures = [at(100), at(800), at(900), at(950)];
        let until = open_until(&failures, 3, window, now).expect("open");
        assert_eq!(until, DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1100));
        assert!(open_until(&failures, 3, window, until + Duration::seconds(1)).is_none());
        assert!(open_until(&failures[..2], 3, window, now).is_none());
        assert!(open_until(&failures, 0, window, now).is_none());
    }
}
