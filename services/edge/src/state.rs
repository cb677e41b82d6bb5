//! What every request handler of one edge node shares.

use async_nats::jetstream::kv;
use buildwire_runtime::nats::Nats;
use buildwire_runtime::publish::Publisher;
use buildwire_runtime::stage::CancelFlags;
use tokio_util::sync::CancellationToken;

use crate::auth::ServiceKeys;
use crate::hub::Hub;
use crate::log::jetstream::JetStreamLog;
use crate::metrics::Metrics;
use crate::tokens::Keyring;

/// The node's shared state, reached from handlers as `Data<&Arc<EdgeState>>`.
pub struct EdgeState {
    /// The NATS connection.
    pub nats: Nats,
    /// Publishes commands and events with `Nats-Msg-Id`s.
    pub publisher: Publisher,
    /// Live fan-out, and the build log every reader shares ([`Hub::log`]).
    pub hub: Hub,
    /// `EVENTS` by Direct Get, for what only JetStream keeps: a build's first message's
    /// headers (the submitting user) and request id.
    pub jetstream: JetStreamLog,
    /// Rate limits, circuit breaker, stream quotas.
    pub guards: crate::guard::Guards,
    /// Build-token keys.
    pub keyring: Keyring,
    /// Main-app keys.
    pub service_keys: ServiceKeys,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// KV `idempotency`: `Idempotency-Key` -> build, shared by every node.
    pub idempotency: kv::Store,
    /// KV `owners`: which user owns each project and build, shared by every node.
    pub owners: crate::owners::Owners,
    /// KV `cancel`: cancel flags stages honour.
    pub cancels: CancelFlags,
    /// Bucket `artifacts`: built previews (`/preview/{id}/...`).
    pub artifacts: buildwire_runtime::objects::Artifacts,
    /// Bucket `logs`: full build and deploy logs.
    pub logs: buildwire_runtime::objects::Bucket,
    /// Bucket `sources`: each build's file tree (`source.zip`, restores).
    pub sources: buildwire_runtime::objects::Sources,
    /// Whether a per-build `webhookUrl` may reach loopback and private addresses
    /// (`BUILDWIRE_WEBHOOK_ALLOW_PRIVATE`).
    pub webhook_allow_private: bool,
    /// Checks (and mints) signed log URLs.
    pub signer: buildwire_runtime::signing::UrlSigner,
    /// Where clients reach this service.
    pub urls: PublicUrls,
    /// Browser origins allowed to open streams (`WEBSOCKET_CORS_ORIGIN`); `None`: any.
    pub allowed_origins: Option<Vec<String>>,
    /// Fires when the node stops: streams close with "going away".
    pub shutdown: CancellationToken,
}

impl EdgeState {
    /// Whether a browser `Origin` may open a stream.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        match (&self.allowed_origins, origin) {
            (None, _) | (Some(_), None) => true,
            (Some(allowed), Some(origin)) => allowed.iter().any(|a| a == origin || a == "*"),
        }
    }
}

/// The URLs handed out in answers, from `BUILDWIRE_PUBLIC_URL` (or the bound address).
#[derive(Debug, Clone)]
pub struct PublicUrls {
    http: String,
    ws: String,
}

impl PublicUrls {
    /// URLs under `base` (`http(s)://host[:port][/prefix]`).
    pub fn new(base: &str) -> Result<PublicUrls, String> {
        let http = base.trim_end_matches('/').to_string();
        let ws = if let Some(rest) = http.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = http.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            return Err(format!(
                "BUILDWIRE_PUBLIC_URL={base:?} must start with http:// or https://"
            ));
        };
        Ok(PublicUrls { http, ws })
    }

    /// The HTTP base.
    pub fn base(&self) -> &str {
        &self.http
    }

    /// `ws(s)://.../ws/builds/{id}`.
    pub fn websocket(&self, build_id: &str) -> String {
        format!("{}/ws/builds/{build_id}", self.ws)
    }

    /// `http(s)://.../events/{id}`.
    pub fn events(&self, build_id: &str) -> String {
        format!("{}/events/{build_id}", self.http)
    }

    /// `http(s)://.../v1/builds/{id}`.
    pub fn status(&self, build_id: &str) -> String {
        format!("{}/v1/builds/{build_id}", self.http)
    }
}
