import { useTheme } from '../hooks/useTheme';

/** Switches between light and dark mode; the choice is remembered across reloads. */
export function ThemeToggle() {
  const [theme, toggle] = useTheme();
  const dark = theme === 'dark';
  return (
    <button
      id="theme-toggle"
      data-testid="theme-toggle"
      type="button"
      aria-pressed={dark}
      onClick={toggle}
      className="rounded-lg border border-current px-3 py-1.5 text-sm font-medium opacity-90 transition hover:opacity-100"
    >
      {dark ? 'Light mode' : 'Dark mode'}
    </button>
  );
}
