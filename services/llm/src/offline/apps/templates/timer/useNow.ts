import { useEffect, useState } from 'react';

/** The current time, refreshed every `ms` while `running`. */
export function useNow(running: boolean, ms = 50): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    setNow(Date.now());
    if (!running) return undefined;
    const timer = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(timer);
  }, [running, ms]);
  return now;
}
