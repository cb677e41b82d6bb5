//! Build events: what stages publish to `build.<id>.events` and what browsers receive.
//!
//! Field names follow the plan (`taskId`, `filesCreated`, `previewUrl`, `timestamp`, ...).
//! The envelope (`seq`, `buildId`, `type`, `timestamp`, `requestId`) is shared by every
//! event; the rest depends on `type`.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod llm;

pub use llm::{FileProgress, StageFailed, TokenUsage, UsageReport};

/// A stage of the pipeline: each is one service consuming `build.*.cmd.<stage>`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Turns the prompt into a plan of tasks.
    Plan,
    /// Writes the project's files, task by task.
    Execute,
    /// Runs `npm install` and `npm run build`.
    Build,
    /// Publishes the built output as a preview.
    Deploy,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 4] = [Stage::Plan, Stage::Execute, Stage::Build, Stage::Deploy];

    /// The stage's name as used in subjects, consumer names and `Nats-Msg-Id`s.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Plan => "plan",
            Stage::Execute => "execute",
            Stage::Build => "build",
            Stage::Deploy => "deploy",
        }
    }

    /// The build status while this stage works.
    pub fn status(self) -> BuildStatus {
        match self {
            Stage::Plan => BuildStatus::Planning,
            Stage::Execute => BuildStatus::Executing,
            Stage::Build => BuildStatus::Building,
            Stage::Deploy => BuildStatus::Deploying,
        }
    }

    /// The event that reports this stage gave up (`plan_failed`, ..., `deploy_failed`).
    pub fn failure_body(self, failure: StageFailure) -> EventBody {
        match self {
            Stage::Plan => EventBody::PlanFailed(failure.into()),
            Stage::Execute => EventBody::ExecuteFailed(failure.into()),
            Stage::Build => EventBody::BuildFailed(BuildUpdate {
                failure: Some(failure),
                ..BuildUpdate::default()
            }),
            Stage::Deploy => EventBody::DeployFailed(DeployUpdate {
                failure: Some(failure),
                ..DeployUpdate::default()
            }),
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == s)
            .ok_or_else(|| format!("unknown stage `{s}` (expected plan, execute, build or deploy)"))
    }
}

/// Where a build stands, as `GET /v1/builds/{id}` reports it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum BuildStatus {
    /// Accepted, waiting for the plan stage.
    Queued,
    /// The plan stage is working.
    Planning,
    /// The execute stage is writing files.
    Executing,
    /// npm install / build is running.
    Building,
    /// The preview is being published.
    Deploying,
    /// Finished with a preview.
    Completed,
    /// Finished without a preview.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl BuildStatus {
    /// The stage working while the build has this status (none when queued or ended).
    pub fn stage(self) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.status() == self)
    }

    /// Whether no further event will change this build.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            BuildStatus::Completed | BuildStatus::Failed | BuildStatus::Cancelled
        )
    }
}

/// One event of a build.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The event's JetStream stream sequence: increasing within a build, not contiguous.
    /// It is the SSE `id:`, the WebSocket `seq` and the resume cursor. Absent (0) in the
    /// stored message body, since the stream assigns it; always set when delivered.
    #[serde(default, skip_serializing_if = "is_unset")]
    pub seq: u64,
    /// The build (a ULID).
    pub build_id: String,
    /// When the event was produced (ISO 8601, UTC).
    #[serde(with = "iso8601")]
    #[schemars(with = "DateTime<Utc>")]
    pub timestamp: DateTime<Utc>,
    /// The request that started the build, for tracing across services.
    pub request_id: String,
    /// What happened; carries the `type` field.
    #[serde(flatten)]
    pub body: EventBody,
}

fn is_unset(seq: &u64) -> bool {
    *seq == 0
}

impl Event {
    /// A new, not yet stored event stamped now.
    pub fn new(
        build_id: impl Into<String>,
        request_id: impl Into<String>,
        body: EventBody,
    ) -> Self {
        Event {
            seq: 0,
            build_id: build_id.into(),
            timestamp: Utc::now(),
            request_id: request_id.into(),
            body,
        }
    }

    /// The `type` field's value.
    pub fn type_name(&self) -> &'static str {
        self.body.type_name()
    }

    /// Whether this event ends the build's stream (`complete`, `failed`, `cancelled`).
    pub fn is_terminal(&self) -> bool {
        self.body.is_terminal()
    }
}

