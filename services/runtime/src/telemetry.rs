//! Logging and tracing with `tracing`: human lines for a terminal, JSON lines for log
//! shippers, and OpenTelemetry spans exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! is set.
//!
//! Work on a build runs inside a span carrying `buildId`, `requestId` and `traceId`
//! ([`build_span!`](crate::build_span)), so every line it logs carries all three. Services
//! log to stderr; `buildwire demo` sends its logs to a file so the terminal shows only its
//! progress view.
//!
//! Traces: the OpenTelemetry layer is always installed (spans get trace ids, and
//! [`crate::trace_context`] carries them in NATS headers, so one build is one trace even
//! when only some processes export). Export needs `OTEL_EXPORTER_OTLP_ENDPOINT`:
//! - `OTEL_EXPORTER_OTLP_PROTOCOL` (or `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`): `grpc`
//!   (the endpoint as is, e.g. `http://jaeger:4317`) or `http/protobuf` (the default, as the
//!   OpenTelemetry specification says; `/v1/traces` is appended, e.g. `http://jaeger:4318`).
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is when set.
//! - `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the process (default
//!   `buildwire-<subcommand>`); `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`
//!   and `OTEL_BSP_*` (batching) are honoured by the exporter.
//!
//! Spans from buildwire's crates at `INFO` and above are exported whatever `RUST_LOG`
//! says (it filters the log lines only).

use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{EnvFilter, Layer, Registry, fmt, prelude::*};

use crate::config::{Config, LogFormat};
use crate::{Error, Result};

/// The process's tracer provider, kept to flush spans at exit ([`shutdown`]).
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();
/// Whether a subscriber was installed (or tried) already.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// How spans travel to the OTLP endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (tonic), port 4317 by convention.
    Grpc,
    /// OTLP over HTTP with protobuf bodies, port 4318 by convention.
    HttpProtobuf,
}

/// Where and how spans are exported, read from `Config` and the `OTEL_*` environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    /// The URL spans are sent to (for HTTP, the full `/v1/traces` URL).
    pub url: String,
    /// The transport.
    pub protocol: Protocol,
}

impl Export {
    /// The export `config` and the environment ask for: `None` without an endpoint, an
    /// error naming the variable for a value this build cannot use.
    pub fn from_config(config: &Config) -> Result<Option<Export>> {
        Self::from_parts(config.otel_exporter_otlp_endpoint.as_deref(), |name| {
            std::env::var(name).ok().filter(|v| !v.trim().is_empty())
        })
    }

    fn from_parts(
        endpoint: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Export>> {
        let signal_endpoint = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let Some(base) = signal_endpoint
            .as_deref()
            .or(endpoint.filter(|e| !e.trim().is_empty()))
        else {
            return Ok(None);
        };
        let (name, value) = match env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
            Some(value) => ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", value),
            None => (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                env("OTEL_EXPORTER_OTLP_PROTOCOL").unwrap_or_else(|| "http/protobuf".into()),
            ),
        };
        let protocol = match value.trim() {
            "grpc" => Protocol::Grpc,
            "http/protobuf" => Protocol::HttpProtobuf,
            other => {
                return Err(Error::Config(format!(
                    "{name}={other:?}: this build exports traces with `grpc` or `http/protobuf`"
                )));
            }
        };
        let base = base.trim();
        let endpoint_name = if signal_endpoint.is_some() {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        } else {
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        };
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Config(format!(
                "{endpoint_name}={base:?} is not an http(s) URL like http://localhost:4318"
            )));
        }
        if protocol == Protocol::Grpc && base.starts_with("https://") {
            return Err(Error::Config(format!(
                "{endpoint_name}={base:?}: gRPC export is plain-text only in this build; use OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf for https"
            )));
        }
        let url = match (protocol, &signal_endpoint) {
            (Protocol::HttpProtobuf, None) => format!("{}/v1/traces", base.trim_end_matches('/')),
            _ => base.to_string(),
        };
        Ok(Some(Export { url, protocol }))
    }
}

/// Checks the tracing settings (`OTEL_EXPORTER_OTLP_*`) at start, so a bad value stops the
/// process with the variable named instead of silently exporting nothing.
pub fn check(config: &Config) -> Result<()> {
    Export::from_config(config).map(drop)
}

/// Installs the global subscriber on stderr (`RUST_LOG` filters, default `info`) with
/// service name `buildwire`. Safe to call more than once: later calls keep the first
/// subscriber.
pub fn init(config: &Config) {
    init_for(config, "buildwire");
}

/// [`init`] for one service: `service` names the process in traces (`buildwire-<service>`
/// unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` name it).
pub fn init_for(config: &Config, service: &str) {
    let colours = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    install(config, service, std::io::stderr, colours);
}

/// Installs the global subscriber appending to `path` (created with its folder), plain
/// text without terminal colours. Returns the error when the file cannot be opened, so
/// the caller can fall back to [`init`].
pub fn init_to_file(config: &Config, path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    install(config, "buildwire", Arc::<File>::new(file), false);
    Ok(())
}

/// Exports the spans still buffered and stops the exporter (at most 5 s): call it once
/// before the process exits.
pub async fn shutdown() {
    let Some(provider) = PROVIDER.get().cloned() else {
        return;
    };
    let flushed = tokio::task::spawn_blocking(move || provider.shutdown());
    if tokio::time::timeout(Duration::from_secs(5), flushed)
        .await
        .is_err()
    {
        eprintln!("buildwire: spans not exported within 5 s of shutting down");
    }
}

