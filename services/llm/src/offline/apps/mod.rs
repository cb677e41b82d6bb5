//! The offline provider's apps: the shared scaffold (package.json, vite.config.js, page
//! frame with marker slots, base styles, theme toggle) and one module per app kind that
//! fills in its markup, styles and logic.
//!
//! Marker slots the follow-up edits insert at (see `followups`):
//! `<!-- buildwire:slot:header -->`, `<!-- buildwire:slot:main-start -->`,
//! `<!-- buildwire:slot:main-end -->` in `index.html` and `// buildwire:slot:imports` in
//! `src/main.js`.

mod generic;
mod kanban;
mod landing;
mod notes;
mod timer;
mod todo;

use super::intent::AppKind;
use crate::ProjectFile;

/// The Vite version every app pins: exists on npm and runs on Node 18 and 20.
pub const VITE_VERSION: &str = "5.4.11";

/// What an app kind contributes to the scaffold.
pub struct AppParts {
    /// Page title and header text (plain text; escaped when placed).
    pub title: String,
    /// The markup inside `<main>` (already escaped where it holds prompt text).
    pub main_html: String,
    /// Styles after the shared base.
    pub css: &'static str,
    /// Logic after the shared theme toggle.
    pub js: &'static str,
}

fn parts(kind: AppKind, prompt: &str) -> AppParts {
    match kind {
        AppKind::Todo => todo::parts(),
        AppKind::Notes => notes::parts(),
        AppKind::Kanban => kanban::parts(),
        AppKind::Timer => timer::parts(),
        AppKind::Landing => landing::parts(prompt),
        AppKind::Generic => generic::parts(prompt),
    }
}

/// Every file of a new `kind` app for `prompt`: `package.json`, `vite.config.js`,
/// `index.html`, `src/main.js`, `src/style.css`.
pub fn app_files(kind: AppKind, prompt: &str) -> Vec<ProjectFile> {
    let parts = parts(kind, prompt);
    vec![
        ProjectFile::new("package.json", package_json(kind)),
        ProjectFile::new("vite.config.js", VITE_CONFIG),
        ProjectFile::new("index.html", index_html(kind, &parts)),
        ProjectFile::new("src/main.js", main_js(kind, parts.js)),
        ProjectFile::new("src/style.css", format!("{BASE_CSS}\n{}", parts.css)),
    ]
}

fn package_json(kind: AppKind) -> String {
    let manifest = serde_json::json!({
        "name": format!("buildwire-{}", kind.slug()),
        "private": true,
        "version": "0.1.0",
        "type": "module",
        "scripts": {
            "dev": "vite",
            "build": "vite build",
            "preview": "vite preview"
        },
        "devDependencies": { "vite": VITE_VERSION }
    });
    let mut text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    text.push('\n');
    text
}

const VITE_CONFIG: &str = "import { defineConfig } from 'vite';

// Relative asset URLs: the preview is served under /preview/<buildId>/.
export default defineConfig({
  base: './',
});
";

fn index_html(kind: AppKind, parts: &AppParts) -> String {
    let title = super::text::html_escape(&parts.title);
    let slug = kind.slug();
    let main = &parts.main_html;
    format!(
        r#"<!doctype html>
<html lang="en" data-theme="light">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <meta name="generator" content="buildwire offline {slug}" />
    <title>{title}</title>
  </head>
  <body data-app="{slug}">
    <header class="app-header" id="app-header" data-testid="app-header">
      <h1 id="app-title" data-testid="app-title">{title}</h1>
      <div class="header-actions">
        <!-- buildwire:slot:header -->
        <button id="theme-toggle" class="theme-toggle" type="button" aria-pressed="false" data-testid="theme-toggle">Dark mode</button>
      </div>
    </header>
    <main id="app" class="app-main">
      <!-- buildwire:slot:main-start -->
{main}
      <!-- buildwire:slot:main-end -->
    </main>
    <script type="module" src="/src/main.js"></script>
  </body>
</html>
"#
    )
}

