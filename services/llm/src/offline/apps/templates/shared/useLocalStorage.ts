import { useEffect, useState } from 'react';

/** The JSON value stored at `key` when it passes `valid`, else `fallback`. */
export function readStored<T>(key: string, fallback: T, valid: (value: unknown) => value is T): T {
  try {
    const raw = localStorage.getItem(key);
    if (raw === null) return fallback;
    const value: unknown = JSON.parse(raw);
    return valid(value) ? value : fallback;
  } catch {
    return fallback;
  }
}

/** React state kept in localStorage under `key`, so it survives a reload. */
export function useLocalStorage<T>(key: string, fallback: T, valid: (value: unknown) => value is T) {
  const [value, setValue] = useState<T>(() => readStored(key, fallback, valid));
  useEffect(() => {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      // Storage unavailable (private mode, quota): changes last until reload.
    }
  }, [key, value]);
  return [value, setValue] as const;
}
