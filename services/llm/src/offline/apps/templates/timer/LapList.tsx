import { useFilter } from '../hooks/useFilter';
import { formatStopwatch } from '../lib/time';

interface LapListProps {
  laps: number[];
}

/** The laps, newest first, each with its split from the previous one. */
export function LapList({ laps }: LapListProps) {
  const rows = laps
    .map((at, index) => ({ number: index + 1, at, split: at - (laps[index - 1] ?? 0) }))
    .reverse();
  const visible = useFilter(rows, (row) => [`Lap ${row.number}`, formatStopwatch(row.at)]);
  return (
    <ol id="lap-list" data-testid="lap-list" className="mt-4 grid gap-1">
      {visible.map((row) => (
        <li
          key={row.number}
          data-testid="lap-item"
          className="lap-item flex justify-between rounded-md bg-slate-100 px-3 py-1 font-mono text-sm dark:bg-slate-800"
        >
          <span>Lap {row.number}</span>
          <span>+{formatStopwatch(row.split)}</span>
          <span>{formatStopwatch(row.at)}</span>
        </li>
      ))}
    </ol>
  );
}
