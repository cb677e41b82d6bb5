// Generated from schemas/json/event.schema.json by clients/web/scripts/types.mjs: do not edit.

/**
 * One event of a build.
 */
export type Event = {
  /**
   * The build (a ULID).
   */
  buildId: string;
  /**
   * The request that started the build, for tracing across services.
   */
  requestId: string;
  /**
   * The event's JetStream stream sequence: increasing within a build, not contiguous.
   * It is the SSE `id:`, the WebSocket `seq` and the resume cursor. Absent (0) in the
   * stored message body, since the stream assigns it; always set when delivered.
   */
  seq?: number;
  /**
   * When the event was produced (ISO 8601, UTC).
   */
  timestamp: string;
} & (
  | StatusEvent
  | PlanGeneratedEvent
  | PlanFailedEvent
  | TaskStartedEvent
  | TaskCompletedEvent
  | TaskFailedEvent
  | ExecuteFailedEvent
  | BuildStartedEvent
  | BuildProgressEvent
  | BuildCompletedEvent
  | BuildFailedEvent
  | DeployStartedEvent
  | DeployProgressEvent
  | DeployCompletedEvent
  | DeployFailedEvent
  | DeployLogEvent
  | ErrorEvent
  | CompleteEvent
  | FailedEvent
  | CancelledEvent
  | SnapshotEvent
  | ConnectedEvent
  | HeartbeatEvent
);
/**
 * A human status line with a compact code.
 */
export type StatusEvent = {
  type: "status";
} & StatusUpdate;
/**
 * Where a build stands, as `GET /v1/builds/{id}` reports it.
 */
export type BuildStatus =
  "queued" | "planning" | "executing" | "building" | "deploying" | "completed" | "failed" | "cancelled";
/**
 * The plan stage's plan.
 */
export type PlanGeneratedEvent = {
  type: "plan_generated";
} & PlanGenerated;
/**
 * The plan stage gave up.
 */
export type PlanFailedEvent = {
  type: "plan_failed";
} & StageFailure;
/**
 * A task began.
 */
export type TaskStartedEvent = {
  type: "task_started";
} & TaskUpdate;
/**
 * A task finished, with the files it wrote.
 */
export type TaskCompletedEvent = {
  type: "task_completed";
} & TaskUpdate;
/**
 * A task failed.
 */
export type TaskFailedEvent = {
  type: "task_failed";
} & TaskUpdate;
/**
 * The execute stage gave up.
 */
export type ExecuteFailedEvent = {
  type: "execute_failed";
} & StageFailure;
/**
 * npm work began.
 */
export type BuildStartedEvent = {
  type: "build_started";
} & BuildUpdate;
/**
 * Log severity.
 */
export type Severity = "info" | "warning" | "error" | "fatal";
/**
 * Sub-step of the build stage.
 */
export type BuildPhase = "dependencies" | "compile" | "optimize";
/**
 * A batch of build log lines.
 */
export type BuildProgressEvent = {
  type: "build_progress";
} & BuildUpdate;
/**
 * npm work finished.
 */
export type BuildCompletedEvent = {
  type: "build_completed";
} & BuildUpdate;
/**
 * npm work failed, or the build stage gave up.
 */
export type BuildFailedEvent = {
  type: "build_failed";
} & BuildUpdate;
/**
 * Publishing the preview began.
 */
export type DeployStartedEvent = {
  type: "deploy_started";
} & DeployUpdate;
/**
 * Publishing progress.
 */
export type DeployProgressEvent = {
  type: "deploy_progress";
} & DeployUpdate;
/**
 * The preview is live.
 */
export type DeployCompletedEvent = {
  type: "deploy_completed";
} & DeployUpdate;
/**
 * Publishing failed, or the deploy stage gave up.
 */
export type DeployFailedEvent = {
  type: "deploy_failed";
} & DeployUpdate;
/**
 * A line of the deploy target's log.
 */
export type DeployLogEvent = {
  type: "deploy_log";
} & DeployLog;
/**
 * A classified error (soft: retried; fatal: the build stops).
 */
export type ErrorEvent = {
  type: "error";
} & ErrorReport;
/**
 * Terminal: the build finished with a preview.
 */
