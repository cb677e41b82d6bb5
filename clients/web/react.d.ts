// Types of the React hook (react.js).
import type { BuildEvent, ConnectionState, WatchOptions } from "./buildwire.js";
import type { BuildStatus } from "./types/event.js";
import type { Progress } from "./progress.js";

export interface BuildProgressOptions {
  /** The edge's base URL; defaults to the page's origin. */
  baseUrl?: string;
  transport?: WatchOptions["transport"];
  /**
   * Passed to watchBuild when given. Without it the token is never refreshed (a 401 ends
   * in connection `failed`); a new `token` argument is still used from the next reconnect.
   */
  refreshToken?: WatchOptions["refreshToken"];
  /** watchBuild's liveness watchdog (default 45000 ms; 0 turns it off). */
  livenessTimeoutMs?: WatchOptions["livenessTimeoutMs"];
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
