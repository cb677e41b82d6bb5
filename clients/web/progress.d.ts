// Types of the progress fold (progress.js). The status fields match `BuildProgress`
// (types/build-progress.d.ts), the server's fold of the same events.
import type { BuildStatus, Event } from "./types/event.js";
import type { BuildProgress as ServerProgress } from "./types/build-progress.js";

export type Stage = "plan" | "execute" | "build" | "deploy";
export declare const STAGES: readonly Stage[];
export declare const TERMINAL_STATUSES: readonly BuildStatus[];

/** One line of the progress view: a status message or a task (plan tasks and auto-fix
 * attempts). A status code seen again after its line ended (`BUILD` after a `FIX`) gets a
 * new line keyed `status:<CODE>#<n>`. */
export interface ProgressLine {
  key: string;
  kind: "status" | "task";
  stage: Stage | null;
  label: string;
  state: "active" | "done" | "failed" | "cancelled";
  startedAt: string | null;
  endedAt: string | null;
  /** While a task runs: the file the model is writing ("Creating src/App.tsx... 120 lines"). */
  detail: string | null;
}

/** One line of a stage's log. */
export interface LogLine {
  text: string;
  level: string;
  at: string | null;
}

export interface Progress
  extends Pick<ServerProgress, "buildId" | "status" | "steps" | "completedSteps" | "lastSeq" | "usage"> {
  previewUrl: string | null;
  errorMessage: string | null;
  buildLogUrl: string | null;
  updatedAt: string | null;
  /** Overall progress 0-100 from the latest status event. */
  percent: number;
  /** The terminal event's message. */
  message: string | null;
  /** The stage the latest event belongs to. */
  stage: Stage | null;
  lines: ProgressLine[];
  logs: Record<Stage, LogLine[]>;
  /** Events applied (replays excluded). */
  applied: number;
}

export function createProgress(buildId: string): Progress;
export function applyEvent(progress: Progress, event: Event): Progress;
export function foldEvents(buildId: string, events: Event[]): Progress;
export function lineDuration(line: ProgressLine, now?: number): number | null;
/** "Creating src/components/TodoList.tsx... 120 lines". */
export function fileDetail(path: string, lines: number): string;
