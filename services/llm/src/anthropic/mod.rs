//! The `anthropic` provider (`BUILDWIRE_LLM=anthropic`): Claude through the Messages API,
//! `POST {ANTHROPIC_BASE_URL}/v1/messages` with `x-api-key` and `anthropic-version`,
//! streamed, with tool use, prompt caching and the shared tool loop and retries.

mod request;
mod stream;

use std::sync::Arc;

use futures::stream::BoxStream;
use serde_json::Value;

use crate::http::{self, SettingNames};
use crate::turn::{Dialect, Turn};
use crate::{Completion, Delta, LlmError, Provider, Settings, tool_loop};

/// The API version buildwire speaks.
pub const API_VERSION: &str = "2023-06-01";

/// The model used when `ANTHROPIC_MODEL` is unset.
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-5";

/// Claude via the Messages API. Cheap to clone.
#[derive(Clone)]
pub struct AnthropicProvider {
    inner: Arc<Anthropic>,
}

impl std::fmt::Debug for AnthropicProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicProvider")
            .field("base_url", &self.inner.settings.base_url)
            .field("model", &self.inner.settings.model)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Anthropic {
    settings: Settings,
    client: reqwest::Client,
    url: String,
}

impl AnthropicProvider {
    /// A provider with `settings`; the API key is required (`ANTHROPIC_API_KEY`). A base
    /// URL given with a trailing `/v1` is accepted too.
    pub fn new(settings: Settings) -> Result<AnthropicProvider, LlmError> {
        if settings
            .api_key
            .as_deref()
            .is_none_or(|key| key.trim().is_empty())
        {
            return Err(LlmError::Refused {
                provider: "anthropic",
                status: None,
                setting: Some("ANTHROPIC_API_KEY"),
                message: "BUILDWIRE_LLM=anthropic needs ANTHROPIC_API_KEY".into(),
            });
        }
        let base = settings.base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        let url = format!("{base}/v1/messages");
        let client = http::client("anthropic", &settings)?;
        Ok(AnthropicProvider {
            inner: Arc::new(Anthropic {
                settings,
                client,
                url,
            }),
        })
    }
}

impl Provider for AnthropicProvider {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn complete(&self, request: Completion) -> BoxStream<'static, Result<Delta, LlmError>> {
        tool_loop::run(self.inner.clone(), request)
    }
}

impl Dialect for Anthropic {
    type Parser = stream::Parser;
    const NAME: &'static str = "anthropic";
    const NAMES: SettingNames = SettingNames {
        key: "ANTHROPIC_API_KEY",
        model: "ANTHROPIC_MODEL",
        base_url: "ANTHROPIC_BASE_URL",
    };

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn request(&self, completion: &Completion, history: &[Value]) -> reqwest::RequestBuilder {
        self.client
            .post(&self.url)
            .header(
                "x-api-key",
                self.settings.api_key.as_deref().unwrap_or_default(),
            )
            .header("anthropic-version", API_VERSION)
            .header("accept", "text/event-stream")
            .json(&request::body(&self.settings, completion, history))
    }

    fn parser(&self) -> stream::Parser {
        stream::Parser::new(&self.settings.model)
    }

    fn follow_up(&self, turn: &Turn, results: &[(String, String)]) -> Vec<Value> {
        request::follow_up(turn, results)
    }
}
