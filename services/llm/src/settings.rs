//! What an HTTP provider needs to know, independent of where it came from: the binary maps
//! the runtime config (`ANTHROPIC_*`, `OPENAI_*`, `BUILDWIRE_LLM_*`) onto it, tests set it
//! directly with short backoffs and a fake's URL.

use std::time::Duration;

/// Settings of one HTTP provider (`anthropic` or `openai`).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Base URL: Anthropic's without `/v1` (`https://api.anthropic.com`), OpenAI's with it
    /// (`https://api.openai.com/v1`), as their SDKs take them.
    pub base_url: String,
    /// API key: `x-api-key` for Anthropic, `Authorization: Bearer` for OpenAI (optional
    /// there: local servers need none).
    pub api_key: Option<String>,
    /// The model name.
    pub model: String,
    /// Output tokens one model call may use.
    pub max_tokens: u32,
    /// Sampling temperature; `None` leaves the model's default.
    pub temperature: Option<f64>,
    /// Longest wait for response headers, and longest silence while streaming.
    pub timeout: Duration,
    /// Retries one completion (a plan, a task) may spend across all its turns.
    pub retries: u32,
    /// The first backoff; each retry doubles it (with jitter), up to `max_backoff`.
    pub backoff: Duration,
    /// The longest backoff, and the longest `retry-after` honoured: a provider asking for
    /// more ends the completion as unavailable at once.
    pub max_backoff: Duration,
    /// Model turns one completion may take in the tool loop.
    pub max_turns: u32,
}

impl Settings {
    /// Settings for `model` at `base_url` with the documented defaults: 16384 output
    /// tokens, the model's temperature, a 120 s timeout, 4 retries from 1 s up to 60 s,
    /// 40 turns.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Settings {
        Settings {
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            max_tokens: 16_384,
            temperature: None,
            timeout: Duration::from_secs(120),
            retries: 4,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_turns: 40,
        }
    }
}
