// buildwire progress fold: turns a build's events, oldest first, into what a progress view
// draws. The status fields mirror the server's fold (schemas/src/progress.rs, the
// `BuildProgress` of `GET /v1/builds/{id}`, `usage` included); `lines` and `logs` are the
// view's own: a line per step (status messages and plan tasks, auto-fix attempts too) with
// its state and timing, the file a task is writing (`detail`: "Creating src/App.tsx... 120
// lines", from `file_progress`), and a log per stage.
//
//   import { createProgress, applyEvent } from "/client/progress.js";
//   let progress = createProgress(buildId);
//   progress = applyEvent(progress, event); // a new object; events at or below lastSeq are ignored
//
// No runtime dependencies; the React hook (react.js) and the demo page both use it.

/** The pipeline's stages, in order. */
export const STAGES = ["plan", "execute", "build", "deploy"];

/** Statuses after which nothing changes. */
export const TERMINAL_STATUSES = ["completed", "failed", "cancelled"];

const STAGE_OF_STATUS = {
  planning: "plan",
  executing: "execute",
  building: "build",
  deploying: "deploy",
};

// The plan's compact codes, for status events that carry no buildStatus.
const STAGE_OF_CODE = {
  ANALYZE: "plan",
  STRUCT: "plan",
  WRITE: "execute",
  INSTALL: "build",
  COMPILE: "build",
  LINT: "build",
  TEST: "build",
  BUILD: "build",
  OPTIMIZE: "build",
  DEPLOY: "deploy",
  FIX: "build",
};

// Statuses a task event may set: tasks also run while building (auto-fix attempts), and
// never move the build back.
const BEFORE_BUILDING = ["queued", "planning", "executing"];

const USAGE_FIELDS = ["inputTokens", "outputTokens", "cacheCreationInputTokens", "cacheReadInputTokens", "calls"];

/** The progress of a build no event has touched yet. */
export function createProgress(buildId) {
  return {
    buildId,
    status: "queued",
    steps: [],
    completedSteps: [],
    previewUrl: null,
    errorMessage: null,
    buildLogUrl: null,
    lastSeq: 0,
    updatedAt: null,
    usage: null,
    percent: 0,
    message: null,
    stage: null,
    lines: [],
    logs: { plan: [], execute: [], build: [], deploy: [] },
    applied: 0,
  };
}

function stageOf(event, previous) {
  const type = event.type;
  if (type === "status") {
    return STAGE_OF_STATUS[event.buildStatus] ?? STAGE_OF_CODE[event.code] ?? null;
  }
  if (type === "plan_generated" || type === "plan_failed") return "plan";
  if (type.startsWith("task_") || type === "file_progress") {
    return previous.status === "building" ? "build" : "execute";
  }
  if (type === "usage") return event.stage ?? null;
  if (type === "execute_failed") return "execute";
  if (type.startsWith("build_")) return "build";
  if (type.startsWith("deploy_")) return "deploy";
  return null;
}

