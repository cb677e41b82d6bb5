//! Every LLM call of the plan and execute stages as a span (`llm call`, a child of the
//! stage attempt) with the provider, the model and the tokens it used (OpenTelemetry's
//! `gen_ai.*` attribute names), and its tokens counted in `buildwire_llm_tokens_total`
//! ([`buildwire_runtime::metrics::llm`]). A decorator, so every provider is covered
//! whatever the stage calls (`plan`, `write_task`, `fix_build`, their `_observed` forms).

use std::sync::{Arc, Mutex};

use buildwire_llm::{Completion, Delta, LlmError, Provider, Usage};
use buildwire_runtime::metrics;
use futures::StreamExt;
use futures::stream::BoxStream;

/// A provider whose calls are traced and counted.
pub struct TracedProvider {
    inner: Arc<dyn Provider>,
}

impl TracedProvider {
    /// `inner`, traced.
    pub fn wrap(inner: Arc<dyn Provider>) -> Arc<dyn Provider> {
        // The token series start at zero as the stage starts.
        metrics::llm();
        Arc::new(TracedProvider { inner })
    }
}

/// What one call has used so far.
#[derive(Default)]
struct Totals {
    usage: Usage,
    retries: u32,
}

impl Provider for TracedProvider {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn complete(&self, request: Completion) -> BoxStream<'static, Result<Delta, LlmError>> {
        let provider = self.inner.name();
        let tool = request
            .tools
            .first()
            .map(|tool| tool.name.clone())
            .unwrap_or_default();
        // A child of the current span (the stage attempt). It is not entered while the
        // answer streams, so the provider's own log lines stay under the attempt (and its
        // buildId); it lives as long as the answer does.
        let span = tracing::info_span!(
            "llm call",
            otel.kind = "client",
            gen_ai.system = provider,
            gen_ai.operation.name = "chat",
            gen_ai.tool.name = %tool,
            gen_ai.request.model = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            gen_ai.usage.cache_read_input_tokens = tracing::field::Empty,
            llm.retries = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let totals = Mutex::new(Totals::default());
        self.inner
            .complete(request)
            .inspect(move |item| observe(&span, &totals, provider, item))
            .boxed()
    }
}

fn observe(
    span: &tracing::Span,
    totals: &Mutex<Totals>,
    provider: &'static str,
    item: &Result<Delta, LlmError>,
) {
    let mut totals = totals.lock().unwrap_or_else(|p| p.into_inner());
    match item {
        Ok(Delta::Usage(usage)) => {
            let llm = metrics::llm();
            llm.add(provider, "input", usage.input_tokens);
            llm.add(provider, "output", usage.output_tokens);
            llm.add(provider, "cache_read", usage.cache_read_input_tokens);
            llm.add(
                provider,
                "cache_creation",
                usage.cache_creation_input_tokens,
            );
            totals.usage.add(usage);
            let total = &totals.usage;
            if !total.model.is_empty() {
                span.record("gen_ai.request.model", total.model.as_str());
            }
            span.record(
                "gen_ai.usage.input_tokens",
                total.input_tokens + total.cache_creation_input_tokens,
            );
            span.record("gen_ai.usage.output_tokens", total.output_tokens);
            span.record(
                "gen_ai.usage.cache_read_input_tokens",
                total.cache_read_input_tokens,
            );
        }
        Ok(Delta::Retry { .. }) => {
            totals.retries += 1;
            span.record("llm.retries", totals.retries);
        }
        Ok(_) => {}
        Err(_) => {
            span.record("otel.status_code", "ERROR");
        }
    }
}
