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
  | FileProgressEvent
  | UsageEvent
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
} & StageFailed;
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
 * A file the model is writing, so far (batched: a few per second per file).
 */
export type FileProgressEvent = {
  type: "file_progress";
} & FileProgress;
/**
 * Tokens one LLM step (the plan, a task, a build fix) used.
 */
export type UsageEvent = {
  type: "usage";
} & UsageReport;
/**
 * The execute stage gave up.
 */
export type ExecuteFailedEvent = {
  type: "execute_failed";
} & StageFailed;
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
    | "DEPLOY"
    | "FIX";
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
 * `plan_failed`, `execute_failed`: why the stage gave up ([`StageFailure`]'s fields) and
 * what to do about it. Derefs to the [`StageFailure`].
 */
export interface StageFailed {
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
  /**
   * What the user or the operator could do about it ("Set a valid ANTHROPIC_API_KEY").
   */
  suggestedAction?: string | null;
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
 * `file_progress`: how far the model has written one file of a task (`write_file`
 * streaming), for views such as "Creating src/components/TodoList.tsx... 120 lines".
 * Batched: at most one per file every 250 ms while it grows, plus its final figure; a file
 * written whole within 250 ms has none (its task's `task_completed` lists it).
 */
export interface FileProgress {
  /**
   * Content written so far, in UTF-8 bytes.
   */
  bytes: number;
  /**
   * Content lines written so far (a last line without newline included).
   */
  lines: number;
  /**
   * The file, relative to the project root (as the model wrote it; checked when the
   * task applies it).
   */
  path: string;
  /**
   * The task writing it (a plan task's id, or `fix-build-<n>` for an auto-fix attempt).
   */
  taskId: string;
}
/**
 * `usage`: the tokens one LLM step used (the plan, one task, one auto-fix attempt), sent
 * once the step's calls are over, whether it succeeded or not. A build's total is the
 * sum, in `GET /v1/builds/{id}` (`usage`).
 */
export interface UsageReport {
  /**
   * Input tokens written to the prompt cache.
   */
  cacheCreationInputTokens: number;
  /**
   * Input tokens read from the prompt cache.
   */
  cacheReadInputTokens: number;
  /**
   * Model calls (turns) counted.
   */
  calls: number;
  /**
   * Uncached input tokens.
   */
  inputTokens: number;
  /**
   * The model that answered, as the provider named it.
   */
  model: string;
  /**
   * Output tokens.
   */
  outputTokens: number;
  /**
   * `anthropic`, `openai`.
   */
  provider: string;
  /**
   * Retries the step spent (429, 529, 5xx, cut streams).
   */
  retries: number;
  /**
   * The stage that made the calls (`plan`, `execute`, `build` for auto-fix).
   */
  stage: "plan" | "execute" | "build" | "deploy";
  /**
   * The task, for `execute` and auto-fix steps.
   */
  taskId?: string | null;
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
   * Signed, expiring URL of the full log. Stored events hold a reference; the edge
   * signs it each time it hands the event out.
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
  /**
   * What the user or the operator could do about a failure (`deploy_failed`).
   */
  suggestedAction?: string | null;
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
   * Signed, expiring URL of the full build log. Stored events hold a reference; the
   * edge signs it each time it hands the event out.
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
   * Signed URL of the deploy target's log (Cloudflare Pages' stage logs), once the
   * deploy kept one; `null` otherwise (the `local` target keeps none).
   */
  deployLogUrl: string | null;
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
   * The build's trace id (32 hex digits, W3C trace context): the main app's trace when
   * it sent a `traceparent` with the submission, else the one the edge started. Look the
   * build up in the trace backend (Jaeger) with it. Set by `GET /v1/builds/{id}` and
   * the cancel answer; `null` when not known (the build's first event no longer held by
   * JetStream) and in a stream's `snapshot`.
   */
  traceId: string | null;
  /**
   * When the progress last changed.
   */
  updatedAt: string;
  /**
   * LLM tokens the build used so far: the sum of its `usage` events (null until one;
   * the offline provider reports none).
   */
  usage: TokenUsage | null;
}
/**
 * Tokens used by LLM calls, as the provider reported them. `inputTokens` excludes cached
 * input, so the whole input is `inputTokens + cacheCreationInputTokens +
 * cacheReadInputTokens`.
 */
export interface TokenUsage {
  /**
   * Input tokens written to the prompt cache.
   */
  cacheCreationInputTokens: number;
  /**
   * Input tokens read from the prompt cache.
   */
  cacheReadInputTokens: number;
  /**
   * Model calls (turns) counted.
   */
  calls: number;
  /**
   * Uncached input tokens.
   */
  inputTokens: number;
  /**
   * The model that answered, as the provider named it.
   */
  model: string;
  /**
   * Output tokens.
   */
  outputTokens: number;
  /**
   * `anthropic`, `openai`.
   */
  provider: string;
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
