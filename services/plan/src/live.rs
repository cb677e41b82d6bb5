//! One LLM step of a stage (the plan, a task, an auto-fix attempt) run in front of
//! viewers: the files the model is writing go out as batched `file_progress` events, the
//! tokens it used as one `usage` event, a cancelled build aborts the in-flight request at
//! once, and an [`LlmError`] ends the build with `<stage>_failed` (`code`, `retryable`,
//! `suggestedAction`) and a soft `failed`.
//!
//! ```ignore
//! let step = LlmStep::new(Stage::Execute, Some(&task.id));
//! let mut observe = step.observer();
//! let call = buildwire_llm::write_task_observed(provider, prompt, task, &files, &mut observe);
//! match step.drive(job, call).await? {
//!     Ok(files) => { /* apply them */ }
//!     Err(err) => return fail_llm(job, &err).await,
//! }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use buildwire_llm::{CallSummary, Delta, LlmError};
use buildwire_runtime::stage::{Job, StageError};
use buildwire_schemas::events::{
    ErrorSeverity, Failed, FileProgress, StageFailed, StageFailure, TokenUsage, UsageReport,
};
use buildwire_schemas::{EventBody, Stage};
use tokio::sync::mpsc;

/// How often a file's progress may go out (at most 4 per second per file), and how long a
/// file must have been growing before its first figure does (a file written whole within
/// it shows none: its task's `task_completed` lists it).
pub const BATCH: Duration = Duration::from_millis(250);

/// What is known of one file being written (one `write_file` call).
struct Writing {
    path: Option<String>,
    bytes: u64,
    lines: u64,
    since: Instant,
    /// The figures last sent, if any were.
    sent: Option<(u64, u64)>,
}

/// One LLM step: collects the deltas its observer forwards, and [`LlmStep::drive`]s the
/// call while turning them into events.
pub struct LlmStep {
    stage: Stage,
    task_id: Option<String>,
    tx: mpsc::UnboundedSender<Delta>,
    rx: mpsc::UnboundedReceiver<Delta>,
    files: HashMap<String, Writing>,
    order: Vec<String>,
    usage: TokenUsage,
    retries: u64,
}

impl LlmStep {
    /// A step of `stage`, for task `task_id` (none for the plan).
    pub fn new(stage: Stage, task_id: Option<&str>) -> LlmStep {
        let (tx, rx) = mpsc::unbounded_channel();
        LlmStep {
            stage,
            task_id: task_id.map(str::to_string),
            tx,
            rx,
            files: HashMap::new(),
            order: Vec::new(),
            usage: TokenUsage::default(),
            retries: 0,
        }
    }

    /// The callback to hand the `*_observed` call (as `&mut observer`): it forwards the
    /// deltas this step turns into events (progress, usage, retries), nothing else.
    pub fn observer(&self) -> impl FnMut(&Delta) + Send + 'static {
        let tx = self.tx.clone();
        move |delta: &Delta| {
            if matches!(
                delta,
                Delta::ToolProgress { .. } | Delta::Usage(_) | Delta::Retry { .. }
            ) {
                let _ = tx.send(delta.clone());
            }
        }
    }

    /// Runs `call` until it answers, emitting `file_progress` batches as it streams and a
    /// `usage` event once it is over (success or not). A cancelled build drops `call` at
    /// once (its HTTP request is aborted) and answers [`StageError::Cancelled`]; the
    /// inner result is the call's own.
    pub async fn drive<T>(
        mut self,
        job: &mut Job,
        call: impl Future<Output = Result<(T, CallSummary), LlmError>>,
    ) -> Result<Result<T, LlmError>, StageError> {
        let cancel = job.cancelled().clone();
        let mut tick = tokio::time::interval(BATCH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(call);
        let outcome = loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(StageError::Cancelled),
                Some(delta) = self.rx.recv() => self.see(delta),
                outcome = &mut call => break outcome,
                _ = tick.tick() => self.flush(job, false).await?,
            }
        };
        while let Ok(delta) = self.rx.try_recv() {
            self.see(delta);
        }
        self.flush(job, true).await?;
        if !self.usage.is_empty() {
            let key = format!(
                "usage:{}:{}",
                self.task_id.as_deref().unwrap_or(self.stage.as_str()),
                job.attempt
            );
            let report = UsageReport {
                stage: self.stage,
                task_id: self.task_id.clone(),
                usage: std::mem::take(&mut self.usage),
                retries: self.retries,
            };
            job.emit_keyed(&key, EventBody::Usage(report)).await?;
        }
        Ok(outcome.map(|(answer, _)| answer))
    }

    fn see(&mut self, delta: Delta) {
        match delta {
            Delta::ToolProgress {
                id,
                path,
                bytes,
                lines,
                ..
            } => {
                let writing = self.files.entry(id.clone()).or_insert_with(|| {
                    self.order.push(id);
                    Writing {
                        path: None,
                        bytes: 0,
                        lines: 0,
                        since: Instant::now(),
                        sent: None,
                    }
                });
                if path.is_some() {
                    writing.path = path;
                }
                writing.bytes = bytes;
                writing.lines = lines;
            }
            Delta::Usage(usage) => self.usage.add(&TokenUsage {
                provider: usage.provider.to_string(),
                model: usage.model,
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
                cache_creation_input_tokens: usage.cache_creation_input_tokens,
                cache_read_input_tokens: usage.cache_read_input_tokens,
                calls: 1,
            }),
            Delta::Retry { .. } => {
                // The turn starts again from zero: so do its files.
                self.retries += 1;
                self.files.clear();
                self.order.clear();
            }
            Delta::Text(_) | Delta::ToolUse { .. } => {}
        }
    }

    /// Sends the figures [`LlmStep::due`] picks, each under a key of its content so a
    /// retried attempt stores none twice.
    async fn flush(&mut self, job: &mut Job, last: bool) -> Result<(), StageError> {
        for (key, progress) in self.due(last) {
            job.emit_keyed(&key, EventBody::FileProgress(progress))
                .await?;
        }
        Ok(())
    }

    /// The figures of files that changed since they were last sent: those growing for at
    /// least [`BATCH`], or (`last`) those already shown, so their final figure is. Marks
    /// them sent.
    fn due(&mut self, last: bool) -> Vec<(String, FileProgress)> {
        let task_id = self.task_id.clone().unwrap_or_default();
        let mut due = Vec::new();
        for id in &self.order {
            let Some(writing) = self.files.get_mut(id) else {
                continue;
            };
            let Some(path) = writing.path.clone() else {
                continue;
            };
            let figures = (writing.bytes, writing.lines);
            let ready = writing.sent.is_some() || (!last && writing.since.elapsed() >= BATCH);
            if !ready || writing.sent == Some(figures) {
                continue;
            }
            writing.sent = Some(figures);
            due.push((
                format!("file:{task_id}:{id}:{}", figures.0),
                FileProgress {
                    task_id: task_id.clone(),
                    path,
                    bytes: figures.0,
                    lines: figures.1,
                },
            ));
        }
        due
    }
}

