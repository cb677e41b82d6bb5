import { useEffect } from 'react';
import { APP } from '../config';
import { useLocalStorage } from '../hooks/useLocalStorage';
import { useNow } from '../hooks/useNow';
import { formatCountdown } from '../lib/time';
import { isCountdownState, type CountdownState } from '../types';

const COUNTDOWN_KEY = `${APP.storageKey}.countdown`;
const FIVE_MINUTES = 5 * 60 * 1000;
const INITIAL: CountdownState = { duration: FIVE_MINUTES, remaining: FIVE_MINUTES, endsAt: null };

/** A countdown timer: set minutes and seconds, start, pause, reset; it says when time is up. */
export function Countdown() {
  const [state, setState] = useLocalStorage(COUNTDOWN_KEY, INITIAL, isCountdownState);
  const running = state.endsAt !== null;
  const now = useNow(running, 200);
  const left = state.endsAt === null ? state.remaining : Math.max(0, state.endsAt - now);
  const done = state.duration > 0 && left === 0;

  useEffect(() => {
    if (state.endsAt !== null && left === 0) setState((current) => ({ ...current, remaining: 0, endsAt: null }));
  }, [left, state.endsAt, setState]);

  const minutes = Math.floor(state.duration / 60000);
  const seconds = Math.floor((state.duration % 60000) / 1000);
  const setDuration = (nextMinutes: number, nextSeconds: number) => {
    const duration = (Math.max(0, nextMinutes) * 60 + Math.min(59, Math.max(0, nextSeconds))) * 1000;
    setState({ duration, remaining: duration, endsAt: null });
  };
  const startPause = () =>
    setState((current) => {
      if (current.endsAt !== null) return { ...current, remaining: Math.max(0, current.endsAt - Date.now()), endsAt: null };
      const remaining = current.remaining > 0 ? current.remaining : current.duration;
      return { ...current, remaining, endsAt: Date.now() + remaining };
    });
  const reset = () => setState((current) => ({ ...current, remaining: current.duration, endsAt: null }));

  return (
    <section className="card" aria-labelledby="timer-heading">
      <h2 id="timer-heading" className="text-lg font-semibold">
        Countdown
      </h2>
      <div className="mt-3 flex gap-3">
        <label className="grid gap-1 text-sm">
          Minutes
          <input
            id="timer-minutes"
            data-testid="timer-minutes"
            type="number"
            min={0}
            max={999}
            value={minutes}
            disabled={running}
            onChange={(event) => setDuration(Number(event.target.value) || 0, seconds)}
            className="input w-24"
          />
        </label>
        <label className="grid gap-1 text-sm">
          Seconds
          <input
            id="timer-seconds"
            data-testid="timer-seconds"
            type="number"
            min={0}
            max={59}
            value={seconds}
            disabled={running}
            onChange={(event) => setDuration(minutes, Number(event.target.value) || 0)}
            className="input w-24"
          />
        </label>
      </div>
      <output id="timer-display" data-testid="timer-display" className="my-3 block font-mono text-5xl font-semibold tabular-nums">
        {formatCountdown(left)}
      </output>
      <div className="flex gap-2">
        <button id="timer-start" data-testid="timer-start" type="button" className="btn btn-primary" onClick={startPause}>
          {running ? 'Pause' : 'Start'}
        </button>
        <button id="timer-reset" data-testid="timer-reset" type="button" className="btn" onClick={reset}>
          Reset
        </button>
      </div>
      {done && (
        <p id="timer-done" data-testid="timer-done" role="status" className="mt-3 font-semibold text-emerald-600 dark:text-emerald-400">
          Time's up!
        </p>
      )}
    </section>
  );
}
