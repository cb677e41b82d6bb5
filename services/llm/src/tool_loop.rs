//! The tool loop both HTTP providers run: send the conversation, read the turn (retrying it
//! from its start on a transient fault, within the completion's retry budget), check its
//! tool calls, emit the turn's text, calls and usage, answer each call with a
//! `tool_result`, and go on until the model ends its turn (or the turn limit).
//!
//! The loop is a future polled by the returned stream itself (no spawned task), so
//! dropping the stream drops the in-flight HTTP request at once.

use std::sync::Arc;

use futures::channel::mpsc;
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use serde_json::Value;

use crate::http::{self, Fault, retry::Budget};
use crate::tools::{SUBMIT_PLAN, WRITE_FILE};
use crate::turn::{Dialect, Stop, Turn, TurnParser};
use crate::{Completion, Delta, LlmError};

type Item = Result<Delta, LlmError>;

/// Runs `completion` through `dialect`'s tool loop as a stream of deltas.
pub(crate) fn run<D: Dialect>(dialect: Arc<D>, completion: Completion) -> BoxStream<'static, Item> {
    let (tx, rx) = mpsc::channel::<Item>(32);
    let driver = async move {
        let mut out = Out(tx);
        if let Err(error) = converse(dialect.as_ref(), &completion, &mut out).await {
            tracing::warn!(provider = D::NAME, code = error.code(), %error, "completion failed");
            out.send(Err(error)).await;
        }
    };
    let driver = futures::stream::once(driver).filter_map(|()| futures::future::ready(None));
    futures::stream::select(rx, driver).boxed()
}

/// The sending half; a send to a dropped stream is moot (the loop is dropped with it).
struct Out(mpsc::Sender<Item>);

impl Out {
    async fn send(&mut self, item: Item) {
        let _ = self.0.send(item).await;
    }

    async fn delta(&mut self, delta: Delta) {
        self.send(Ok(delta)).await;
    }
}

async fn converse<D: Dialect>(
    dialect: &D,
    completion: &Completion,
    out: &mut Out,
) -> Result<(), LlmError> {
    let settings = dialect.settings();
    let mut budget = Budget::new(settings);
    let mut history: Vec<Value> = Vec::new();
    for _ in 0..settings.max_turns {
        let turn = loop {
            let (reason, after) = match attempt(dialect, completion, &history, out).await {
                Ok(turn) => break turn,
                Err(Fault::Fatal(error)) => return Err(error),
                Err(Fault::Transient { reason, after }) => (reason, after),
            };
            let wait = budget.next(after).map_err(|why| LlmError::Unavailable {
                provider: D::NAME,
                message: format!("{reason}; {why}"),
            })?;
            tracing::info!(provider = D::NAME, attempt = budget.used(), wait_ms = wait.as_millis() as u64, %reason, "retrying the model turn");
            out.delta(Delta::Retry {
                attempt: budget.used(),
                wait,
                reason,
            })
            .await;
            tokio::time::sleep(wait).await;
        };
        if let Some(usage) = &turn.usage {
            out.delta(Delta::Usage(usage.clone())).await;
        }
        check(D::NAME, settings.max_tokens, completion, &turn)?;
        if !turn.text.is_empty() {
            out.delta(Delta::Text(turn.text.clone())).await;
        }
        for call in &turn.calls {
            if let Ok(input) = &call.input {
                out.delta(Delta::ToolUse {
                    id: call.id.clone(),
                    name: call.name.clone(),
                    input: input.clone(),
                })
                .await;
            }
        }
        // No call, or the plan (`submit_plan` is the answer): the completion is over. A
        // `tool_result` turn after the plan would be a request its caller has already
        // dropped, raced against being sent and billed.
        if turn.calls.is_empty() || turn.calls.iter().all(|call| call.name == SUBMIT_PLAN) {
            return Ok(());
        }
        let results: Vec<(String, String)> = turn
            .calls
            .iter()
            .map(|call| (call.id.clone(), result_text(&call.name).to_string()))
            .collect();
        history.extend(dialect.follow_up(&turn, &results));
    }
    Err(LlmError::TurnLimit {
        provider: D::NAME,
        turns: settings.max_turns,
    })
}

/// One attempt at a turn: send, stream (live deltas go out as they come), parse.
async fn attempt<D: Dialect>(
    dialect: &D,
    completion: &Completion,
    history: &[Value],
    out: &mut Out,
) -> Result<Turn, Fault> {
    let timeout = dialect.settings().timeout;
    let request = dialect.request(completion, history);
    let mut events = http::open(request, timeout, D::NAME, &D::NAMES).await?;
    let mut parser = dialect.parser();
    let mut live = Vec::new();
    while let Some(event) = http::next_event(&mut events, timeout).await? {
        let done = parser.event(&event, &mut live)?;
        for delta in live.drain(..) {
            out.delta(delta).await;
        }
        if done {
            break;
        }
    }
    parser.finish()
}

/// Whether a whole turn may be used: not truncated, not refused, and every call is to an
/// offered tool with a JSON object as input. Nothing of a failing turn is emitted.
fn check(
    provider: &'static str,
    max_tokens: u32,
    completion: &Completion,
    turn: &Turn,
) -> Result<(), LlmError> {
    match &turn.stop {
        Stop::MaxTokens => {
            return Err(LlmError::Truncated {
                provider,
                max_tokens,
                tool: turn.calls.last().map(|call| call.name.clone()),
            });
        }
        Stop::Refusal(reason) => {
            return Err(LlmError::Refused {
                provider,
                status: None,
                setting: None,
                message: format!("the model declined to answer ({reason})"),
            });
        }
        Stop::EndTurn | Stop::ToolUse | Stop::Other(_) => {}
    }
    for call in &turn.calls {
        if !completion.offers(&call.name) {
            let offered: Vec<&str> = completion
                .tools
                .iter()
                .map(|tool| tool.name.as_str())
                .collect();
            return Err(LlmError::InvalidToolInput {
                tool: call.name.clone(),
                reason: format!(
                    "the model called `{}`, which this step does not offer (offered: {})",
                    call.name,
                    if offered.is_empty() {
                        "none".into()
                    } else {
                        offered.join(", ")
                    }
                ),
            });
        }
        if let Err(reason) = &call.input {
            return Err(LlmError::InvalidToolInput {
                tool: call.name.clone(),
                reason: reason.clone(),
            });
        }
    }
    Ok(())
}

/// The `tool_result` for a call that was taken: the stage checks and applies it.
fn result_text(tool: &str) -> &'static str {
    match tool {
        WRITE_FILE => "written",
        SUBMIT_PLAN => "accepted",
        _ => "ok",
    }
}
