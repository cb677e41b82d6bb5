//! The crate's one error type, so callers match on a single enum.

use std::path::PathBuf;

/// Everything that can go wrong while preparing or running a build command.
///
/// A command that runs and fails (non-zero exit, timeout, cancel) is not an error: it is
/// an [`Outcome`](crate::runner::Outcome). Errors mean we could not run it at all.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The spec asked for a sandbox but bubblewrap is missing or does not work here.
    #[error("sandbox required but unavailable: {0}")]
    SandboxUnavailable(String),
    /// The spec is unusable (empty program, relative directory, ...).
    #[error("invalid run spec: {0}")]
    InvalidSpec(String),
    /// A filesystem step before spawning failed (creating HOME, canonicalising paths).
    #[error("{context} {path}: {source}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The process could not be started.
    #[error("failed to spawn {program}: {source}")]
    Spawn {
        /// The program (or `bwrap`) we tried to start.
        program: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Waiting for the process failed.
    #[error("failed to wait for the process: {0}")]
    Wait(#[source] std::io::Error),
    /// Compressing the full log failed.
    #[error("failed to compress the log: {0}")]
    Compress(#[source] std::io::Error),
}

impl BuildError {
    /// Wraps an I/O error with what we were doing and on which path.
    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            context,
            path: path.into(),
            source,
        }
    }
}
