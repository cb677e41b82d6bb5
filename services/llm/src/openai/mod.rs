//! The `openai` provider (`BUILDWIRE_LLM=openai`): any OpenAI-compatible Chat Completions
//! server (OpenAI, OpenRouter, Ollama, vLLM, llama.cpp's server, LM Studio) through
//! `POST {OPENAI_BASE_URL}/chat/completions`, streamed, tools as functions, with the shared
//! tool loop and retries.

mod request;
mod stream;

use std::sync::Arc;

use futures::stream::BoxStream;
use serde_json::Value;

use crate::http::{self, SettingNames};
use crate::turn::{Dialect, Turn};
use crate::{Completion, Delta, LlmError, Provider, Settings, tool_loop};

/// The base URL used when `OPENAI_BASE_URL` is unset.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// The model used when `OPENAI_MODEL` is unset.
pub const DEFAULT_MODEL: &str = "gpt-4.1";

/// An OpenAI-compatible Chat Completions server. Cheap to clone.
#[derive(Clone)]
pub struct OpenAiProvider {
    inner: Arc<OpenAi>,
}

impl std::fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("base_url", &self.inner.settings.base_url)
            .field("model", &self.inner.settings.model)
            .finish_non_exhaustive()
    }
}

pub(crate) struct OpenAi {
    settings: Settings,
    client: reqwest::Client,
    url: String,
}

impl OpenAiProvider {
    /// A provider with `settings`; the API key is optional (sent as
    /// `Authorization: Bearer` when set).
    pub fn new(settings: Settings) -> Result<OpenAiProvider, LlmError> {
        let url = format!(
            "{}/chat/completions",
            settings.base_url.trim_end_matches('/')
        );
        let client = http::client("openai", &settings)?;
        Ok(OpenAiProvider {
            inner: Arc::new(OpenAi {
                settings,
                client,
                url,
            }),
        })
    }
}

impl Provider for OpenAiProvider {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn complete(&self, request: Completion) -> BoxStream<'static, Result<Delta, LlmError>> {
        tool_loop::run(self.inner.clone(), request)
    }
}

impl Dialect for OpenAi {
    type Parser = stream::Parser;
    const NAME: &'static str = "openai";
    const NAMES: SettingNames = SettingNames {
        key: "OPENAI_API_KEY",
        model: "OPENAI_MODEL",
        base_url: "OPENAI_BASE_URL",
    };

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn request(&self, completion: &Completion, history: &[Value]) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .post(&self.url)
            .header("accept", "text/event-stream")
            .json(&request::body(&self.settings, completion, history));
        if let Some(key) = self
            .settings
            .api_key
            .as_deref()
            .filter(|key| !key.trim().is_empty())
        {
            request = request.bearer_auth(key);
        }
        request
    }

    fn parser(&self) -> stream::Parser {
        stream::Parser::new(&self.settings.model)
    }

    fn follow_up(&self, turn: &Turn, results: &[(String, String)]) -> Vec<Value> {
        request::follow_up(turn, results)
    }
}
