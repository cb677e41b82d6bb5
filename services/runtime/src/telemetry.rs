//! Logging with `tracing`: human lines for a terminal, JSON lines for log shippers.
//! Work on a build runs inside a span carrying `buildId` and `requestId`, so every line
//! it logs carries both. Services log to stderr; `buildwire demo` sends its logs to a
//! file so the terminal shows only its progress view.

use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{Config, LogFormat};

/// Installs the global subscriber on stderr (`RUST_LOG` filters, default `info`). Safe to
/// call more than once: later calls keep the first subscriber.
pub fn init(config: &Config) {
    let colours = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    install(config, std::io::stderr, colours);
}

/// Installs the global subscriber appending to `path` (created with its folder), plain
/// text without terminal colours. Returns the error when the file cannot be opened, so
/// the caller can fall back to [`init`].
pub fn init_to_file(config: &Config, path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    install(config, Arc::<File>::new(file), false);
    Ok(())
}

fn install<W>(config: &Config, writer: W, ansi: bool)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
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
                    .with_writer(writer),
            )
            .try_init(),
        LogFormat::Human => registry
            .with(
                fmt::layer()
                    .with_target(false)
                    .with_ansi(ansi)
                    .with_writer(writer),
            )
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
