//! The probe stage: a real stage on the shared stage loop whose behaviour a test chooses
//! per command (`extra.probe`): how many steps, how slow, whether it fails or crashes. The
//! tests run it as a separate process (`probe-stage`) so they can really kill it.

use std::{io::Write, time::Duration};

use buildwire_runtime::stage::{Job, StageError, StageHandler};
use buildwire_schemas::{
    EventBody, Stage,
    events::{StatusCode, StatusUpdate},
};
use serde::Deserialize;

/// How the probe treats one command (`extra.probe` of the command).
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default, rename_all = "camelCase")]
pub struct ProbeBehaviour {
    /// Status events to emit (default 3).
    pub steps: Option<u32>,
    /// Pause after each step; overrides the process's `PROBE_STEP_DELAY_MS`.
    pub delay_ms: Option<u64>,
    /// `always`: fail every attempt (retryable); `fatal`: fail at once; `crash`: abort the
    /// process after the first step.
    pub fail: Option<String>,
}

/// The probe handler.
#[derive(Debug, Clone)]
pub struct ProbeStage {
    /// The stage it serves.
    pub stage: Stage,
    /// Default pause after each step.
    pub step_delay: Duration,
    /// File to append `completed <buildId> <pid> <attempt>` lines to.
    pub log: Option<std::path::PathBuf>,
}

impl ProbeStage {
    fn record(&self, line: &str) {
        if let Some(path) = &self.log
            && let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        {
            let _ = writeln!(file, "{line}");
        }
    }
}

impl StageHandler for ProbeStage {
    fn stage(&self) -> Stage {
        self.stage
    }

    async fn handle(&self, job: &mut Job) -> Result<(), StageError> {
        let behaviour: ProbeBehaviour = job
            .command
            .extra
            .get("probe")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| StageError::fatal("PROBE_CONFIG", e.to_string()))?
            .unwrap_or_default();
        let steps = behaviour.steps.unwrap_or(3);
        let delay = behaviour
            .delay_ms
            .map(Duration::from_millis)
            .unwrap_or(self.step_delay);
        let pid = std::process::id();
        self.record(&format!(
            "started {} {pid} {}",
            job.command.build_id, job.attempt
        ));
        match behaviour.fail.as_deref() {
            Some("always") => {
                return Err(StageError::retryable(
                    "PROBE_FAILS",
                    "the probe fails every attempt",
                ));
            }
            Some("fatal") => {
                return Err(StageError::fatal("PROBE_FATAL", "the probe cannot do this"));
            }
            _ => {}
        }
        for step in 1..=steps {
            let body = EventBody::Status(StatusUpdate {
                code: StatusCode::Analyze,
                message: format!("probe step {step}/{steps}"),
                progress: Some(u8::try_from(step * 100 / steps.max(1)).unwrap_or(100)),
                build_status: Some(self.stage.status()),
            });
            job.emit(body).await?;
            if behaviour.fail.as_deref() == Some("crash") {
                std::process::abort();
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = job.interrupted().cancelled() => return Err(StageError::Interrupted),
                _ = job.cancelled().cancelled() => return Err(StageError::Cancelled),
            }
        }
        if let Some(next) = Stage::ALL.iter().skip_while(|s| **s != self.stage).nth(1) {
            let command = job.command.clone();
            job.forward(*next, &command).await?;
        }
        self.record(&format!(
            "completed {} {pid} {}",
            job.command.build_id, job.attempt
        ));
        Ok(())
    }
}
