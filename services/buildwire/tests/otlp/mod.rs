//! A real OTLP trace receiver for tests: the collector's gRPC `TraceService` (tonic, the
//! protobuf services of `opentelemetry-proto`) or `POST /v1/traces` with an HTTP/protobuf
//! body (decoded with prost), on a free loopback port. Every span received is kept with its
//! resource's `service.name`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use tokio_util::sync::CancellationToken;

/// One span as exported.
#[derive(Clone, Debug)]
pub struct Span {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits, empty for a root span.
    pub parent_span_id: String,
    /// The span's name.
    pub name: String,
    /// Its attributes, values as text.
    pub attributes: HashMap<String, String>,
    /// Its resource's attributes (`service.name`, ...).
    pub resource: HashMap<String, String>,
}

impl Span {
    /// The attribute `key`, if set.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// The exporting process's `service.name`.
    pub fn service(&self) -> &str {
        self.resource
            .get("service.name")
            .map(String::as_str)
            .unwrap_or("")
    }
}

type Store = Arc<Mutex<Vec<Span>>>;

/// A running receiver; stops when dropped.
pub struct Receiver {
    /// What `OTEL_EXPORTER_OTLP_ENDPOINT` takes (`http://127.0.0.1:<port>`).
    pub endpoint: String,
    spans: Store,
    stop: CancellationToken,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Receiver {
    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().expect("spans").clone()
    }

    /// The spans of trace `trace_id`.
    pub fn trace(&self, trace_id: &str) -> Vec<Span> {
        self.spans()
            .into_iter()
            .filter(|s| s.trace_id == trace_id)
            .collect()
    }

    /// An OTLP/gRPC receiver (the collector's `TraceService`).
    pub async fn grpc() -> Receiver {
        let (listener, endpoint) = listen().await;
        let spans = Store::default();
        let stop = CancellationToken::new();
        let service = TraceServiceServer::new(Grpc(spans.clone()));
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let shutdown = stop.clone().cancelled_owned();
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await;
        });
        Receiver {
            endpoint,
            spans,
            stop,
        }
    }

    /// An OTLP/HTTP receiver with protobuf bodies (`POST /v1/traces`).
    pub async fn http() -> Receiver {
        let (listener, endpoint) = listen().await;
        let spans = Store::default();
        let stop = CancellationToken::new();
        let (store, until) = (spans.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = until.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let store = store.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let store = store.clone();
                        async move { Ok::<_, Infallible>(http_export(request, &store).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            endpoint,
            spans,
            stop,
        }
    }
}

/// A listener on a free local port and its `http://` endpoint.
async fn listen() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, endpoint)
}

struct Grpc(Store);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        keep(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

async fn http_export(
    request: hyper::Request<hyper::body::Incoming>,
    store: &Store,
) -> hyper::Response<Full<Bytes>> {
    let respond = |status: u16, body: Vec<u8>| {
        hyper::Response::builder()
            .status(status)
            .header("content-type", "application/x-protobuf")
            .body(Full::new(Bytes::from(body)))
            .expect("response")
    };
    let is_protobuf = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-protobuf"));
    if request.uri().path() != "/v1/traces" || request.method() != hyper::Method::POST {
        return respond(404, Vec::new());
    }
    if !is_protobuf {
        return respond(415, Vec::new());
    }
    let Ok(body) = request.into_body().collect().await else {
        return respond(400, Vec::new());
    };
    match ExportTraceServiceRequest::decode(body.to_bytes()) {
        Ok(export) => {
            keep(store, export);
            respond(
                200,
                ExportTraceServiceResponse {
                    partial_success: None,
                }
                .encode_to_vec(),
            )
        }
        Err(_) => respond(400, Vec::new()),
    }
}

fn keep(store: &Store, export: ExportTraceServiceRequest) {
    let mut spans = store.lock().expect("spans");
    for resource_spans in export.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                spans.push(Span {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    attributes: attributes(&span.attributes),
                    resource: resource.clone(),
                });
            }
        }
    }
}

fn attributes(list: &[KeyValue]) -> HashMap<String, String> {
    list.iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
