import { APP } from '../config';

/** The page's last line. */
export function Footer() {
  return (
    <footer className="site-footer pb-8 text-center text-sm text-slate-500 dark:text-slate-400">
      © <span id="year">{new Date().getFullYear()}</span> {APP.title}
    </footer>
  );
}
