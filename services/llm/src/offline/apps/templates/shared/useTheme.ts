import { useCallback, useEffect, useState } from 'react';
import { APP } from '../config';

/** The two themes. */
export type Theme = 'light' | 'dark';

const THEME_KEY = `${APP.storageKey}.theme`;

/** The saved theme; else the system's when dark mode was asked for; else light. */
export function initialTheme(): Theme {
  try {
    const saved = localStorage.getItem(THEME_KEY);
    if (saved === 'light' || saved === 'dark') return saved;
  } catch {
    // Storage unavailable: fall through to the default.
  }
  const systemDark =
    typeof window.matchMedia === 'function' && window.matchMedia('(prefers-color-scheme: dark)').matches;
  return APP.followSystemTheme && systemDark ? 'dark' : 'light';
}

/** Puts `theme` on the page: Tailwind's `dark` class and `data-theme` on <html>. */
export function applyTheme(theme: Theme): void {
  const root = document.documentElement;
  root.classList.toggle('dark', theme === 'dark');
  root.dataset.theme = theme;
  root.style.colorScheme = theme;
}

/** The current theme and a toggle that remembers the choice. */
export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(initialTheme);
  useEffect(() => applyTheme(theme), [theme]);
  const toggle = useCallback(() => {
    setTheme((current) => {
      const next: Theme = current === 'dark' ? 'light' : 'dark';
      try {
        localStorage.setItem(THEME_KEY, next);
      } catch {
        // Storage unavailable: the choice lasts until reload.
      }
      return next;
    });
  }, []);
  return [theme, toggle];
}
