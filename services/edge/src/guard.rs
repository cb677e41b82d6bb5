//! Guarding the edge (design.md, "Guarding submissions"): `governor` rate limits on
//! submissions (per user and per node) and on new stream connections (per address), the
//! circuit breaker read from KV `breaker` (shared by every node), and caps on concurrent
//! viewers per build and per user. Every refusal is a 429 problem with a `code` and a
//! `Retry-After`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buildwire_runtime::Config;
use buildwire_runtime::breaker::{self, Breaker};
use buildwire_schemas::api::ProblemCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use poem::http::StatusCode;

use crate::metrics::{Metrics, ScopeLabel};
use crate::problem::ApiError;

fn per_minute(n: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(rate).allow_burst(burst)
}

fn too_many(code: ProblemCode, detail: String, wait: Duration) -> ApiError {
    ApiError {
        retryable: true,
        retry_after: Some(wait.as_secs().max(1)),
        ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, detail)
    }
}

/// How often the rate limiters forget keys whose limits are back to full.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The node's guards.
pub struct Guards {
    per_user: DefaultKeyedRateLimiter<String>,
    global: DefaultDirectRateLimiter,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    breaker: Breaker,
    breaker_failures: usize,
    breaker_window: chrono::Duration,
    max_per_build: usize,
    max_per_user: usize,
    viewers: Arc<Mutex<Viewers>>,
    metrics: Metrics,
}

#[derive(Default)]
struct Viewers {
    per_build: HashMap<String, usize>,
    per_user: HashMap<String, usize>,
}

/// Holds one viewer's place in the quotas until dropped.
pub struct ViewerTicket {
    viewers: Arc<Mutex<Viewers>>,
    build_id: String,
    user_id: String,
}

impl Drop for ViewerTicket {
    fn drop(&mut self) {
        let mut viewers = self.viewers.lock().unwrap_or_else(|p| p.into_inner());
        let viewers = &mut *viewers;
        release(&mut viewers.per_build, &self.build_id);
        release(&mut viewers.per_user, &self.user_id);
    }
}

fn release(counts: &mut HashMap<String, usize>, key: &str) {
    if let Some(count) = counts.get_mut(key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            counts.remove(key);
        }
    }
}

impl Guards {
    /// Guards configured from `config`.
    pub fn new(config: &Config, breaker: Breaker, metrics: Metrics) -> Guards {
        Guards {
            per_user: RateLimiter::keyed(per_minute(
                config.rate_user_per_min,
                config.rate_user_burst,
            )),
            global: RateLimiter::direct(per_minute(
                config.rate_global_per_min,
                config.rate_global_per_min,
            )),
            per_address: RateLimiter::keyed(per_minute(
                config.connect_rate_per_min,
                config.connect_rate_per_min,
            )),
            breaker,
            breaker_failures: config.breaker_failures as usize,
            breaker_window: chrono::Duration::seconds(
                i64::try_from(config.breaker_window_secs).unwrap_or(i64::MAX / 2),
            ),
            max_per_build: config.max_viewers_per_build as usize,
            max_per_user: config.max_viewers_per_user as usize,
            viewers: Arc::default(),
            metrics,
        }
    }

    fn refused(&self, scope: &'static str) {
        self.metrics
            .rate_limited
            .get_or_create(&ScopeLabel { scope })
            .inc();
    }

    /// May `user_id` submit now? Checks the circuit first (it says why and until when),
    /// then the user's and the node's rates.
    pub async fn submission(&self, user_id: &str) -> Result<(), ApiError> {
        let now = chrono::Utc::now();
        let failures = self.breaker.failures(user_id).await.unwrap_or_else(|err| {
            tracing::warn!(%err, "circuit breaker records unavailable; not enforcing");
            Vec::new()
        });
        if let Some(until) =
            breaker::open_until(&failures, self.breaker_failures, self.breaker_window, now)
        {
            self.metrics.circuit_open_refusals.inc();
            let wait = (until - now).to_std().unwrap_or(Duration::from_secs(1));
            return Err(too_many(
                ProblemCode::CircuitOpen,
                format!(
                    "{} builds of this user failed fatally within {} s; submissions reopen at {}",
                    self.breaker_failures,
                    self.breaker_window.num_seconds(),
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                wait,
            ));
        }
        let clock = DefaultClock::default();
        if let Err(not_until) = self.per_user.check_key(&user_id.to_string()) {
            self.refused("user");
            return Err(too_many(
                ProblemCode::RateLimited,
                "too many submissions from this user; slow down".into(),
                not_until.wait_time_from(clock.now()),
            ));
        }
        if let Err(not_until) = self.global.check() {
            self.refused("global");
            return Err(too_many(
                ProblemCode::RateLimited,
                "this node is taking too many submissions; retry shortly".into(),
                not_until.wait_time_from(clock.now()),
            ));
        }
        Ok(())
    }

    /// Forgets the rate-limit state of users and addresses whose limits are back to full
    /// (they would otherwise stay in memory for the node's life, one entry per address
    /// ever seen). The edge calls it every [`PRUNE_EVERY`].
    pub fn prune(&self) {
        self.per_user.retain_recent();
        self.per_user.shrink_to_fit();
        self.per_address.retain_recent();
        self.per_address.shrink_to_fit();
    }

    /// Rate-limit entries held (users + addresses), for tests and the operator.
    pub fn tracked_keys(&self) -> usize {
        self.per_user.len() + self.per_address.len()
    }

    /// May a stream from `address` for `build_id` of `user_id` open? The ticket holds its
    /// place in the quotas while the stream lives.
    pub fn viewer(
        &self,
        address: Option<IpAddr>,
        build_id: &str,
        user_id: &str,
    ) -> Result<ViewerTicket, ApiError> {
        if let Some(address) = address
            && let Err(not_until) = self.per_address.check_key(&address)
        {
            self.refused("connect");
            return Err(too_many(
                ProblemCode::RateLimited,
                "too many new connections from this address".into(),
                not_until.wait_time_from(DefaultClock::default().now()),
            ));
        }
        let mut viewers = self.viewers.lock().unwrap_or_else(|p| p.into_inner());
        let on_build = viewers.per_build.get(build_id).copied().unwrap_or(0);
        let of_user = viewers.per_user.get(user_id).copied().unwrap_or(0);
        if on_build >= self.max_per_build || of_user >= self.max_per_user {
            let scope = if on_build >= self.max_per_build {
                "build"
            } else {
                "user"
            };
            self.refused(if scope == "build" {
                "viewers_build"
            } else {
                "viewers_user"
            });
            return Err(too_many(
                ProblemCode::ViewerQuota,
                format!(
                    "too many open streams for this {scope} on this node; close one or retry later"
                ),
                Duration::from_secs(5),
            ));
        }
        *viewers.per_build.entry(build_id.to_string()).or_default() += 1;
        *viewers.per_user.entry(user_id.to_string()).or_default() += 1;
        Ok(ViewerTicket {
            viewers: self.viewers.clone(),
            build_id: build_id.to_string(),
            user_id: user_id.to_string(),
        })
    }
}
