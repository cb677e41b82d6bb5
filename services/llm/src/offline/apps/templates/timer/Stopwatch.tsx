import { APP } from '../config';
import { useLocalStorage } from '../hooks/useLocalStorage';
import { formatStopwatch } from '../lib/time';
import { isStopwatchState, type StopwatchState } from '../types';
import { useNow } from '../hooks/useNow';
import { LapList } from './LapList';

const STOPWATCH_KEY = `${APP.storageKey}.stopwatch`;
const STOPPED: StopwatchState = { elapsed: 0, startedAt: null, laps: [] };

/** A stopwatch with laps; it keeps counting across reloads. */
export function Stopwatch() {
  const [state, setState] = useLocalStorage(STOPWATCH_KEY, STOPPED, isStopwatchState);
  const running = state.startedAt !== null;
  const now = useNow(running);
  const reading = state.elapsed + (state.startedAt === null ? 0 : Math.max(0, now - state.startedAt));

  const startPause = () =>
    setState((current) =>
      current.startedAt === null
        ? { ...current, startedAt: Date.now() }
        : { ...current, elapsed: current.elapsed + (Date.now() - current.startedAt), startedAt: null },
    );
  const lap = () => setState((current) => ({ ...current, laps: [...current.laps, reading] }));
  const reset = () => setState(STOPPED);

  return (
    <section className="card" aria-labelledby="stopwatch-heading">
      <h2 id="stopwatch-heading" className="text-lg font-semibold">
        Stopwatch
      </h2>
      <output
        id="stopwatch-display"
        data-testid="stopwatch-display"
        className="my-3 block font-mono text-5xl font-semibold tabular-nums"
      >
        {formatStopwatch(reading)}
      </output>
      <div className="flex gap-2">
        <button id="stopwatch-start" data-testid="stopwatch-start" type="button" className="btn btn-primary" onClick={startPause}>
          {running ? 'Pause' : 'Start'}
        </button>
        <button id="stopwatch-lap" data-testid="stopwatch-lap" type="button" className="btn" disabled={!running} onClick={lap}>
          Lap
        </button>
        <button id="stopwatch-reset" data-testid="stopwatch-reset" type="button" className="btn" onClick={reset}>
          Reset
        </button>
      </div>
      <LapList laps={state.laps} />
    </section>
  );
}
