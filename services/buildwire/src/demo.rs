//! `buildwire demo "<prompt>" [--follow-up "<prompt>"] [--exit]`: starts the whole stack
//! (managed NATS when `NATS_URL` is unset), submits through the HTTP API like the main app,
//! follows the build over the WebSocket like a browser, draws it, prints the preview URL
//! and keeps serving it until Ctrl-C (`--exit` stops at once). The terminal shows only the
//! progress view and the URLs; the stack's logs go to `<data dir>/logs/demo.log` (or the
//! terminal with `-v`).

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::progress::Progress;
use crate::stages::Failure;
use crate::up::Stack;

/// Sends the stack's logs to `<data dir>/logs/demo.log` and says so once; falls back to
/// the terminal when that file cannot be opened.
pub fn quiet_logs(config: &buildwire_runtime::Config) {
    let path = config.data_dir.join("logs").join("demo.log");
    match buildwire_runtime::telemetry::init_to_file(config, &path) {
        Ok(()) => eprintln!("Logs: {} (-v prints them here)", path.display()),
        Err(err) => {
            buildwire_runtime::telemetry::init(config);
            tracing::warn!(path = %path.display(), %err, "cannot write the log file; logging here");
        }
    }
}

/// Runs the demo.
pub async fn run(
    config: buildwire_runtime::Config,
    prompt: String,
    follow_up: Option<String>,
    exit: bool,
) -> Result<(), Failure> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    crate::hints::require_npm()?;
    let stack = Stack::start(config).await?;
    let key = service_key(&stack.config)?;
    let client = reqwest::Client::new();
    let project = format!("demo-{}", ulid::Ulid::generate());
    let base = stack.edge.url.clone();
    eprintln!("Watch it in a browser: {base}/ (the demo page)");
    let mut outcome = build(&client, &base, &key, &prompt, &project, None).await;
    if let (Ok((parent, _)), Some(follow_up)) = (&outcome, &follow_up) {
        let parent = parent.clone();
        outcome = build(&client, &base, &key, follow_up, &project, Some(&parent)).await;
    }
    match outcome {
        Ok((_, preview)) => {
            println!("Preview: {preview}");
            if exit {
                stack.stop.cancel();
            } else {
                eprintln!("Serving the preview until Ctrl-C.");
            }
            stack.wait().await
        }
        Err(reason) => {
            stack.stop.cancel();
            stack.wait().await?;
            Err(reason.into())
        }
    }
}

/// The main-app key: configured, or the one the edge generated under the data dir.
fn service_key(config: &buildwire_runtime::Config) -> Result<String, Failure> {
    if let Some(keys) = &config.service_keys {
        return Ok(keys
            .split(',')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string());
    }
    let path = config.data_dir.join("service-key");
    Ok(std::fs::read_to_string(&path)
        .map_err(|e| format!("reading {}: {e}", path.display()))?
        .trim()
        .to_string())
}

/// Submits one prompt and follows it to its end: `(buildId, previewUrl)`.
async fn build(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    prompt: &str,
    project: &str,
    parent: Option<&str>,
) -> Result<(String, String), String> {
    let mut body = json!({ "prompt": prompt, "userId": "demo", "projectId": project });
    if let Some(parent) = parent {
        body["parentBuildId"] = json!(parent);
    }
    let response = client
        .post(format!("{base}/v1/builds"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("submitting: {e}"))?;
    let status = response.status();
    let accepted: Value = response
        .json()
        .await
        .map_err(|e| format!("submitting: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "the API refused the prompt: {}",
            accepted["detail"]
        ));
    }
    let build_id = accepted["buildId"].as_str().unwrap_or_default().to_string();
    let socket = accepted["websocketUrl"].as_str().unwrap_or_default();
    let token = accepted["buildToken"].as_str().unwrap_or_default();
    let mut progress = Progress::new(prompt);
    let mut last_seq = 0u64;
    // Like the browser client: reconnect and resume after anything but the end.
    for _ in 0..20 {
        let url = format!("{socket}?token={token}&after={last_seq}");
        let Ok((mut stream, _)) = tokio_tungstenite::connect_async(&url).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        while let Some(Ok(message)) = stream.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if let Some(seq) = event["seq"].as_u64() {
                last_seq = last_seq.max(seq);
            }
            match progress.event(&event) {
                Some(Ok(preview)) => return Ok((build_id, preview)),
                Some(Err(reason)) => return Err(format!("build {build_id} ended: {reason}")),
                None => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Err(format!("lost the stream of build {build_id}"))
}
