//! Logging with `tracing`: human lines for a terminal, JSON lines for log shippers.
//! Work on a build runs inside a span carrying `buildId` and `requestId`, so every line
//! it logs carries both.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{Config, LogFormat};

/// Installs the global subscriber (`RUST_LOG` filters, default `info`). Safe to call more
/// than once: later calls keep the first subscriber.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,async_nats=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.log_format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Human => registry
            .with(fmt::layer().with_target(false).with_writer(std::io::stderr))
            .try_init(),
    };
    // Already installed (tests, `up` running several services): keep the first one.
    drop(result);
}

/// The span that every piece of a build's work runs in.
#[macro_export]
macro_rules! build_span {
    ($name:expr, $build_id:expr, $request_id:expr) => {
        tracing::info_span!($name, buildId = %$build_id, requestId = %$request_id)
    };
}
