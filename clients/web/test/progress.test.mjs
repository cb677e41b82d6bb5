// Unit checks of the progress fold (progress.js) for the LLM events: files being written
// (`file_progress`), token usage summed like the server's fold, and auto-fix attempts
// (`status` FIX, `fix-build-<n>` tasks while building). Run: node --test clients/web/test
// (services/buildwire/tests/llm_pipeline.rs runs it too).
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileDetail, foldEvents } from "../progress.js";

let seq = 0;
const at = (n) => `2026-12-01T10:00:${String(n).padStart(2, "0")}.000Z`;
const ev = (type, body) => ({ seq: ++seq, buildId: "B", type, timestamp: at(seq), requestId: "r", ...body });
const status = (code, message, buildStatus) => ev("status", { code, message, buildStatus });
const usage = (stage, taskId, input, output) =>
  ev("usage", {
    stage,
    taskId,
    provider: "anthropic",
    model: "claude-fake",
    inputTokens: input,
    outputTokens: output,
    cacheCreationInputTokens: 900,
    cacheReadInputTokens: 0,
    calls: 1,
    retries: 0,
  });

test("a file being written shows under its task until the task ends", () => {
  seq = 0;
  const events = [
    status("WRITE", "Writing the project's files...", "executing"),
    ev("task_started", { taskId: "t1", taskName: "Components" }),
    ev("file_progress", { taskId: "t1", path: "src/components/TodoList.tsx", bytes: 800, lines: 40 }),
    ev("file_progress", { taskId: "t1", path: "src/components/TodoList.tsx", bytes: 2400, lines: 120 }),
  ];
  let p = foldEvents("B", events);
  const line = p.lines.find((l) => l.key === "task:t1");
  assert.equal(line.detail, "Creating src/components/TodoList.tsx... 120 lines");
  assert.equal(fileDetail("a.ts", 1), "Creating a.ts... 1 line");
  p = foldEvents("B", [...events, ev("task_completed", { taskId: "t1", taskName: "Components", details: {} })]);
  assert.equal(p.lines.find((l) => l.key === "task:t1").detail, null);
  assert.equal(p.logs.execute.length, 2, "file_progress is not a log line");
});

test("usage adds up like GET /v1/builds/{id}", () => {
  seq = 0;
  const p = foldEvents("B", [usage("plan", undefined, 1200, 340), usage("execute", "t1", 1000, 60)]);
  assert.deepEqual(p.usage, {
    provider: "anthropic",
    model: "claude-fake",
    inputTokens: 2200,
    outputTokens: 400,
    cacheCreationInputTokens: 1800,
    cacheReadInputTokens: 0,
    calls: 2,
  });
  assert.equal(foldEvents("B", []).usage, null);
});

test("auto-fix attempts are their own lines and the build stays building", () => {
  seq = 0;
  const p = foldEvents("B", [
    status("BUILD", "Building application...", "building"),
    status("FIX", "Fixing build errors (attempt 1 of 2)...", "building"),
    ev("task_started", { taskId: "fix-build-1", taskName: "Fix build errors (attempt 1)" }),
    ev("file_progress", { taskId: "fix-build-1", path: "src/App.tsx", bytes: 100, lines: 7 }),
    usage("build", "fix-build-1", 10, 5),
    ev("task_completed", { taskId: "fix-build-1", taskName: "Fix build errors (attempt 1)", details: { filesModified: ["src/App.tsx"] } }),
    status("BUILD", "Building application again (after fix 1)...", "building"),
  ]);
  assert.equal(p.status, "building");
  assert.deepEqual(
    p.lines.map((l) => `${l.key}|${l.state}|${l.stage}`),
    [
      "status:BUILD|failed|build",
      "status:FIX|done|build",
      "task:fix-build-1|done|build",
      "status:BUILD#2|active|build",
    ],
  );
  assert.deepEqual(p.completedSteps, ["fix-build-1"]);
  assert.equal(p.logs.build.length, 4);
});
