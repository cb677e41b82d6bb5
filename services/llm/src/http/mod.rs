//! HTTP plumbing both providers share: the client, sending a streaming request with a
//! timeout, sorting a failed answer into retry-or-refuse (429, 529, 5xx retried honouring
//! `retry-after`; 401/403 refused naming the key's setting; other 4xx refused), and reading
//! the SSE stream event by event with a silence timeout.

pub(crate) mod retry;

use std::time::Duration;

use eventsource_stream::{Event, Eventsource};
use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::{LlmError, Settings};

/// Why one attempt at a model turn failed.
#[derive(Debug)]
pub(crate) enum Fault {
    /// Worth retrying the turn from its start, after at least `after` when the provider
    /// said so.
    Transient {
        /// What failed, for logs and the final error.
        reason: String,
        /// The provider's `retry-after`.
        after: Option<Duration>,
    },
    /// Final: the completion ends with this error.
    Fatal(LlmError),
}

impl Fault {
    /// A transient fault with no `retry-after`.
    pub(crate) fn transient(reason: impl Into<String>) -> Fault {
        Fault::Transient {
            reason: reason.into(),
            after: None,
        }
    }
}

/// The settings a provider's refusals point people at.
#[derive(Debug)]
pub(crate) struct SettingNames {
    /// `ANTHROPIC_API_KEY`, `OPENAI_API_KEY`.
    pub key: &'static str,
    /// `ANTHROPIC_MODEL`, `OPENAI_MODEL`.
    pub model: &'static str,
    /// `ANTHROPIC_BASE_URL`, `OPENAI_BASE_URL`.
    pub base_url: &'static str,
}

/// The SSE events of one response.
pub(crate) type Events = BoxStream<'static, Result<Event, String>>;

/// An HTTP client for a provider. Installs the ring rustls provider when the process has
/// none yet (reqwest is built without one; the binary installs ring too).
pub(crate) fn client(
    provider: &'static str,
    settings: &Settings,
) -> Result<reqwest::Client, LlmError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(settings.timeout)
        .user_agent(concat!("buildwire/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| LlmError::Refused {
            provider,
            status: None,
            setting: None,
            message: format!("cannot set up an HTTP client: {err}"),
        })
}

/// Sends `request` and returns its SSE events, or the fault: no headers within `timeout`,
/// a connection error, or a non-2xx answer sorted by [`refusal`].
pub(crate) async fn open(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    provider: &'static str,
    names: &SettingNames,
) -> Result<Events, Fault> {
    let response = match tokio::time::timeout(timeout, request.send()).await {
        Err(_) => {
            return Err(Fault::transient(format!(
                "no response within {} ms (BUILDWIRE_LLM_TIMEOUT_MS)",
                timeout.as_millis()
            )));
        }
        Ok(Err(err)) => {
            return Err(Fault::transient(format!(
                "request failed: {}",
                buildwire_runtime::error::chain(&err)
            )));
        }
        Ok(Ok(response)) => response,
    };
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        let headers = response.headers().clone();
        let body = tokio::time::timeout(timeout, response.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        return Err(refusal(provider, names, status, &headers, &body));
    }
    Ok(response
        .bytes_stream()
        .eventsource()
        .map(|event| event.map_err(|err| err.to_string()))
        .boxed())
}

/// The next SSE event, `None` at the end of the stream, or a transient fault when the
/// stream broke or stayed silent for `timeout`.
pub(crate) async fn next_event(
    events: &mut Events,
    timeout: Duration,
) -> Result<Option<Event>, Fault> {
    match tokio::time::timeout(timeout, events.next()).await {
        Err(_) => Err(Fault::transient(format!(
            "the stream stayed silent for {} ms (BUILDWIRE_LLM_TIMEOUT_MS)",
            timeout.as_millis()
        ))),
        Ok(Some(Err(err))) => Err(Fault::transient(format!("the stream broke: {err}"))),
        Ok(Some(Ok(event))) => Ok(Some(event)),
        Ok(None) => Ok(None),
    }
}

