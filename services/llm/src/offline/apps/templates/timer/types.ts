/** The stopwatch, as saved: reload keeps it running (or paused) where it was. */
export interface StopwatchState {
  /** Time counted before the current run (ms). */
  elapsed: number;
  /** When the current run started (ms since the epoch), or null when paused. */
  startedAt: number | null;
  /** Lap times (ms since the start). */
  laps: number[];
}

/** The countdown, as saved. */
export interface CountdownState {
  /** The length it was set to (ms). */
  duration: number;
  /** Time left when paused (ms). */
  remaining: number;
  /** When it reaches zero (ms since the epoch) while running, else null. */
  endsAt: number | null;
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** Whether a stored value is a stopwatch state. */
export function isStopwatchState(value: unknown): value is StopwatchState {
  if (typeof value !== 'object' || value === null) return false;
  const state = value as Record<string, unknown>;
  return (
    isNumber(state.elapsed) &&
    (state.startedAt === null || isNumber(state.startedAt)) &&
    Array.isArray(state.laps) &&
    state.laps.every(isNumber)
  );
}

/** Whether a stored value is a countdown state. */
export function isCountdownState(value: unknown): value is CountdownState {
  if (typeof value !== 'object' || value === null) return false;
  const state = value as Record<string, unknown>;
  return isNumber(state.duration) && isNumber(state.remaining) && (state.endsAt === null || isNumber(state.endsAt));
}