/// Timestamps as RFC 3339 with milliseconds and `Z`, the form browsers' `Date` parses.
mod iso8601 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// The part of an event that depends on its `type`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A human status line with a compact code.
    Status(StatusUpdate),
    /// The plan stage's plan.
    PlanGenerated(PlanGenerated),
    /// The plan stage gave up.
    PlanFailed(StageFailed),
    /// A task began.
    TaskStarted(TaskUpdate),
    /// A task finished, with the files it wrote.
    TaskCompleted(TaskUpdate),
    /// A task failed.
    TaskFailed(TaskUpdate),
    /// A file the model is writing, so far (batched: a few per second per file).
    FileProgress(FileProgress),
    /// Tokens one LLM step (the plan, a task, a build fix) used.
    Usage(UsageReport),
    /// The execute stage gave up.
    ExecuteFailed(StageFailed),
    /// npm work began.
    BuildStarted(BuildUpdate),
    /// A batch of build log lines.
    BuildProgress(BuildUpdate),
    /// npm work finished.
    BuildCompleted(BuildUpdate),
    /// npm work failed, or the build stage gave up.
    BuildFailed(BuildUpdate),
    /// Publishing the preview began.
    DeployStarted(DeployUpdate),
    /// Publishing progress.
    DeployProgress(DeployUpdate),
    /// The preview is live.
    DeployCompleted(DeployUpdate),
    /// Publishing failed, or the deploy stage gave up.
    DeployFailed(DeployUpdate),
    /// A line of the deploy target's log.
    DeployLog(DeployLog),
    /// A classified error (soft: retried; fatal: the build stops).
    Error(ErrorReport),
    /// Terminal: the build finished with a preview.
    Complete(Complete),
    /// Terminal: the build finished without a preview.
    Failed(Failed),
    /// Terminal: the build was cancelled.
    Cancelled(Cancelled),
    /// The build's current state, sent when history is gone (`recovered: false`).
    Snapshot(Snapshot),
    /// A stream's greeting.
    Connected(Connected),
    /// Keeps idle streams open through proxies.
    Heartbeat(Heartbeat),
}

impl EventBody {
    /// The `type` field's value.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::Status(_) => "status",
            EventBody::PlanGenerated(_) => "plan_generated",
            EventBody::PlanFailed(_) => "plan_failed",
            EventBody::TaskStarted(_) => "task_started",
            EventBody::TaskCompleted(_) => "task_completed",
            EventBody::TaskFailed(_) => "task_failed",
            EventBody::FileProgress(_) => "file_progress",
            EventBody::Usage(_) => "usage",
            EventBody::ExecuteFailed(_) => "execute_failed",
            EventBody::BuildStarted(_) => "build_started",
            EventBody::BuildProgress(_) => "build_progress",
            EventBody::BuildCompleted(_) => "build_completed",
            EventBody::BuildFailed(_) => "build_failed",
            EventBody::DeployStarted(_) => "deploy_started",
            EventBody::DeployProgress(_) => "deploy_progress",
            EventBody::DeployCompleted(_) => "deploy_completed",
            EventBody::DeployFailed(_) => "deploy_failed",
            EventBody::DeployLog(_) => "deploy_log",
            EventBody::Error(_) => "error",
            EventBody::Complete(_) => "complete",
            EventBody::Failed(_) => "failed",
            EventBody::Cancelled(_) => "cancelled",
            EventBody::Snapshot(_) => "snapshot",
            EventBody::Connected(_) => "connected",
            EventBody::Heartbeat(_) => "heartbeat",
        }
    }

    /// Whether this event ends the build's stream.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventBody::Complete(_) | EventBody::Failed(_) | EventBody::Cancelled(_)
        )
    }
}

/// The plan's compact status codes; clients map them back to messages and emoji.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatusCode {
    /// Accepted and waiting for a worker.
    Queued,
    /// Analyzing requirements.
    Analyze,
    /// Creating project structure.
    Struct,
    /// Writing the project's files.
    Write,
    /// Installing dependencies.
    Install,
    /// Compiling TypeScript.
    Compile,
    /// Running the linter.
    Lint,
    /// Running tests.
    Test,
    /// Building the application.
    Build,
    /// Optimizing assets.
    Optimize,
    /// Deploying to preview.
    Deploy,
    /// Fixing build errors: a failed `npm run build` went back to the model (auto-fix).
    Fix,
}

/// `status`: a step's human message beside its compact code.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StatusUpdate {
    /// Compact code for the step.
    pub code: StatusCode,
    /// Human message ("Analyzing requirements...").
    pub message: String,
    /// Overall progress, 0-100, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    /// The build status this step belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_status: Option<BuildStatus>,
}

/// `plan_generated`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlanGenerated {
    /// The plan.
    pub plan: Plan,
}

