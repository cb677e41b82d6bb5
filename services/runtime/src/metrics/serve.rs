//! `GET /metrics` for services without an HTTP server of their own (stages, recorder,
//! notifier): a small HTTP/1.1 server on `BUILDWIRE_METRICS_ADDR` answering the process's
//! registry ([`super::render`]) with the OpenMetrics content type; `/healthz` answers `ok`;
//! anything else is 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// Binds `addr` (so a taken port fails here, at start) and serves `/metrics` until `stop`.
/// Returns the bound address (port 0 picks a free one).
pub async fn serve(addr: &str, stop: CancellationToken) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::Config(format!(
            "BUILDWIRE_METRICS_ADDR={addr}: cannot listen there ({e})"
        ))
    })?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(%err, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10));
                let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
                    Ok::<_, Infallible>(answer(&request))
                });
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    tracing::info!(%bound, "serving /metrics");
    Ok(bound)
}

fn answer(request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => (StatusCode::OK, super::CONTENT_TYPE, super::render()),
        (&Method::GET, "/healthz") => (
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "ok".to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: GET /metrics".to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
