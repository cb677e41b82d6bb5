//! LLM access for buildwire's plan and execute stages.
//!
//! - [`Provider`] ([`provider`]): the backend trait, shaped after a streaming, tool-using
//!   Messages API: a [`Completion`] in, a stream of [`Delta`]s (text, tool calls) out.
//! - [`tools`]: the `submit_plan` and `write_file` tools and their input parsing.
//! - [`plan`] and [`write_task`] ([`stages`]): what the stages call.
//! - [`OfflineProvider`] ([`offline`]): a deterministic provider with no key and no network
//!   that turns common prompts into real, buildable Vite apps and applies follow-up requests
//!   to them, so the demo and the tests run anywhere.

pub mod error;
pub mod offline;
pub mod project;
pub mod provider;
pub mod stages;
pub mod tools;

pub use error::LlmError;
pub use offline::OfflineProvider;
pub use project::{ProjectFile, apply_writes, find_file};
pub use provider::{Completion, Delta, Provider, ToolSpec};
pub use stages::{plan, write_task};