/// Ends the build for an LLM failure: `<stage>_failed` with the error's `code`,
/// `retryable` and `suggestedAction`, then a soft `failed` (the provider's or the model's
/// trouble never counts towards the user's circuit breaker). The stage has already
/// retried what could be retried (`BUILDWIRE_LLM_RETRIES`), so the command is not
/// redelivered. Under the stage loop's failure keys, so either is stored once.
pub async fn fail_llm(job: &mut Job, err: &LlmError) -> Result<(), StageError> {
    let stage = job.stage();
    let code = err.code();
    tracing::error!(%stage, code, %err, "LLM step failed; failing the build");
    buildwire_runtime::metrics::stages().error(stage, code);
    let failed = StageFailed {
        failure: StageFailure {
            code: code.into(),
            error: err.to_string(),
            retryable: err.is_retryable(),
            attempts: job.attempt,
        },
        suggested_action: Some(err.suggested_action()),
    };
    let body = match stage {
        Stage::Plan => EventBody::PlanFailed(failed),
        Stage::Execute => EventBody::ExecuteFailed(failed),
        other => other.failure_body(failed.failure),
    };
    job.emit_keyed("failed", body).await?;
    job.emit_keyed(
        "failed:terminal",
        EventBody::Failed(Failed {
            stage,
            code: code.into(),
            message: format!("{stage} failed: {err}"),
            severity: ErrorSeverity::Soft,
        }),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(id: &str, path: Option<&str>, bytes: u64, lines: u64) -> Delta {
        Delta::ToolProgress {
            id: id.into(),
            name: "write_file".into(),
            path: path.map(str::to_string),
            bytes,
            lines,
        }
    }

    fn figures(due: &[(String, FileProgress)]) -> Vec<(&str, u64, u64)> {
        due.iter()
            .map(|(_, p)| (p.path.as_str(), p.bytes, p.lines))
            .collect()
    }

    #[test]
    fn files_are_batched_per_file_and_end_on_their_last_figures() {
        let mut step = LlmStep::new(Stage::Execute, Some("t1"));
        step.see(progress("a", None, 0, 0));
        step.see(progress("a", Some("src/A.tsx"), 10, 1));
        step.see(progress("b", Some("src/B.tsx"), 5, 1));
        assert!(step.due(false).is_empty(), "nothing in the first 250 ms");
        std::thread::sleep(BATCH);
        step.see(progress("a", None, 40, 3));
        let due = step.due(false);
        assert_eq!(figures(&due), [("src/A.tsx", 40, 3), ("src/B.tsx", 5, 1)]);
        assert_eq!(due[0].0, "file:t1:a:40");
        assert!(step.due(false).is_empty(), "unchanged: nothing again");
        step.see(progress("a", None, 90, 7));
        step.see(progress("c", Some("src/C.tsx"), 3, 1));
        // The end: a shown file's final figure goes; a file never shown stays unshown.
        assert_eq!(figures(&step.due(true)), [("src/A.tsx", 90, 7)]);
    }

    #[test]
    fn usage_adds_up_and_a_retry_starts_the_files_again() {
        let mut step = LlmStep::new(Stage::Plan, None);
        let usage = |input| {
            Delta::Usage(buildwire_llm::Usage {
                provider: "anthropic",
                model: "claude-fake".into(),
                input_tokens: input,
                output_tokens: 2,
                cache_creation_input_tokens: 3,
                cache_read_input_tokens: 4,
            })
        };
        step.see(usage(10));
        step.see(progress("a", Some("x.ts"), 1, 1));
        step.see(Delta::Retry {
            attempt: 1,
            wait: Duration::from_millis(5),
            reason: "529".into(),
        });
        step.see(usage(20));
        assert!(step.files.is_empty());
        assert_eq!(
            (step.usage.input_tokens, step.usage.calls, step.retries),
            (30, 2, 1)
        );
        assert_eq!(step.usage.provider, "anthropic");
    }
}
