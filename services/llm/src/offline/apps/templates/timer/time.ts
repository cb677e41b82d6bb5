const pad = (value: number) => String(value).padStart(2, '0');

/** `mm:ss.cc` for a stopwatch reading. */
export function formatStopwatch(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 10));
  const centis = total % 100;
  const seconds = Math.floor(total / 100) % 60;
  const minutes = Math.floor(total / 6000);
  return `${pad(minutes)}:${pad(seconds)}.${pad(centis)}`;
}

/** `mm:ss` for a countdown, rounded up so it shows 00:00 only when done. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${pad(Math.floor(total / 60))}:${pad(total % 60)}`;
}