export type CompleteEvent = {
  type: "complete";
} & Complete;
/**
 * Terminal: the build finished without a preview.
 */
export type FailedEvent = {
  type: "failed";
} & Failed;
/**
 * Terminal: the build was cancelled.
 */
export type CancelledEvent = {
  type: "cancelled";
} & Cancelled;
/**
 * A stage of the pipeline: each is one service consuming `build.*.cmd.<stage>`.
 */
export type Stage = "plan" | "execute" | "build" | "deploy";
/**
 * The build's current state, sent when history is gone (`recovered: false`).
 */
export type SnapshotEvent = {
  type: "snapshot";
} & Snapshot;
/**
 * A stream's greeting.
 */
export type ConnectedEvent = {
  type: "connected";
} & Connected;
/**
 * Keeps idle streams open through proxies.
 */
export type HeartbeatEvent = {
  type: "heartbeat";
} & Heartbeat;

/**
 * `status`: a step's human message beside its compact code.
 */
export interface StatusUpdate {
  /**
   * The build status this step belongs to.
   */
  buildStatus?: BuildStatus | null;
  /**
   * Compact code for the step.
   */
  code:
    | "QUEUED"
    | "ANALYZE"
    | "STRUCT"
    | "WRITE"
    | "INSTALL"
    | "COMPILE"
    | "LINT"
    | "TEST"
    | "BUILD"
    | "OPTIMIZE"
    | "DEPLOY";
  /**
   * Human message ("Analyzing requirements...").
   */
  message: string;
  /**
   * Overall progress, 0-100, when known.
   */
  progress?: number | null;
}
/**
 * `plan_generated`.
 */
export interface PlanGenerated {
  plan: Plan;
}
/**
 * The plan.
 */
export interface Plan {
  /**
   * Plan id.
   */
  id: string;
  /**
   * Tasks in execution order.
   */
  tasks: PlanTask[];
  /**
   * Sum of the tasks' estimates, in milliseconds.
   */
  totalEstimatedTime: number;
}
/**
 * One task of a plan.
 */
export interface PlanTask {
  /**
   * What the task does.
   */
  description: string;
  /**
   * Estimate in milliseconds.
   */
  estimatedDuration: number;
  /**
   * Task id, unique within the plan.
   */
  id: string;
  /**
   * Short name ("Create components/TodoList.tsx").
   */
  name: string;
}
/**
 * Why a stage gave up; carried by `plan_failed`, `execute_failed`, `build_failed` and
 * `deploy_failed` (the event's `type` names the stage).
 */
export interface StageFailure {
  /**
   * Deliveries of the command used up.
   */
  attempts: number;
  /**
   * Machine-readable reason (`MAX_DELIVER`, `TIMEOUT`, `INVALID_PATH`, ...).
   */
  code: string;
  /**
   * Human-readable reason.
   */
  error: string;
  /**
   * Whether submitting again may succeed.
   */
  retryable: boolean;
}
/**
 * `task_started`, `task_completed`, `task_failed`.
 */
export interface TaskUpdate {
  /**
   * Files written, or the error.
   */
  details?: TaskDetails | null;
  /**
   * The plan task's id.
   */
  taskId: string;
  /**
   * The plan task's name.
   */
  taskName: string;
}
/**
 * What a task did.
 */
export interface TaskDetails {
  /**
   * Why the task failed.
   */
  error?: string | null;
  /**
   * Paths created, relative to the project root.
   */
  filesCreated?: string[] | null;
  /**
   * Paths changed, relative to the project root.
   */
  filesModified?: string[] | null;
}
/**
 * `build_started`, `build_progress`, `build_completed`, `build_failed`.
 */
