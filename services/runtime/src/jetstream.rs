//! The names services use to reach JetStream: streams, consumers, buckets and headers, in
//! one place so a rename in `nats/` is one change here, not a string hunt. They match the
//! definitions in `nats/streams/` and `nats/consumers/` (a KV bucket `x` is stream `KV_x`,
//! an object bucket `x` is `OBJ_x`).
//!
//! The `Nats-*` headers JetStream sets or reads are async-nats' own constants, re-exported
//! here beside the one it does not name ([`NUM_PENDING`]).

/// Declares name constants (`NAME = "value",` with its doc), so the lists below read as
/// tables.
macro_rules! names {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        $($(#[$doc])* pub const $name: &str = $value;)*
    };
}

/// Streams.
pub mod stream {
    names! {
        /// Every build's events (`build.*.events`), limits retention, republished live.
        EVENTS = "EVENTS",
        /// Stage commands (`build.*.cmd.*`), work queue.
        CMDS = "CMDS",
    }
}

/// Durable consumers.
pub mod consumer {
    names! {
        /// The recorder's, on `EVENTS`.
        RECORD = "record",
        /// The webhook notifier's, on `EVENTS`.
        NOTIFY = "notify",
    }
}

/// KV buckets (stream `KV_<name>`) and object buckets (stream `OBJ_<name>`).
pub mod bucket {
    names! {
        /// KV: cancel flags (`cancel/<buildId>`), honoured by every stage.
        CANCEL = "cancel",
        /// KV: `Idempotency-Key`s -> builds, shared by edge nodes.
        IDEMPOTENCY = "idempotency",
        /// KV: circuit-breaker records per user.
        BREAKER = "breaker",
        /// KV: project and build owners.
        OWNERS = "owners",
        /// Objects: project trees.
        SOURCES = "sources",
        /// Objects: built previews.
        ARTIFACTS = "artifacts",
        /// Objects: full build and deploy logs.
        LOGS = "logs",
    }
}

/// Headers JetStream sets on stored, republished and Direct Get messages, and the one a
/// publisher sets for deduplication.
pub use async_nats::header::{
    NATS_LAST_SEQUENCE, NATS_MESSAGE_ID, NATS_SEQUENCE, NATS_SUBJECT, NATS_TIME_STAMP,
};

/// On a batch Direct Get reply: messages of the subject still stored after this one
/// (async-nats has no constant for it).
pub const NUM_PENDING: &str = "Nats-Num-Pending";

/// A numeric header of `headers` (`Nats-Sequence`, `Nats-Last-Sequence`,
/// `Nats-Num-Pending`), when present and a number.
pub fn header_u64<K: async_nats::header::IntoHeaderName>(
    headers: Option<&async_nats::HeaderMap>,
    name: K,
) -> Option<u64> {
    headers?.get(name)?.as_str().parse().ok()
}
