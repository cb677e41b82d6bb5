//! The one stage loop every stage (plan, execute, build, deploy) runs.
//!
//! A stage implements [`StageHandler`]; [`run`] does the rest: one durable pull consumer per
//! stage shared by every worker, bounded concurrency, in-progress acks while the handler
//! works, backoff between attempts, a `<stage>_failed` event and a terminal `failed` when
//! deliveries run out (including workers that die on every attempt), `Nats-Msg-Id`s that
//! make a retried attempt publish no duplicates, and a graceful drain on SIGTERM.

mod failure;
mod job;
mod worker;

use std::future::Future;

use buildwire_schemas::{
    Stage,
    events::{ErrorSeverity, StageFailure},
};

pub mod cancel;

pub use cancel::CancelFlags;
pub use failure::fail_build;
pub use job::Job;
pub use worker::{WorkerOptions, run};

/// Why a handler did not finish a command.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StageError {
    /// May succeed on another attempt: the command is redelivered after a backoff; on the
    /// last delivery it fails the build (a soft failure).
    #[error("{code}: {message}")]
    Retryable {
        /// Machine-readable code.
        code: String,
        /// Human message.
        message: String,
    },
    /// Cannot succeed: the build fails now (a fatal failure).
    #[error("{code}: {message}")]
    Fatal {
        /// Machine-readable code.
        code: String,
        /// Human message.
        message: String,
    },
    /// The worker is shutting down: the command goes back to NATS for another worker.
    #[error("interrupted: handed back for another worker")]
    Interrupted,
    /// The build was cancelled (`job.cancelled()` fired): the command is dropped, no
    /// failure is reported (the build already ended with `cancelled`).
    #[error("cancelled")]
    Cancelled,
}

impl StageError {
    /// A retryable error.
    pub fn retryable(code: &str, message: impl Into<String>) -> StageError {
        StageError::Retryable {
            code: code.into(),
            message: message.into(),
        }
    }

    /// A fatal error.
    pub fn fatal(code: &str, message: impl Into<String>) -> StageError {
        StageError::Fatal {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl StageError {
    /// What to report when this error ends the build on delivery `attempt`: a fatal error
    /// at once, a retryable one once deliveries run out (soft). `None` for an interrupt,
    /// which hands the command back instead.
    pub fn into_failure(self, attempt: u64) -> Option<(StageFailure, ErrorSeverity)> {
        let (code, error, retryable, severity) = match self {
            StageError::Fatal { code, message } => (code, message, false, ErrorSeverity::Fatal),
            StageError::Retryable { code, message } => (
                code,
                format!("{message} (after {attempt} attempts)"),
                true,
                ErrorSeverity::Soft,
            ),
            StageError::Interrupted | StageError::Cancelled => return None,
        };
        Some((
            StageFailure {
                code,
                error,
                retryable,
                attempts: attempt,
            },
            severity,
        ))
    }
}

impl From<crate::Error> for StageError {
    fn from(err: crate::Error) -> Self {
        StageError::retryable("INFRASTRUCTURE", err.to_string())
    }
}

/// What a stage service implements: the work for one command.
pub trait StageHandler: Send + Sync + 'static {
    /// Which stage this is (names the consumer and the events).
    fn stage(&self) -> Stage;

    /// Does the work for `job.command`. Must stop soon after `job.interrupted()` fires,
    /// returning [`StageError::Interrupted`]; it is dropped a little later otherwise. When
    /// `job.cancelled()` fires (the build was cancelled), stop and return
    /// [`StageError::Cancelled`].
    fn handle(&self, job: &mut Job) -> impl Future<Output = Result<(), StageError>> + Send;
}
