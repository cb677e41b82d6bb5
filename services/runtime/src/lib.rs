//! What every buildwire service shares: one [`Config`], logging, the one NATS setup path
//! (connect, check the server, apply `nats/` definitions, or start a managed server), event
//! publishing with `Nats-Msg-Id`s, JetStream's names ([`jetstream`]), and the one stage loop
//! that every stage runs.

pub mod breaker;
pub mod config;
pub mod delivery;
pub mod error;
pub mod jetstream;
pub mod metrics;
pub mod nats;
pub mod objects;
pub mod paths;
pub mod publish;
pub mod pull;
pub mod secrets;
pub mod shutdown;
pub mod signing;
pub mod stage;
pub mod telemetry;
pub mod trace_context;

pub use config::Config;
pub use error::{Error, Result};
