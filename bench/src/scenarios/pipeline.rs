//! `pipeline`: the real stack (`buildwire up`: edge, plan, execute, build with real npm,
//! deploy, recorder) on a fresh nats-server. Each prompt is submitted over the API and
//! watched over the WebSocket it returns; a NATS subscription to `live.build.*.events`
//! reads every stored event's `Nats-Time-Stamp` and `Nats-Msg-Id` (which names the stage
//! that published it). Figures: prompt to 202, prompt to the first event on the socket,
//! prompt to the plan stage's first event, and each stage hop (the previous stage's last
//! event to the next stage's first, by JetStream's store times).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;

use super::Settings;
use crate::marker::now_ns;
use crate::report::{Report, ms};
use crate::servers::{NatsServer, SERVICE_KEY, Server};

/// Prompts the offline LLM turns into real apps.
const PROMPTS: &[&str] = &[
    "Create a todo app with dark mode",
    "Create a notes app",
    "Create a kanban board",
    "Create a timer app",
    "Create a landing page for a bakery",
];
/// Stages in pipeline order.
const STAGES: &[&str] = &["plan", "execute", "build", "deploy"];
/// How long one build may take.
const BUILD_LIMIT: Duration = Duration::from_secs(300);

/// One stored event as JetStream republished it.
#[derive(Clone, Debug)]
struct Stored {
    seq: u64,
    stored_ns: u64,
    stage: String,
}

type Ledger = Arc<Mutex<HashMap<String, Vec<Stored>>>>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    build_id: String,
    build_token: String,
    websocket_url: String,
}

/// One build's figures (ms unless noted).
#[derive(Clone, Debug)]
pub struct PipelineResult {
    /// The prompt.
    pub prompt: String,
    /// Prompt sent to 202 received.
    pub accepted_ms: f64,
    /// Prompt sent to the first event on the WebSocket (the edge's `queued`).
    pub first_event_ms: f64,
    /// Prompt sent to the plan stage's first event on the WebSocket.
    pub first_stage_event_ms: f64,
    /// Prompt sent to the plan stage's first event stored (its `Nats-Time-Stamp`).
    pub plan_stored_ms: f64,
    /// Stage hops by store time: plan->execute, execute->build, build->deploy.
    pub hops_ms: Vec<f64>,
    /// Store to client, median and max over the build's events.
    pub delivery_ms: (f64, f64),
    /// Prompt to terminal event (seconds).
    pub total_secs: f64,
    /// The terminal event's type.
    pub outcome: String,
}

fn stage_of(msg_id: &str) -> String {
    msg_id.split(':').nth(1).unwrap_or("?").to_string()
}

async fn watch_store(nats_url: &str, ledger: Ledger) -> Result<()> {
    let client = async_nats::connect(nats_url).await?;
    let mut live = client.subscribe("live.build.*.events").await?;
    tokio::spawn(async move {
        while let Some(message) = live.next().await {
            let Some(build) = message.subject.split('.').nth(2) else {
                continue;
            };
            let header = |name: &str| {
                message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .map(|v| v.as_str().to_string())
            };
            let seq = header("Nats-Sequence").and_then(|s| s.parse().ok());
            let stored_ns = header("Nats-Time-Stamp")
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .and_then(|t| t.timestamp_nanos_opt())
                .and_then(|n| u64::try_from(n).ok());
            let stage = header("Nats-Msg-Id").map_or("?".into(), |id| stage_of(&id));
            if let (Some(seq), Some(stored_ns)) = (seq, stored_ns) {
                ledger
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(build.to_string())
                    .or_default()
                    .push(Stored {
                        seq,
                        stored_ns,
                        stage,
                    });
            }
        }
    });
    Ok(())
}

/// Runs `builds` prompts one after another on one stack.
pub async fn run(settings: &Settings, builds: usize) -> Result<Vec<PipelineResult>> {
    let nats = NatsServer::start(&settings.tools)?;
    let ledger: Ledger = Arc::default();
    watch_store(&nats.url(), ledger.clone()).await?;
    let up = Server::up(&settings.tools, &nats.url()).await?;
    let http = reqwest::Client::new();
    let mut results = Vec::new();
    for i in 0..builds {
        let prompt = PROMPTS[i % PROMPTS.len()];
        eprintln!("[pipeline] build {}/{builds}: {prompt:?}", i + 1);
        match one(&http, up.addr, prompt, i, &ledger).await {
            Ok(result) => {
                eprintln!(
                    "[pipeline] {} in {:.1} s",
                    result.outcome, result.total_secs
                );
                results.push(result);
            }
            Err(err) => {
                let log = up.log_tail();
                up.stop().await;
                return Err(err.context(format!("buildwire up log:\n{log}")));
            }
        }
    }
    up.stop().await;
    drop(nats);
    Ok(results)
}

