//! The generic app for prompts no other app matches: titled from the prompt, showing the
//! request, with a persisted item list so there is something to use.
//!
//! Hooks: `#app-intro`, `#item-form`, `#new-item`, `#add-item`, `#item-list`, `.item`
//! (`data-id`) with `.item-text` and `.item-delete`, `#items-empty`; storage key
//! `buildwire.app.items`.

use super::AppParts;
use crate::offline::text::{html_escape, shorten, title_from};

/// The generic app's parts, titled from `prompt`.
pub fn parts(prompt: &str) -> AppParts {
    let title = title_from(prompt, "My App");
    let request = html_escape(&shorten(prompt, 300));
    AppParts {
        main_html: format!(
            r#"      <section id="app-intro" class="card" data-testid="app-intro">
        <h2>About this app</h2>
        <p class="muted">Built from your request: <q id="app-request">{request}</q></p>
      </section>
      <section class="card" aria-labelledby="items-heading">
        <h2 id="items-heading">Items</h2>
        <form id="item-form" class="row" data-testid="item-form" autocomplete="off">
          <input id="new-item" type="text" placeholder="Add an item" aria-label="New item" maxlength="200" data-testid="new-item" />
          <button id="add-item" class="primary" type="submit" data-testid="add-item">Add</button>
        </form>
        <ul id="item-list" class="item-list" data-testid="item-list"></ul>
        <p id="items-empty" class="empty" data-testid="items-empty">No items yet.</p>
      </section>"#
        ),
        title,
        css: CSS,
        js: JS,
    }
}

const CSS: &str = r#".item-list {
  list-style: none;
  margin: 1rem 0 0;
  padding: 0;
  display: grid;
  gap: 0.5rem;
}

.item {
  display: flex;
  justify-content: space-between;
  align-items: center;
  gap: 0.75rem;
  padding: 0.6rem 0.75rem;
  border: 1px solid var(--border);
  border-radius: 8px;
}

.item-text {
  overflow-wrap: anywhere;
}

.item-delete {
  padding: 0.25rem 0.6rem;
  color: var(--danger);
}
"#;

const JS: &str = r#"// Items: add and delete; saved in localStorage.
const ITEMS_KEY = 'buildwire.app.items';
const itemForm = document.querySelector('#item-form');
const itemInput = document.querySelector('#new-item');
const itemList = document.querySelector('#item-list');
const itemsEmpty = document.querySelector('#items-empty');

let items = loadList(ITEMS_KEY).filter((item) => item && typeof item.text === 'string');

function setItems(next) {
  items = next;
  saveList(ITEMS_KEY, items);
  renderItems();
}

function renderItems() {
  itemList.replaceChildren(
    ...items.map((entry) => {
      const item = document.createElement('li');
      item.className = 'item';
      item.dataset.id = entry.id;
      item.dataset.testid = 'item';
      item.dataset.searchItem = '';
      const text = document.createElement('span');
      text.className = 'item-text';
      text.textContent = entry.text;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'item-delete';
      remove.textContent = 'Delete';
      remove.addEventListener('click', () => setItems(items.filter((i) => i.id !== entry.id)));
      item.append(text, remove);
      return item;
    }),
  );
  itemsEmpty.hidden = items.length > 0;
}

itemForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = itemInput.value.trim();
  if (!text) return;
  setItems([...items, { id: newId(), text }]);
  itemInput.value = '';
  itemInput.focus();
});

renderItems();
"#;
