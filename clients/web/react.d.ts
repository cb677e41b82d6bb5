// Types of the React hook (react.js).
import type { BuildEvent, ConnectionState, WatchOptions } from "./buildwire";
import type { BuildStatus } from "./types/event";
import type { Progress } from "./progress";

export interface BuildProgressOptions {
  /** The edge's base URL; defaults to the page's origin. */
  baseUrl?: string;
  transport?: WatchOptions["transport"];
  refreshToken?: WatchOptions["refreshToken"];
}

export interface BuildProgressState {
  /** The build's events in order, each once. */
  events: BuildEvent[];
  status: BuildStatus;
  connection: ConnectionState;
  progress: Progress;
}

export function useBuildProgress(
  buildId: string | null | undefined,
  token: string | null | undefined,
  options?: BuildProgressOptions,
): BuildProgressState;
