import { useLocalStorage } from '../hooks/useLocalStorage';

const COUNTER_KEY = 'buildwire.counter';
const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

/** A counter with - and + buttons, remembered across reloads. */
export function Counter() {
  const [count, setCount] = useLocalStorage(COUNTER_KEY, 0, isCount);
  return (
    <section id="counter" data-testid="counter" className="card" aria-labelledby="counter-heading">
      <h2 id="counter-heading" className="text-lg font-semibold">
        Counter
      </h2>
      <div className="mt-3 flex items-center gap-4">
        <button
          id="counter-decrement"
          data-testid="counter-decrement"
          type="button"
          aria-label="Decrease"
          className="btn min-w-[2.75rem] text-xl"
          onClick={() => setCount((value) => value - 1)}
        >
          −
        </button>
        <output
          id="counter-value"
          data-testid="counter-value"
          aria-live="polite"
          className="min-w-[3ch] text-center text-3xl font-semibold tabular-nums"
        >
          {count}
        </output>
        <button
          id="counter-increment"
          data-testid="counter-increment"
          type="button"
          aria-label="Increase"
          className="btn min-w-[2.75rem] text-xl"
          onClick={() => setCount((value) => value + 1)}
        >
          +
        </button>
      </div>
    </section>
  );
}
