//! The wire contract of buildwire as Rust types: build events, stage commands, the HTTP
//! API's bodies, how a stream ends and the NATS subject names. Every service and client shape comes from
//! here; `json/` holds the JSON Schemas generated from these types (see [`schema_files`]).

pub mod api;
pub mod commands;
pub mod events;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod progress;
pub mod schema_files;
pub mod stream;
pub mod subjects;

pub use commands::StageCommand;
pub use events::{BuildStatus, Event, EventBody, Stage};