export interface BuildUpdate {
  /**
   * Deliveries of the command used up.
   */
  attempts?: number;
  /**
   * Signed, expiring URL of the full log.
   */
  buildLogUrl?: string | null;
  /**
   * Machine-readable reason (`MAX_DELIVER`, `TIMEOUT`, `INVALID_PATH`, ...).
   */
  code?: string;
  /**
   * Human-readable reason.
   */
  error?: string;
  /**
   * Log lines (batched).
   */
  logs?: string[] | null;
  /**
   * Whether submitting again may succeed.
   */
  retryable?: boolean;
  /**
   * Severity of these lines.
   */
  severity?: Severity | null;
  /**
   * Which npm step.
   */
  stage?: BuildPhase | null;
}
/**
 * `deploy_started`, `deploy_progress`, `deploy_completed`, `deploy_failed`.
 */
export interface DeployUpdate {
  /**
   * Deliveries of the command used up.
   */
  attempts?: number;
  /**
   * Machine-readable reason (`MAX_DELIVER`, `TIMEOUT`, `INVALID_PATH`, ...).
   */
  code?: string;
  /**
   * URL of the deploy log.
   */
  deployLogUrl?: string | null;
  /**
   * The target's deployment id.
   */
  deploymentId?: string | null;
  /**
   * Human-readable reason.
   */
  error?: string;
  /**
   * Human message.
   */
  message?: string | null;
  /**
   * Where the preview is served.
   */
  previewUrl?: string | null;
  /**
   * Whether submitting again may succeed.
   */
  retryable?: boolean;
}
/**
 * `deploy_log`: a line from the deploy target.
 */
export interface DeployLog {
  /**
   * Log severity.
   */
  level: "info" | "warning" | "error" | "fatal";
  /**
   * The line.
   */
  message: string;
}
/**
 * `error`: a classified error.
 */
export interface ErrorReport {
  /**
   * Machine-readable code.
   */
  code: string;
  /**
   * Human message.
   */
  message: string;
  /**
   * Whether retrying may succeed.
   */
  retryable: boolean;
  /**
   * Soft or fatal.
   */
  severity: "soft" | "fatal";
  /**
   * What the user could do.
   */
  suggestedAction?: string | null;
}
/**
 * `complete` (terminal).
 */
export interface Complete {
  /**
   * Signed URL of the full build log.
   */
  buildLogUrl?: string | null;
  /**
   * Human message ("Your app is ready!").
   */
  message: string;
  /**
   * Where the app is served.
   */
  previewUrl: string;
}
/**
 * `failed` (terminal).
 */
export interface Failed {
  /**
   * Machine-readable code.
   */
  code: string;
  /**
   * Human message.
   */
  message: string;
  /**
   * Soft (retryable) or fatal; only fatal failures count towards the circuit breaker.
   */
  severity: "soft" | "fatal";
  /**
   * The stage that failed.
   */
  stage: "plan" | "execute" | "build" | "deploy";
}
/**
 * `cancelled` (terminal).
 */
export interface Cancelled {
  /**
   * Human message.
   */
  message: string;
  /**
   * The stage that was stopped.
   */
  stage?: Stage | null;
}
/**
 * `snapshot`: the build's state when its history cannot be replayed.
 */
export interface Snapshot {
  progress: BuildProgress;
}
/**
 * Current progress.
 */
export interface BuildProgress {
  /**
   * The build.
   */
  buildId: string;
  /**
   * Signed URL of the full build log.
   */
  buildLogUrl: string | null;
  /**
   * Step ids finished.
   */
  completedSteps: string[];
  /**
   * Why it failed.
   */
  errorMessage: string | null;
  /**
   * Sequence of the newest event applied.
   */
  lastSeq: number;
  /**
   * Preview, once deployed.
   */
  previewUrl: string | null;
  /**
   * Where a build stands, as `GET /v1/builds/{id}` reports it.
   */
  status: "queued" | "planning" | "executing" | "building" | "deploying" | "completed" | "failed" | "cancelled";
  /**
   * Step ids known so far, in order.
   */
  steps: string[];
  /**
   * When the progress last changed.
   */
  updatedAt: string;
}
/**
 * `connected`: a stream's greeting.
 */
export interface Connected {
  /**
   * The build's newest stored sequence (0 when none).
   */
  lastSeq: number;
  /**
   * Whether everything after the client's cursor will be delivered; false means
   * history is gone and a `snapshot` follows.
   */
  recovered: boolean;
}
/**
 * `heartbeat`.
 */
export interface Heartbeat {}