/// Sorts a non-2xx answer: 408, 409, 429, 5xx (529 overloaded included) are transient and
/// carry `retry-after`; 401/403 are refused naming the key's setting; 404 names the model
/// and base URL settings; any other status is refused with the provider's message.
pub(crate) fn refusal(
    provider: &'static str,
    names: &SettingNames,
    status: u16,
    headers: &HeaderMap,
    body: &str,
) -> Fault {
    let said = error_message(body);
    match status {
        408 | 409 | 429 | 500..=599 => Fault::Transient {
            reason: format!("HTTP {status}: {said}"),
            after: retry_after(headers),
        },
        401 | 403 => Fault::Fatal(LlmError::Refused {
            provider,
            status: Some(status),
            setting: Some(names.key),
            message: format!("HTTP {status}: {said}; check {}", names.key),
        }),
        404 => Fault::Fatal(LlmError::Refused {
            provider,
            status: Some(status),
            setting: Some(names.model),
            message: format!(
                "HTTP 404: {said}; check {} and {}",
                names.model, names.base_url
            ),
        }),
        _ => Fault::Fatal(LlmError::Refused {
            provider,
            status: Some(status),
            setting: None,
            message: format!("HTTP {status}: {said}"),
        }),
    }
}

/// `retry-after-ms` (milliseconds), else `retry-after` (seconds, fractions allowed).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
}

/// The message of an error body in either public shape (`{"type":"error","error":{...}}`,
/// `{"error":{...}}`) as `type: message`, else the body's start.
pub(crate) fn error_message(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        let error = &value["error"];
        let kind = error["type"].as_str().or(error["code"].as_str());
        let message = error["message"].as_str().or(error.as_str());
        match (kind, message) {
            (Some(kind), Some(message)) => return format!("{kind}: {message}"),
            (None, Some(message)) => return message.to_string(),
            _ => {}
        }
    }
    let body = body.trim();
    if body.is_empty() {
        return "no error message".into();
    }
    let short: String = body.chars().take(300).collect();
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const NAMES: SettingNames = SettingNames {
        key: "ANTHROPIC_API_KEY",
        model: "ANTHROPIC_MODEL",
        base_url: "ANTHROPIC_BASE_URL",
    };

    #[test]
    fn statuses_sort_into_retry_or_refuse() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        let overloaded =
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        for status in [429, 500, 503, 529] {
            match refusal("anthropic", &NAMES, status, &headers, overloaded) {
                Fault::Transient { reason, after } => {
                    assert_eq!(after, Some(Duration::from_secs(2)));
                    assert!(reason.contains("overloaded_error: Overloaded"), "{reason}");
                }
                other => panic!("{status}: {other:?}"),
            }
        }
        for status in [401, 403] {
            let Fault::Fatal(error) = refusal("anthropic", &NAMES, status, &HeaderMap::new(), "{}")
            else {
                panic!("{status} retried");
            };
            assert!(error.to_string().contains("ANTHROPIC_API_KEY"), "{error}");
            assert_eq!(error.code(), "LLM_AUTH");
        }
        let Fault::Fatal(error) = refusal("anthropic", &NAMES, 400, &HeaderMap::new(), "bad")
        else {
            panic!("400 retried");
        };
        assert_eq!(error.code(), "LLM_REFUSED");
    }

    #[test]
    fn retry_after_reads_milliseconds_then_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("1.5"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert("retry-after-ms", HeaderValue::from_static("soon"));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn error_messages_from_both_shapes() {
        assert_eq!(
            error_message(
                r#"{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}"#
            ),
            "invalid_request_error: Incorrect API key"
        );
        assert_eq!(error_message("  "), "no error message");
        assert_eq!(error_message("<html>bad gateway"), "<html>bad gateway");
    }
}