/** Applies one event, answering a new progress (the old one is not changed). */
export function applyEvent(previous, event) {
  if (!event || typeof event.type !== "string") return previous;
  if (event.type === "connected" || event.type === "heartbeat") return previous;
  if (typeof event.seq === "number" && event.seq > 0 && event.seq <= previous.lastSeq) {
    return previous; // a replay: already applied
  }
  const p = {
    ...previous,
    steps: [...previous.steps],
    completedSteps: [...previous.completedSteps],
    lines: previous.lines.map((line) => ({ ...line })),
    logs: {
      plan: previous.logs.plan,
      execute: previous.logs.execute,
      build: previous.logs.build,
      deploy: previous.logs.deploy,
    },
    applied: previous.applied + 1,
  };
  if (typeof event.seq === "number" && event.seq > 0) p.lastSeq = event.seq;
  const at = event.timestamp ?? null;
  p.updatedAt = at;
  const stage = stageOf(event, previous);
  if (stage) p.stage = stage;
  const log = (text, level = "info") => {
    const where = stage ?? p.stage ?? "plan";
    p.logs[where] = [...p.logs[where], { text, level, at }];
  };
  const addStep = (id) => {
    if (!p.steps.includes(id)) p.steps.push(id);
  };
  let status = null;

  switch (event.type) {
    case "status":
      status = event.buildStatus ?? null;
      if (typeof event.progress === "number") p.percent = event.progress;
      startLine(p, `status:${event.code}`, event.message, stage, at);
      log(event.message);
      break;
    case "plan_generated":
      for (const task of event.plan?.tasks ?? []) addStep(task.id);
      log(`Plan: ${(event.plan?.tasks ?? []).map((t) => t.name).join(", ")}`);
      status = "planning";
      break;
    case "task_started":
      addStep(event.taskId);
      taskLine(p, event, "active", at);
      if (BEFORE_BUILDING.includes(p.status)) status = "executing";
      break;
    case "task_completed": {
      addStep(event.taskId);
      if (!p.completedSteps.includes(event.taskId)) p.completedSteps.push(event.taskId);
      taskLine(p, event, "done", at);
      const files = [...(event.details?.filesCreated ?? []), ...(event.details?.filesModified ?? [])];
      log(`${event.taskName}: ${files.length ? files.join(", ") : "done"}`);
      if (BEFORE_BUILDING.includes(p.status)) status = "executing";
      break;
    }
    case "file_progress": {
      const line = p.lines.find((l) => l.key === `task:${event.taskId}`);
      if (line && line.state === "active") line.detail = fileDetail(event.path, event.lines);
      break;
    }
    case "usage": {
      const total = { provider: "", model: "", ...(p.usage ?? {}) };
      if (!total.provider) total.provider = event.provider ?? "";
      if (!total.model) total.model = event.model ?? "";
      for (const field of USAGE_FIELDS) total[field] = (total[field] ?? 0) + (event[field] ?? 0);
      p.usage = total;
      break;
    }
    case "task_failed":
      taskLine(p, event, "failed", at);
      if (event.details?.error) {
        p.errorMessage = event.details.error;
        log(`${event.taskName}: ${event.details.error}`, "error");
      }
      break;
    case "build_started":
    case "build_progress":
    case "build_completed":
      if (event.buildLogUrl) p.buildLogUrl = event.buildLogUrl;
      for (const line of event.logs ?? []) log(line, event.severity ?? "info");
      status = "building";
      break;
    case "build_failed":
      if (event.buildLogUrl) p.buildLogUrl = event.buildLogUrl;
      for (const line of event.logs ?? []) log(line, event.severity ?? "error");
      if (event.failure) {
        p.errorMessage = event.failure.error;
        log(event.failure.error, "error");
      }
      break;
    case "deploy_started":
    case "deploy_progress":
    case "deploy_completed":
      if (event.previewUrl) p.previewUrl = event.previewUrl;
      if (event.message) log(event.message);
      status = "deploying";
      break;
    case "deploy_failed":
    case "plan_failed":
    case "execute_failed": {
      const failure = event.type === "deploy_failed" ? event.failure : event;
      if (failure?.error) {
        p.errorMessage = failure.error;
        log(failure.error, "error");
      }
      break;
    }
    case "deploy_log":
      log(event.message, event.level ?? "info");
      break;
    case "error":
      log(`${event.code}: ${event.message}`, event.severity === "fatal" ? "error" : "warning");
      break;
    case "complete":
      p.previewUrl = event.previewUrl;
      if (event.buildLogUrl) p.buildLogUrl = event.buildLogUrl;
      p.message = event.message;
      p.percent = 100;
      endLines(p, "done", at);
      status = "completed";
      break;
    case "failed":
    case "cancelled":
      p.errorMessage = event.message;
      p.message = event.message;
      endLines(p, event.type, at);
      status = event.type;
      break;
    case "snapshot":
      // History was gone: take the server's fold as it is.
      Object.assign(p, {
        status: event.progress.status,
        steps: [...event.progress.steps],
        completedSteps: [...event.progress.completedSteps],
        previewUrl: event.progress.previewUrl ?? null,
        errorMessage: event.progress.errorMessage ?? null,
        buildLogUrl: event.progress.buildLogUrl ?? null,
        usage: event.progress.usage ?? null,
        lastSeq: Math.max(p.lastSeq, event.progress.lastSeq),
      });
      break;
    default:
      break;
  }
  if (status && !TERMINAL_STATUSES.includes(p.status)) p.status = status;
  return p;
}

/** Folds every event, oldest first. */
export function foldEvents(buildId, events) {
  return events.reduce(applyEvent, createProgress(buildId));
}

/** "Creating src/components/TodoList.tsx... 120 lines": a file the model is writing. */
export function fileDetail(path, lines) {
  return `Creating ${path}... ${lines} ${lines === 1 ? "line" : "lines"}`;
}

// A status message starts a new step: the steps still running end where it starts (a
// `FIX` means the build before it failed). A code seen before starts a new line once its
// last line ended (the build again after an auto-fix); while it runs, it is the same step.
function startLine(p, key, label, stage, at) {
  const same = p.lines.filter((line) => line.key === key || line.key.startsWith(`${key}#`));
  const last = same[same.length - 1];
  if (last?.state === "active") {
    last.label = label; // "Waiting for a build slot (1 ahead)"
    return;
  }
  if (same.length) key = `${key}#${same.length + 1}`;
  const ended = key.startsWith("status:FIX") ? "failed" : "done";
  for (const line of p.lines) {
    if (line.state === "active" && line.kind === "status") {
      line.state = ended;
      line.endedAt = at;
    }
  }
  p.lines.push({ key, kind: "status", stage, label, state: "active", startedAt: at, endedAt: null, detail: null });
}

function taskLine(p, event, state, at) {
  const key = `task:${event.taskId}`;
  let line = p.lines.find((l) => l.key === key);
  if (!line) {
    const stage = p.stage === "build" ? "build" : "execute";
    line = { key, kind: "task", stage, label: event.taskName, state, startedAt: at, endedAt: null, detail: null };
    p.lines.push(line);
  }
  line.state = state;
  if (state !== "active") {
    line.endedAt = at;
    line.detail = null;
  }
}

function endLines(p, state, at) {
  for (const line of p.lines) {
    if (line.state === "active") {
      line.state = state;
      line.endedAt = at;
    }
  }
}

/** Milliseconds a line took (or has taken so far, against `now`); null when unknown. */
export function lineDuration(line, now = Date.now()) {
  if (!line.startedAt) return null;
  const start = Date.parse(line.startedAt);
  const end = line.endedAt ? Date.parse(line.endedAt) : now;
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : null;
}
