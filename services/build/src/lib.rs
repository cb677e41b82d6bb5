//! The build stage's process-running core: run `npm install` / `npm run build` in a
//! sandbox with a scrubbed environment and a whole-tree timeout ([`runner`]), stream and
//! batch their output ([`batcher`]), and keep the full log for storage ([`fulllog`]).
//!
//! [`stage`] is the stage handler that wires them to NATS: sources in, events, logs and
//! artifacts out.

pub mod batcher;
mod env;
pub mod error;
pub mod fulllog;
pub mod host;
pub mod lines;
pub mod pump;
pub mod runner;
mod sandbox;
pub mod stage;
mod tree;

pub use batcher::{Batcher, LogBatch, log_msg_id};
pub use error::BuildError;
pub use fulllog::{FullLog, StoredLog};
pub use host::{SandboxKind, host, sandbox_kind};
pub use lines::{LogLine, Stream};
pub use runner::{Outcome, RunReport, RunSpec, SandboxPolicy, run};
pub use stage::BuildStage;