/// A plan: the tasks the execute stage will run, in order.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Plan id.
    pub id: String,
    /// Tasks in execution order.
    pub tasks: Vec<PlanTask>,
    /// Sum of the tasks' estimates, in milliseconds.
    pub total_estimated_time: u64,
}

/// One task of a plan.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlanTask {
    /// Task id, unique within the plan.
    pub id: String,
    /// Short name ("Create components/TodoList.tsx").
    pub name: String,
    /// What the task does.
    pub description: String,
    /// Estimate in milliseconds.
    pub estimated_duration: u64,
}

/// `task_started`, `task_completed`, `task_failed`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskUpdate {
    /// The plan task's id.
    pub task_id: String,
    /// The plan task's name.
    pub task_name: String,
    /// Files written, or the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<TaskDetails>,
}

/// What a task did.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskDetails {
    /// Paths created, relative to the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_created: Option<Vec<String>>,
    /// Paths changed, relative to the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_modified: Option<Vec<String>>,
    /// Why the task failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Why a stage gave up; carried by `plan_failed`, `execute_failed`, `build_failed` and
/// `deploy_failed` (the event's `type` names the stage).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StageFailure {
    /// Machine-readable reason (`MAX_DELIVER`, `TIMEOUT`, `INVALID_PATH`, ...).
    pub code: String,
    /// Human-readable reason.
    pub error: String,
    /// Whether submitting again may succeed.
    pub retryable: bool,
    /// Deliveries of the command used up.
    pub attempts: u64,
}

/// Sub-step of the build stage.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BuildPhase {
    /// `npm install`.
    Dependencies,
    /// `npm run build`.
    Compile,
    /// Post-build optimization.
    Optimize,
}

/// Log severity.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Informational.
    Info,
    /// Worth a look.
    Warning,
    /// Something failed.
    Error,
    /// The build cannot continue.
    Fatal,
}

/// `build_started`, `build_progress`, `build_completed`, `build_failed`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BuildUpdate {
    /// Which npm step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<BuildPhase>,
    /// Log lines (batched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<String>>,
    /// Signed, expiring URL of the full log. Stored events hold a reference; the edge
    /// signs it each time it hands the event out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_log_url: Option<String>,
    /// Severity of these lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Why it failed (`build_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none", flatten)]
    pub failure: Option<StageFailure>,
}

/// `deploy_started`, `deploy_progress`, `deploy_completed`, `deploy_failed`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeployUpdate {
    /// Where the preview is served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
    /// The target's deployment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// URL of the deploy log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_log_url: Option<String>,
    /// Human message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the user or the operator could do about a failure (`deploy_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_action: Option<String>,
    /// Why it failed (`deploy_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none", flatten)]
    pub failure: Option<StageFailure>,
}

/// `deploy_log`: a line from the deploy target.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeployLog {
    /// The line.
    pub message: String,
    /// Its level.
    pub level: Severity,
}

/// Whether an error may go away on retry.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSeverity {
    /// Retryable; does not count towards the circuit breaker.
    Soft,
    /// The build stops; counts towards the circuit breaker.
    Fatal,
}

/// `error`: a classified error.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorReport {
    /// Soft or fatal.
    pub severity: ErrorSeverity,
    /// Machine-readable code.
    pub code: String,
    /// Human message.
    pub message: String,
    /// Whether retrying may succeed.
    pub retryable: bool,
    /// What the user could do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_action: Option<String>,
}

/// `complete` (terminal).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Complete {
    /// Where the app is served.
    pub preview_url: String,
    /// Human message ("Your app is ready!").
    pub message: String,
    /// Signed, expiring URL of the full build log. Stored events hold a reference; the
    /// edge signs it each time it hands the event out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_log_url: Option<String>,
}

/// `failed` (terminal).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Failed {
    /// The stage that failed.
    pub stage: Stage,
    /// Machine-readable code.
    pub code: String,
    /// Human message.
    pub message: String,
    /// Soft (retryable) or fatal; only fatal failures count towards the circuit breaker.
    pub severity: ErrorSeverity,
}

/// `cancelled` (terminal).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Cancelled {
    /// Human message.
    pub message: String,
    /// The stage that was stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
}

/// `snapshot`: the build's state when its history cannot be replayed.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Current progress.
    pub progress: crate::api::BuildProgress,
}

/// `connected`: a stream's greeting.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    /// The build's newest stored sequence (0 when none).
    pub last_seq: u64,
    /// Whether everything after the client's cursor will be delivered; false means
    /// history is gone and a `snapshot` follows.
    pub recovered: bool,
}

/// `heartbeat`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct Heartbeat {}
