//! W3C trace context (`traceparent`, `tracestate`) carried in NATS headers, so one build is
//! one trace across processes.
//!
//! - Every publish through [`crate::publish::Publisher`] (events and commands) calls
//!   [`inject`]: the current span's context goes into the message's headers. RePublish
//!   copies headers, so `live.build.<id>.events` carries them to edge nodes as well.
//! - Whoever handles a message makes its span a child of the message's context with
//!   [`adopt`] (the stage loop for each attempt, the recorder for each write, the edge's
//!   `deliver` span of a build's first live event on a node), or starts a bare one with
//!   [`span_from_headers`].
//! - [`adopt_w3c`] takes the two header values of an HTTP request (the main app's
//!   `traceparent` on `POST /v1/builds`).
//!
//! Spans carry a `traceId` field (the 32 hex digits), so log lines show it beside `buildId`
//! and `requestId`. Without the OpenTelemetry layer (see [`crate::telemetry`]) nothing is
//! injected and nothing adopted.

use async_nats::HeaderMap;
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C header naming the parent span: `00-<trace id>-<span id>-<flags>`.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C header with vendor-specific trace state.
pub const TRACESTATE: &str = "tracestate";

/// Reads W3C headers from NATS headers.
struct NatsHeaders<'a>(&'a HeaderMap);

impl Extractor for NatsHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|value| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

/// Writes W3C headers into NATS headers.
struct NatsHeadersMut<'a>(&'a mut HeaderMap);

impl Injector for NatsHeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value);
    }
}

/// Two header values given directly (an HTTP request's).
struct Pair<'a> {
    traceparent: Option<&'a str>,
    tracestate: Option<&'a str>,
}

impl Extractor for Pair<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent,
            TRACESTATE => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

/// Adds the current span's trace context to `headers` (nothing when there is none).
pub fn inject(headers: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut NatsHeadersMut(headers));
    }
}

/// The trace context carried by `headers` (an empty context when they carry none or an
/// invalid one).
pub fn extract(headers: Option<&HeaderMap>) -> Context {
    match headers {
        Some(headers) => TraceContextPropagator::new().extract(&NatsHeaders(headers)),
        None => Context::new(),
    }
}

/// Makes `span` a child of the context in `headers` (when they carry one) and records its
/// `traceId` field. Call it right after creating the span, before entering it.
pub fn adopt(span: &tracing::Span, headers: Option<&HeaderMap>) {
    set_parent(span, extract(headers));
}

/// [`adopt`] with the W3C header values of an HTTP request.
pub fn adopt_w3c(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    let parent = TraceContextPropagator::new().extract(&Pair {
        traceparent,
        tracestate,
    });
    set_parent(span, parent);
}

fn set_parent(span: &tracing::Span, parent: Context) {
    if parent.span().span_context().is_valid() {
        // Fails only without the OpenTelemetry layer or for a span already started: then
        // the span simply keeps its own parent.
        let _ = span.set_parent(parent);
    }
    record_trace_id(span);
}

/// Records `span`'s trace id in its `traceId` field (declared `tracing::field::Empty`).
pub fn record_trace_id(span: &tracing::Span) {
    if let Some(trace_id) = trace_id(span) {
        span.record("traceId", trace_id.as_str());
    }
}

/// The trace id of `span` (32 hex digits), if it has one.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The trace id a message's `traceparent` names, if any: what the edge needs for
/// `GET /v1/builds/{id}`'s `traceId` (read it from the build's first stored event).
pub fn trace_id_of(headers: Option<&HeaderMap>) -> Option<String> {
    let context = extract(headers);
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// A span named `name` (its OpenTelemetry name) for work on `build_id` done because of a
/// message with `headers`, child of the message's context, with no field but `buildId` and
/// `traceId` (a span with fields of its own declares them and calls [`adopt`], as the
/// edge's `deliver` span does). Enter it (or `.instrument(span)`) around the work.
pub fn span_from_headers(name: &str, build_id: &str, headers: Option<&HeaderMap>) -> tracing::Span {
    let span = tracing::info_span!(
        "message",
        otel.name = name,
        buildId = build_id,
        traceId = tracing::field::Empty
    );
    adopt(&span, headers);
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_roundtrips_through_nats_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            TRACEPARENT,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        headers.insert(TRACESTATE, "vendor=abc");
        let context = extract(Some(&headers));
        let span = context.span();
        let parent = span.span_context();
        assert!(parent.is_valid() && parent.is_remote());
        assert_eq!(
            parent.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            trace_id_of(Some(&headers)).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        let mut out = HeaderMap::new();
        TraceContextPropagator::new().inject_context(&context, &mut NatsHeadersMut(&mut out));
        assert_eq!(
            out.get(TRACEPARENT).map(|v| v.as_str()),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(out.get(TRACESTATE).map(|v| v.as_str()), Some("vendor=abc"));
    }

    #[test]
    fn missing_or_malformed_headers_give_no_context() {
        assert_eq!(trace_id_of(None), None);
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, "not a traceparent");
        assert_eq!(trace_id_of(Some(&headers)), None);
        let pair = Pair {
            traceparent: Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            tracestate: None,
        };
        let context = TraceContextPropagator::new().extract(&pair);
        assert!(!context.span().span_context().is_valid());
    }
}
