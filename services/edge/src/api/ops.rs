//! Operators' routes: liveness, readiness and Prometheus metrics.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::PlainText;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use crate::history::STREAM;
use crate::problem::{ApiError, ProblemResponse};
use crate::state::EdgeState;

/// `/metrics` answer.
#[derive(ApiResponse)]
pub enum MetricsText {
    /// Prometheus text exposition.
    #[oai(
        status = 200,
        content_type = "text/plain; version=0.0.4; charset=utf-8"
    )]
    Ok(PlainText<String>),
}

/// Health and metrics.
pub struct OpsApi;

#[OpenApi]
impl OpsApi {
    /// Liveness: the process answers.
    #[oai(path = "/healthz", method = "get", tag = "ApiTags::Operations")]
    async fn healthz(&self) -> PlainText<&'static str> {
        PlainText("ok")
    }

    /// Readiness: NATS is connected and the `EVENTS` and `CMDS` streams exist.
    #[oai(path = "/readyz", method = "get", tag = "ApiTags::Operations")]
    async fn readyz(
        &self,
        state: Data<&Arc<EdgeState>>,
    ) -> Result<PlainText<String>, ProblemResponse> {
        let connected =
            state.nats.client.connection_state() == async_nats::connection::State::Connected;
        if !connected {
            return Err(ApiError::unavailable("NATS is not connected").into());
        }
        for stream in [STREAM, "CMDS"] {
            let found = tokio::time::timeout(
                std::time::Duration::from_secs(2),
                state.nats.js.get_stream(stream),
            )
            .await;
            if !matches!(found, Ok(Ok(_))) {
                return Err(
                    ApiError::unavailable(format!("stream {stream} is not available")).into(),
                );
            }
        }
        Ok(PlainText("ready".into()))
    }

    /// Prometheus metrics of this edge node.
    #[oai(path = "/metrics", method = "get", tag = "ApiTags::Operations")]
    async fn metrics(&self, state: Data<&Arc<EdgeState>>) -> MetricsText {
        MetricsText::Ok(PlainText(state.metrics.render()))
    }
}