fn main_js(kind: AppKind, app_js: &str) -> String {
    let slug = kind.slug();
    format!(
        r#"import './style.css';
// buildwire:slot:imports

// Theme: light or dark, remembered in localStorage. Dark sets both `html[data-theme=dark]`
// and `body.dark`.
const THEME_KEY = 'buildwire.{slug}.theme';
const themeToggle = document.querySelector('#theme-toggle');

function readTheme() {{
  try {{
    return localStorage.getItem(THEME_KEY) === 'dark' ? 'dark' : 'light';
  }} catch {{
    return 'light';
  }}
}}

function applyTheme(theme) {{
  const dark = theme === 'dark';
  document.documentElement.dataset.theme = theme;
  document.body.classList.toggle('dark', dark);
  themeToggle.setAttribute('aria-pressed', String(dark));
  themeToggle.textContent = dark ? 'Light mode' : 'Dark mode';
}}

let theme = readTheme();
applyTheme(theme);
themeToggle.addEventListener('click', () => {{
  theme = theme === 'dark' ? 'light' : 'dark';
  applyTheme(theme);
  try {{
    localStorage.setItem(THEME_KEY, theme);
  }} catch {{
    // Storage unavailable (private mode): the theme lasts until reload.
  }}
}});

/** Reads a JSON array from localStorage, or [] when absent or unreadable. */
function loadList(key) {{
  try {{
    const value = JSON.parse(localStorage.getItem(key) ?? '[]');
    return Array.isArray(value) ? value : [];
  }} catch {{
    return [];
  }}
}}

/** Writes a JSON value to localStorage, ignoring storage failures. */
function saveList(key, value) {{
  try {{
    localStorage.setItem(key, JSON.stringify(value));
  }} catch {{
    // Storage unavailable: changes last until reload.
  }}
}}

/** A short unique id. */
function newId() {{
  return Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
}}

{app_js}"#
    )
}

const BASE_CSS: &str = r#":root {
  --bg: #f4f5f8;
  --surface: #ffffff;
  --text: #1f2330;
  --muted: #6b7280;
  --border: #d9dce3;
  --accent: #4f46e5;
  --accent-text: #ffffff;
  --header-bg: #1f2330;
  --header-text: #ffffff;
  --danger: #dc2626;
  color-scheme: light;
}

html[data-theme='dark'],
body.dark {
  --bg: #12141a;
  --surface: #1d2029;
  --text: #e7e9ee;
  --muted: #9aa1ad;
  --border: #343a48;
  --accent: #818cf8;
  --accent-text: #0b0d12;
  --header-bg: #0b0d12;
  --header-text: #e7e9ee;
  --danger: #f87171;
  color-scheme: dark;
}

* {
  box-sizing: border-box;
}

body {
  margin: 0;
  min-height: 100vh;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  line-height: 1.5;
  background: var(--bg);
  color: var(--text);
  transition: background-color 0.2s, color 0.2s;
}

[hidden] {
  display: none !important;
}

.app-header {
  display: flex;
  align-items: center;
  justify-content: space-between;
  flex-wrap: wrap;
  gap: 1rem;
  padding: 1rem 1.5rem;
  background: var(--header-bg);
  color: var(--header-text);
}

.app-header h1 {
  margin: 0;
  font-size: 1.5rem;
}

.header-actions {
  display: flex;
  gap: 0.5rem;
  align-items: center;
}

.app-main {
  display: grid;
  gap: 1.5rem;
  max-width: 52rem;
  margin: 2rem auto;
  padding: 0 1rem;
}

.card {
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: 12px;
  padding: 1.25rem;
}

.card h2 {
  margin-top: 0;
}

button,
input,
textarea,
select {
  font: inherit;
  color: var(--text);
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: 8px;
}

button {
  padding: 0.5rem 0.9rem;
  cursor: pointer;
}

button.primary {
  background: var(--accent);
  color: var(--accent-text);
  border-color: transparent;
}

button.danger {
  color: var(--danger);
}

input,
textarea,
select {
  padding: 0.55rem 0.75rem;
}

.theme-toggle {
  background: transparent;
  color: inherit;
  border-color: currentColor;
}

.row {
  display: flex;
  gap: 0.5rem;
}

.row > input,
.row > textarea {
  flex: 1;
  min-width: 0;
}

.stack {
  display: grid;
  gap: 0.5rem;
}

.muted {
  color: var(--muted);
}

.empty {
  color: var(--muted);
  text-align: center;
}
"#;