async fn one(
    http: &reqwest::Client,
    addr: std::net::SocketAddr,
    prompt: &str,
    index: usize,
    ledger: &Ledger,
) -> Result<PipelineResult> {
    let sent = now_ns();
    let response = http
        .post(format!("http://{addr}/v1/builds"))
        .bearer_auth(SERVICE_KEY)
        .json(&serde_json::json!({ "prompt": prompt, "userId": format!("bench-{index}") }))
        .send()
        .await
        .context("POST /v1/builds")?;
    if response.status() != reqwest::StatusCode::ACCEPTED {
        bail!("POST /v1/builds answered {}", response.status());
    }
    let accepted: Accepted = response.json().await?;
    let accepted_at = now_ns();
    let url = format!(
        "{}?token={}&after=0",
        accepted.websocket_url, accepted.build_token
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .context("opening the build's WebSocket")?;
    let mut received: Vec<(u64, u64)> = Vec::new();
    let mut outcome = String::from("timeout");
    let deadline = tokio::time::Instant::now() + BUILD_LIMIT;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, ws.next()).await {
        let Ok(Message::Text(text)) = message else {
            break;
        };
        let at = now_ns();
        let event: serde_json::Value = serde_json::from_str(&text)?;
        let kind = event["type"].as_str().unwrap_or_default().to_string();
        let Some(seq) = event["seq"].as_u64() else {
            continue;
        };
        received.push((seq, at));
        if matches!(kind.as_str(), "complete" | "failed" | "cancelled") {
            outcome = kind;
            break;
        }
    }
    let finished = now_ns();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stored = ledger
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&accepted.build_id)
        .cloned()
        .unwrap_or_default();
    Ok(figures(
        prompt,
        sent,
        accepted_at,
        finished,
        &received,
        &stored,
        outcome,
    ))
}

fn figures(
    prompt: &str,
    sent: u64,
    accepted_at: u64,
    finished: u64,
    received: &[(u64, u64)],
    stored: &[Stored],
    outcome: String,
) -> PipelineResult {
    let span = |from: u64, to: u64| to.saturating_sub(from) as f64 / 1e6;
    let stage_of_seq: HashMap<u64, &Stored> = stored.iter().map(|s| (s.seq, s)).collect();
    let first_event_ms = received.first().map_or(f64::NAN, |(_, at)| span(sent, *at));
    let first_stage_event_ms = received
        .iter()
        .find(|(seq, _)| stage_of_seq.get(seq).is_some_and(|s| s.stage == "plan"))
        .map_or(f64::NAN, |(_, at)| span(sent, *at));
    let plan_stored_ms = stored
        .iter()
        .filter(|s| s.stage == "plan")
        .map(|s| s.stored_ns)
        .min()
        .map_or(f64::NAN, |at| span(sent, at));
    let hops_ms = STAGES
        .windows(2)
        .map(|pair| {
            let last = stored
                .iter()
                .filter(|s| s.stage == pair[0])
                .map(|s| s.stored_ns)
                .max();
            let first = stored
                .iter()
                .filter(|s| s.stage == pair[1])
                .map(|s| s.stored_ns)
                .min();
            match (last, first) {
                (Some(last), Some(first)) => span(last, first),
                _ => f64::NAN,
            }
        })
        .collect();
    let mut delivery: Vec<f64> = received
        .iter()
        .filter_map(|(seq, at)| stage_of_seq.get(seq).map(|s| span(s.stored_ns, *at)))
        .collect();
    delivery.sort_by(f64::total_cmp);
    let delivery_ms = (
        delivery
            .get(delivery.len() / 2)
            .copied()
            .unwrap_or(f64::NAN),
        delivery.last().copied().unwrap_or(f64::NAN),
    );
    PipelineResult {
        prompt: prompt.to_string(),
        accepted_ms: span(sent, accepted_at),
        first_event_ms,
        first_stage_event_ms,
        plan_stored_ms,
        hops_ms,
        delivery_ms,
        total_secs: span(sent, finished) / 1000.0,
        outcome,
    }
}

/// The scenario's table: a row per build.
pub fn table(results: &[PipelineResult]) -> Report {
    let mut report = Report::new(
        format!(
            "pipeline: {} prompts through buildwire up (real npm, offline LLM)",
            results.len()
        ),
        &[
            "prompt",
            "202 ms",
            "first event ms",
            "plan event stored / on socket ms",
            "plan->execute ms",
            "execute->build ms",
            "build->deploy ms",
            "store->client p50/max ms",
            "total s",
            "outcome",
        ],
    );
    for r in results {
        let hop = |i: usize| r.hops_ms.get(i).map_or("n/a".into(), |v| ms(*v));
        report.row(vec![
            r.prompt.clone(),
            ms(r.accepted_ms),
            ms(r.first_event_ms),
            format!("{} / {}", ms(r.plan_stored_ms), ms(r.first_stage_event_ms)),
            hop(0),
            hop(1),
            hop(2),
            format!("{} / {}", ms(r.delivery_ms.0), ms(r.delivery_ms.1)),
            format!("{:.1}", r.total_secs),
            r.outcome.clone(),
        ]);
    }
    report.note("hops: the previous stage's last event to the next stage's first, by JetStream store time (Nats-Time-Stamp); the stage is the second part of the event's Nats-Msg-Id");
    report.note("first event: the edge's own `queued`, read over the WebSocket opened with the 202's URL and token; no baseline runs this pipeline, so there are no ratios");
    report
}
