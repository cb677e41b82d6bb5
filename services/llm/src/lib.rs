//! LLM access for buildwire's plan and execute stages.
//!
//! - [`Provider`] ([`provider`]): the backend trait, shaped after a streaming, tool-using
//!   Messages API: a [`Completion`] in, a stream of [`Delta`]s out (text, finished tool
//!   calls, live [`Delta::ToolProgress`], [`Delta::Usage`], [`Delta::Retry`]).
//! - [`AnthropicProvider`] ([`anthropic`], `BUILDWIRE_LLM=anthropic`) and
//!   [`OpenAiProvider`] ([`openai`], `BUILDWIRE_LLM=openai`): real models over HTTP with
//!   one shared tool loop, retry budget and SSE plumbing, configured by [`Settings`].
//! - [`tools`]: the `submit_plan` and `write_file` tools and their input parsing.
//! - [`plan`], [`write_task`] and [`fix_build`] ([`stages`]): what the stages call; the
//!   `*_observed` forms report progress and usage to a callback.
//! - [`OfflineProvider`] ([`offline`]): a deterministic provider with no key and no network
//!   that turns common prompts into real, buildable Vite apps and applies follow-up requests
//!   to them, so the demo and the tests run anywhere.

pub mod anthropic;
pub mod error;
mod http;
pub mod offline;
pub mod openai;
mod progress;
pub mod project;
pub mod provider;
pub mod settings;
pub mod stages;
mod tool_loop;
pub mod tools;
mod turn;

pub use anthropic::AnthropicProvider;
pub use error::LlmError;
pub use offline::OfflineProvider;
pub use openai::OpenAiProvider;
pub use project::{ProjectFile, apply_writes, find_file};
pub use provider::{Completion, Delta, Provider, ToolSpec, Usage};
pub use settings::Settings;
pub use stages::{
    CallSummary, Observer, fix_build, plan, plan_observed, write_task, write_task_observed,
};
