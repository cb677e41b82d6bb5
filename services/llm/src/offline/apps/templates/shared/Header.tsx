import type { ReactNode } from 'react';
import { ThemeToggle } from './ThemeToggle';

// The header's colors; a follow-up such as "make the header blue" rewrites this line.
const HEADER_COLORS = 'bg-slate-900 text-white'; // buildwire:header-colors

interface HeaderProps {
  title: string;
  children?: ReactNode;
}

/** The title bar: the app's name, header actions, and the light/dark switch. */
export function Header({ title, children }: HeaderProps) {
  return (
    <header
      id="app-header"
      data-testid="app-header"
      className={`${HEADER_COLORS} flex flex-wrap items-center justify-between gap-4 px-6 py-4 shadow`}
    >
      <h1 id="app-title" data-testid="app-title" className="text-2xl font-semibold tracking-tight">
        {title}
      </h1>
      <div className="flex items-center gap-2">
        {children}
        <ThemeToggle />
      </div>
    </header>
  );
}
