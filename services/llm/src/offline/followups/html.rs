//! Follow-up changes applied to a project that is not one of the offline React apps (plain
//! HTML, a model's own layout): search, header color, counter, and a visible note for
//! anything else, put into `index.html` at its `<!-- buildwire:slot:... -->` markers or
//! plain HTML landmarks, with scripts as modules. Each edit is idempotent (applying it
//! twice changes nothing more). Only changed files are returned.

use crate::ProjectFile;
use crate::offline::intent::Change;
use crate::offline::markup::{Slot, Workspace, insert_html, load_module, set_css_block};
use crate::offline::text::{html_escape, shorten};

/// Project path of the search feature module.
pub const SEARCH_MODULE: &str = "src/features/search.js";
/// Project path of the counter feature module.
pub const COUNTER_MODULE: &str = "src/features/counter.js";

/// The files `change` rewrites in `files`, with their full new contents.
pub fn apply(change: &Change, files: &[ProjectFile]) -> Vec<ProjectFile> {
    let mut workspace = Workspace::new(files);
    match change {
        Change::Search => add_search(&mut workspace),
        Change::HeaderColor(color) => {
            let css = format!(
                "/* Header color: {name}. */\nheader,\n.app-header {{\n  background: {bg} !important;\n  color: {fg} !important;\n}}",
                name = color.name,
                bg = color.background,
                fg = color.foreground,
            );
            set_css_block(&mut workspace, "header-color", &css);
        }
        Change::Counter => add_counter(&mut workspace),
        Change::Note(request) => add_note(&mut workspace, request),
    }
    workspace.into_changed("index.html")
}

/// Inserts `fragment` into `index.html` at `slot` unless `present` is already there.
fn insert_once(workspace: &mut Workspace, present: &str, slot: Slot, fragment: &str) {
    let html = workspace.get("index.html").unwrap_or_default();
    if html.contains(present) {
        return;
    }
    let updated = insert_html(html, slot, fragment);
    workspace.set("index.html", updated);
}

fn add_search(workspace: &mut Workspace) {
    // Offline apps mark their items; anything else gets the usual list-ish elements.
    let items = if workspace.any_contains("data-search-item")
        || workspace.any_contains("dataset.searchItem")
    {
        "[data-search-item]"
    } else {
        "li, article, tbody tr"
    };
    insert_once(workspace, " id=\"search\"", Slot::MainStart, SEARCH_HTML);
    workspace.set(SEARCH_MODULE, SEARCH_JS.replace("__ITEMS__", items));
    load_module(workspace, SEARCH_MODULE);
    set_css_block(workspace, "search", SEARCH_CSS);
}

fn add_counter(workspace: &mut Workspace) {
    insert_once(workspace, " id=\"counter\"", Slot::MainEnd, COUNTER_HTML);
    workspace.set(COUNTER_MODULE, COUNTER_JS.into());
    load_module(workspace, COUNTER_MODULE);
    set_css_block(workspace, "counter", COUNTER_CSS);
}

fn add_note(workspace: &mut Workspace, request: &str) {
    let text = html_escape(&shorten(request, 500));
    let paragraph = format!("<p class=\"request-text\">{text}</p>");
    let fragment = format!(
        "      <section class=\"card request-note\" data-testid=\"request-note\">\n        <h2>Requested change</h2>\n        {paragraph}\n      </section>"
    );
    insert_once(workspace, &paragraph, Slot::MainEnd, &fragment);
    set_css_block(workspace, "request-note", NOTE_CSS);
}

const SEARCH_HTML: &str = r#"      <section id="search-bar" class="search-bar" role="search" data-testid="search-bar">
        <input id="search" type="search" placeholder="Search…" aria-label="Search" autocomplete="off" data-testid="search" />
        <p id="search-empty" class="search-empty" data-testid="search-empty" hidden>No matches.</p>
      </section>"#;

const SEARCH_JS: &str = r#"// Search: hides the items that do not contain the query, including items added later.
const ITEMS = '__ITEMS__';
const searchInput = document.querySelector('#search');
const searchEmpty = document.querySelector('#search-empty');

function applySearch() {
  if (!searchInput) return;
  const query = searchInput.value.trim().toLowerCase();
  let total = 0;
  let shown = 0;
  for (const item of document.querySelectorAll(ITEMS)) {
    if (item.closest('#search-bar')) continue;
    total += 1;
    const match = !query || item.textContent.toLowerCase().includes(query);
    item.toggleAttribute('data-search-hidden', !match);
    if (match) shown += 1;
  }
  if (searchEmpty) searchEmpty.hidden = !(query && total > 0 && shown === 0);
}

searchInput?.addEventListener('input', applySearch);
// Lists re-render when items change: filter whatever appears.
new MutationObserver(applySearch).observe(document.body, {
  childList: true,
  subtree: true,
  characterData: true,
});
applySearch();
"#;

const SEARCH_CSS: &str = r#".search-bar {
  display: grid;
  gap: 0.5rem;
}

.search-bar input {
  width: 100%;
  padding: 0.6rem 0.8rem;
  font: inherit;
  color: var(--text, inherit);
  background: var(--surface, #fff);
  border: 1px solid var(--border, #ccc);
  border-radius: 8px;
}

.search-empty {
  margin: 0;
  color: var(--muted, #666);
}

[data-search-hidden] {
  display: none !important;
}"#;

const COUNTER_HTML: &str = r#"      <section id="counter" class="card counter" data-testid="counter">
        <h2>Counter</h2>
        <div class="counter-controls">
          <button id="counter-decrement" type="button" aria-label="Decrease" data-testid="counter-decrement">−</button>
          <output id="counter-value" aria-live="polite" data-testid="counter-value">0</output>
          <button id="counter-increment" type="button" aria-label="Increase" data-testid="counter-increment">+</button>
        </div>
      </section>"#;

const COUNTER_JS: &str = r#"// Counter: +/- buttons around a value remembered in localStorage.
const COUNTER_KEY = 'buildwire.counter';
const counterValue = document.querySelector('#counter-value');

function readCount() {
  try {
    return Number.parseInt(localStorage.getItem(COUNTER_KEY) ?? '0', 10) || 0;
  } catch {
    return 0;
  }
}

let count = readCount();

function showCount() {
  if (counterValue) counterValue.textContent = String(count);
}

function changeCount(by) {
  count += by;
  showCount();
  try {
    localStorage.setItem(COUNTER_KEY, String(count));
  } catch {
    // Storage unavailable: the count lasts until reload.
  }
}

document.querySelector('#counter-increment')?.addEventListener('click', () => changeCount(1));
document.querySelector('#counter-decrement')?.addEventListener('click', () => changeCount(-1));
showCount();
"#;

const COUNTER_CSS: &str = r#".counter-controls {
  display: flex;
  align-items: center;
  gap: 1rem;
}

.counter-controls button {
  min-width: 2.75rem;
  font-size: 1.25rem;
}

#counter-value {
  min-width: 3ch;
  text-align: center;
  font-size: 2rem;
  font-weight: 600;
  font-variant-numeric: tabular-nums;
}"#;

const NOTE_CSS: &str = r#".request-note {
  border-left: 4px solid var(--accent, #4f46e5);
}"#;