fn install<W>(config: &Config, service: &str, writer: W, ansi: bool)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    if INSTALLED.swap(true, Ordering::SeqCst) {
        // Already installed (tests, `up` running several services): keep the first one.
        return;
    }
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,async_nats=warn"));
    let log_layer: Box<dyn Layer<Registry> + Send + Sync> = match config.log_format {
        LogFormat::Json => fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
        LogFormat::Human => fmt::layer()
            .with_target(false)
            .with_ansi(ansi)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
    };
    let (provider, problem) = tracer_provider(config, service);
    let tracer = provider.tracer("buildwire");
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_threads(false)
        .with_filter(filter_fn(|meta| {
            meta.target().starts_with("buildwire")
                && *meta.level()
                    <= if meta.is_span() {
                        Level::INFO
                    } else {
                        Level::WARN
                    }
        }))
        .boxed();
    if tracing_subscriber::registry()
        .with(vec![otel_layer, log_layer])
        .try_init()
        .is_ok()
    {
        let _ = PROVIDER.set(provider);
    }
    if let Some(problem) = problem {
        tracing::error!(%problem, "trace export is off");
    }
}

/// The tracer provider: exporting when an endpoint is configured (and the exporter could
/// be built; otherwise the reason is returned beside a provider that exports nothing).
fn tracer_provider(config: &Config, service: &str) -> (SdkTracerProvider, Option<String>) {
    let builder = SdkTracerProvider::builder().with_resource(resource(service));
    let export = match Export::from_config(config) {
        Ok(Some(export)) => export,
        Ok(None) => return (builder.build(), None),
        Err(err) => return (builder.build(), Some(err.to_string())),
    };
    match exporter(&export) {
        Ok(exporter) => {
            let processor =
                opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                    exporter,
                    opentelemetry_sdk::runtime::Tokio,
                )
                .build();
            (builder.with_span_processor(processor).build(), None)
        }
        Err(problem) => (builder.build(), Some(problem)),
    }
}

/// The OTLP span exporter for `export` (built inside the tokio runtime: tonic needs it).
fn exporter(export: &Export) -> Result<opentelemetry_otlp::SpanExporter, String> {
    let built = match export.protocol {
        Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(export.url.clone())
            .build(),
        Protocol::HttpProtobuf => {
            // One rustls crypto provider for the process (https endpoints).
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| format!("HTTP client for {}: {e}", export.url))?;
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_http_client(client)
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(export.url.clone())
                .build()
        }
    };
    built.map_err(|e| format!("OTLP exporter for {}: {e}", export.url))
}

/// The process's resource: `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` (read by the
/// SDK's detectors), else `service.name` `buildwire-<service>`; and the version.
fn resource(service: &str) -> Resource {
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name="));
    let builder = Resource::builder()
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    let builder = if named {
        builder
    } else if service == "buildwire" {
        builder.with_service_name("buildwire")
    } else {
        builder.with_service_name(format!("buildwire-{service}"))
    };
    builder.build()
}

/// The span that a piece of a build's work runs in, with `buildId`, `requestId` and
/// `traceId` (recorded at once: the span's parent is the current span). A literal name is
/// the span's name; `otel.name` may be given after it for a name built at run time.
#[macro_export]
macro_rules! build_span {
    ($name:expr, $build_id:expr, $request_id:expr $(, $($field:tt)+)?) => {{
        let span = tracing::info_span!(
            $name,
            buildId = %$build_id,
            requestId = %$request_id,
            traceId = tracing::field::Empty
            $(, $($field)+)?
        );
        $crate::trace_context::record_trace_id(&span);
        span
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(endpoint: Option<&str>, env: &[(&str, &str)]) -> Result<Option<Export>> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        Export::from_parts(endpoint, |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn the_endpoint_and_protocol_pick_the_exporter() {
        assert_eq!(export(None, &[]).expect("valid"), None);
        let http = export(Some("http://collector:4318/"), &[]).expect("valid");
        assert_eq!(
            http,
            Some(Export {
                url: "http://collector:4318/v1/traces".into(),
                protocol: Protocol::HttpProtobuf
            })
        );
        let grpc = export(
            Some("http://collector:4317"),
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
        )
        .expect("valid");
        assert_eq!(
            grpc,
            Some(Export {
                url: "http://collector:4317".into(),
                protocol: Protocol::Grpc
            })
        );
        let signal = export(
            Some("http://ignored:4318"),
            &[
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/custom"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ],
        )
        .expect("valid");
        assert_eq!(
            signal.map(|e| (e.url, e.protocol)),
            Some(("http://c:4318/custom".into(), Protocol::HttpProtobuf))
        );
    }

    #[test]
    fn unusable_settings_are_refused_by_name() {
        let json = export(
            Some("http://c:4318"),
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
        )
        .expect_err("http/json is not built in");
        assert!(json.to_string().contains("OTEL_EXPORTER_OTLP_PROTOCOL"));
        let scheme = export(Some("collector:4317"), &[]).expect_err("no scheme");
        assert!(scheme.to_string().contains("OTEL_EXPORTER_OTLP_ENDPOINT"));
        let tls = export(
            Some("https://c:4317"),
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
        )
        .expect_err("grpc over TLS");
        assert!(tls.to_string().contains("http/protobuf"));
    }
}
