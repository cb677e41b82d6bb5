//! Operators' routes: liveness, readiness and Prometheus metrics; and [`Text`], the plain
//! text payload whose schema carries an example.

use std::marker::PhantomData;
use std::sync::Arc;

use buildwire_runtime::jetstream::stream::{CMDS, EVENTS};
use poem::web::Data;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::refusals::ReadyRefusals;
use crate::problem::{ApiError, Refused};
use crate::state::EdgeState;

/// What a [`Text`] payload looks like, for its schema.
pub trait TextExample: Send {
    /// An example body.
    const EXAMPLE: &'static str;
}

/// A text body (`content_type` set on the response) whose schema shows `E`'s example.
pub struct Text<E>(pub String, PhantomData<fn() -> E>);

impl<E> Text<E> {
    /// `text` as the body.
    pub fn new(text: impl Into<String>) -> Self {
        Text(text.into(), PhantomData)
    }
}

impl<E: TextExample> Payload for Text<E> {
    const CONTENT_TYPE: &'static str = "text/plain; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            example: Some(E::EXAMPLE.into()),
            ..MetaSchema::new("string")
        }))
    }
}

impl<E: Send> IntoResponse for Text<E> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

/// `/healthz`'s body.
pub struct AliveText;
impl TextExample for AliveText {
    const EXAMPLE: &'static str = "ok";
}

/// `/readyz`'s body.
pub struct ReadyText;
impl TextExample for ReadyText {
    const EXAMPLE: &'static str = "ready";
}

/// `/metrics`' body.
pub struct Exposition;
impl TextExample for Exposition {
    const EXAMPLE: &'static str = "# HELP buildwire_edge_builds_submitted_total Builds accepted.\n\
        # TYPE buildwire_edge_builds_submitted_total counter\n\
        buildwire_edge_builds_submitted_total 3\n\
        # EOF\n";
}

/// `/healthz` answer.
#[derive(ApiResponse)]
pub enum Alive {
    /// The process answers.
    #[oai(status = 200, content_type = "text/plain; charset=utf-8")]
    Ok(Text<AliveText>),
}

/// `/readyz` answer.
#[derive(ApiResponse)]
pub enum Readiness {
    /// NATS is connected and the streams exist.
    #[oai(status = 200, content_type = "text/plain; charset=utf-8")]
    Ok(Text<ReadyText>),
}

/// `/metrics` answer.
#[derive(ApiResponse)]
pub enum MetricsText {
    /// OpenMetrics text exposition, ending with `# EOF` (the content type is
    /// `buildwire_runtime::metrics::CONTENT_TYPE`, which a test holds this literal to).
    #[oai(
        status = 200,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    )]
    Ok(Text<Exposition>),
}

/// Health and metrics.
pub struct OpsApi;

#[OpenApi]
impl OpsApi {
    /// Liveness.
    ///
    /// Answers `ok` while the process serves HTTP, whatever NATS does.
    #[oai(
        path = "/healthz",
        method = "get",
        tag = "ApiTags::Operations",
        operation_id = "getHealth"
    )]
    async fn healthz(&self) -> Alive {
        Alive::Ok(Text::new("ok"))
    }

    /// Readiness.
    ///
    /// `ready` when NATS is connected and the `EVENTS` and `CMDS` streams exist; 503
    /// otherwise, so a load balancer stops sending traffic here.
    #[oai(
        path = "/readyz",
        method = "get",
        tag = "ApiTags::Operations",
        operation_id = "getReadiness"
    )]
    async fn readyz(
        &self,
        state: Data<&Arc<EdgeState>>,
    ) -> Result<Readiness, Refused<ReadyRefusals>> {
        let connected =
            state.nats.client.connection_state() == async_nats::connection::State::Connected;
        if !connected {
            return Err(ApiError::unavailable("NATS is not connected").into());
        }
        for stream in [EVENTS, CMDS] {
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
        Ok(Readiness::Ok(Text::new("ready")))
    }

    /// Prometheus metrics.
    ///
    /// This edge node's metrics (`buildwire_edge_` prefix; `buildwire up` adds every
    /// other service's) in the OpenMetrics text format, ending with `# EOF`: connections by
    /// transport, delivery latency, refusals, submissions. Labelled series start at zero.
    #[oai(
        path = "/metrics",
        method = "get",
        tag = "ApiTags::Operations",
        operation_id = "getMetrics"
    )]
    async fn metrics(&self, state: Data<&Arc<EdgeState>>) -> MetricsText {
        // This node's series, then the process's other services' (`buildwire up`).
        MetricsText::Ok(Text::new(buildwire_runtime::metrics::merge(
            state.metrics.render(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::ApiResponse;

    #[test]
    fn metrics_are_served_with_the_openmetrics_content_type() {
        let meta = super::MetricsText::meta();
        let types: Vec<&str> = meta
            .responses
            .iter()
            .flat_map(|r| r.content.iter().map(|c| c.content_type))
            .collect();
        assert_eq!(types, [buildwire_runtime::metrics::CONTENT_TYPE]);
    }
}
