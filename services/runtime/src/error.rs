//! The runtime's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the shared runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration (environment or file) is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A command-line argument is invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// NATS could not be reached.
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect {
        /// Where we tried.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The NATS server cannot run buildwire (too old, or JetStream is off).
    #[error("unsupported NATS server: {0}")]
    UnsupportedServer(String),
    /// A definition file in `nats/` is malformed.
    #[error("bad NATS definition {path}: {reason}")]
    Definition {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The server refused to create or update a stream or consumer, or kept a different
    /// configuration than the definition asks for.
    #[error("NATS refused definition {name}: {reason}")]
    DefinitionRejected {
        /// `STREAM` or `STREAM/consumer`.
        name: String,
        /// The server's error or the fields that differ.
        reason: String,
    },
    /// A JetStream API call failed.
    #[error("JetStream request {subject} failed: {reason}")]
    JetStream {
        /// The API subject.
        subject: String,
        /// The error.
        reason: String,
    },
    /// Publishing an event or command failed.
    #[error("publish to {subject} failed: {reason}")]
    Publish {
        /// Where.
        subject: String,
        /// Why.
        reason: String,
    },
    /// The managed nats-server could not be started.
    #[error("managed nats-server: {0}")]
    ManagedServer(String),
    /// JSON encoding or decoding failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Filesystem or process I/O failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Result with the runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `err` with its sources, each after a `: ` (so "error sending request" says why: a
/// client's own message often hides the cause).
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
