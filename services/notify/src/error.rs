//! The crate's one error type.

/// What stops the notifier from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The settings cannot be used (no `MAIN_APP_URL`, a bad secret, a private target).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// NATS refused a request (the `notify` consumer is missing, JetStream is down).
    #[error("NATS: {0}")]
    Nats(String),
}
