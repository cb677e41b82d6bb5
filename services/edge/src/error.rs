//! Why the edge could not start. Request-time refusals are [`crate::problem::ApiError`].

/// A start-up failure of the edge.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// Shared runtime (config, NATS setup).
    #[error(transparent)]
    Runtime(#[from] buildwire_runtime::Error),
    /// `BUILDWIRE_JWT_KEYS`.
    #[error(transparent)]
    Keyring(#[from] crate::tokens::KeyringError),
    /// `BUILDWIRE_SERVICE_KEYS`.
    #[error(transparent)]
    ServiceKeys(#[from] crate::auth::ServiceKeyError),
    /// A setting the edge cannot use.
    #[error("config: {0}")]
    Config(String),
    /// A KV bucket the edge needs is missing (definitions not applied?).
    #[error("NATS: {0}")]
    Nats(String),
    /// The listener's address cannot be bound (taken, not local, not allowed).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// `BUILDWIRE_HTTP_ADDR`.
        addr: String,
        /// Why (`AddrInUse` when another process has the port).
        #[source]
        source: std::io::Error,
    },
    /// The data dir.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
