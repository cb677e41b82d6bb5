//! The build stage's process-running core: run `npm install --ignore-scripts` or `npm ci
//! --ignore-scripts` (network), `npm rebuild` and `npm run build` (no network) in a sandbox
//! with a scrubbed environment and a whole-tree timeout ([`runner`]), stream and batch
//! their output ([`batcher`]), and keep the full log for storage ([`fulllog`]). [`npmrc`]
//! keeps a project's `.npmrc` from steering the download. [`cache`] keeps installed
//! `node_modules` on the build host so follow-ups install nothing; [`slots`] limits
//! concurrent npm runs per host.
//!
//! [`stage`] is the stage handler that wires them to NATS: sources in, events, logs and
//! artifacts out.

pub mod batcher;
pub mod cache;
mod env;
pub mod error;
pub mod fulllog;
pub mod host;
pub mod lines;
pub mod npmrc;
pub mod pump;
pub mod runner;
mod sandbox;
pub mod slots;
pub mod stage;
mod tree;

pub use batcher::{Batcher, LogBatch, log_msg_id};
pub use error::BuildError;
pub use fulllog::{FullLog, StoredLog};
pub use host::{SandboxKind, host, sandbox_kind};
pub use lines::{LogLine, Stream};
pub use runner::{Access, Outcome, RunReport, RunSpec, SandboxPolicy, npm_steps, run};
pub use stage::BuildStage;
