//! The kanban board: cards in To do / Doing / Done columns, moved with buttons or by
//! dragging; saved in localStorage.
//!
//! Hooks: `#card-form`, `#new-card`, `#add-card`, `.kanban-column[data-column=todo|doing|done]`
//! with `.kanban-cards` lists and `.column-count`; `.kanban-card` (`data-id`) with
//! `.card-text`, `.card-left`, `.card-right`, `.card-delete`; storage key
//! `buildwire.kanban.cards`.

use super::AppParts;

/// The kanban board's parts.
pub fn parts() -> AppParts {
    AppParts {
        title: "Kanban Board".into(),
        main_html: MAIN.into(),
        css: CSS,
        js: JS,
    }
}

const MAIN: &str = r#"      <section class="card">
        <form id="card-form" class="row" data-testid="card-form" autocomplete="off">
          <input id="new-card" type="text" placeholder="New card" aria-label="New card" maxlength="200" data-testid="new-card" />
          <button id="add-card" class="primary" type="submit" data-testid="add-card">Add card</button>
        </form>
      </section>
      <section class="kanban" aria-label="Board">
        <div class="kanban-column" id="column-todo" data-column="todo" data-testid="column-todo">
          <h2>To do <span class="column-count">0</span></h2>
          <ul class="kanban-cards"></ul>
        </div>
        <div class="kanban-column" id="column-doing" data-column="doing" data-testid="column-doing">
          <h2>Doing <span class="column-count">0</span></h2>
          <ul class="kanban-cards"></ul>
        </div>
        <div class="kanban-column" id="column-done" data-column="done" data-testid="column-done">
          <h2>Done <span class="column-count">0</span></h2>
          <ul class="kanban-cards"></ul>
        </div>
      </section>"#;

const CSS: &str = r#".app-main {
  max-width: 72rem;
}

.kanban {
  display: grid;
  grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr));
  gap: 1rem;
}

.kanban-column {
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: 12px;
  padding: 1rem;
  min-height: 12rem;
}

.kanban-column.drag-over {
  outline: 2px dashed var(--accent);
}

.kanban-column h2 {
  margin: 0 0 0.75rem;
  font-size: 1.1rem;
  display: flex;
  justify-content: space-between;
}

.column-count {
  color: var(--muted);
  font-weight: normal;
}

.kanban-cards {
  list-style: none;
  margin: 0;
  padding: 0;
  display: grid;
  gap: 0.5rem;
}

.kanban-card {
  display: grid;
  gap: 0.5rem;
  padding: 0.6rem 0.75rem;
  border: 1px solid var(--border);
  border-radius: 8px;
  background: var(--bg);
  cursor: grab;
}

.card-text {
  overflow-wrap: anywhere;
}

.card-actions {
  display: flex;
  gap: 0.25rem;
}

.card-actions button {
  padding: 0.15rem 0.5rem;
}
"#;

const JS: &str = r#"// Kanban: cards move between columns with buttons or drag and drop; saved in localStorage.
const CARDS_KEY = 'buildwire.kanban.cards';
const COLUMNS = ['todo', 'doing', 'done'];
const cardForm = document.querySelector('#card-form');
const cardInput = document.querySelector('#new-card');

let cards = loadList(CARDS_KEY).filter(
  (card) => card && typeof card.text === 'string' && COLUMNS.includes(card.column),
);

function setCards(next) {
  cards = next;
  saveList(CARDS_KEY, cards);
  renderBoard();
}

function moveCard(id, column) {
  setCards(cards.map((card) => (card.id === id ? { ...card, column } : card)));
}

function button(label, className, onClick, disabled = false) {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = className;
  element.textContent = label;
  element.disabled = disabled;
  element.addEventListener('click', onClick);
  return element;
}

function cardElement(card) {
  const index = COLUMNS.indexOf(card.column);
  const item = document.createElement('li');
  item.className = 'kanban-card';
  item.draggable = true;
  item.dataset.id = card.id;
  item.dataset.testid = 'kanban-card';
  item.dataset.searchItem = '';
  item.addEventListener('dragstart', (event) => {
    event.dataTransfer.setData('text/plain', card.id);
  });

  const text = document.createElement('span');
  text.className = 'card-text';
  text.textContent = card.text;
  const actions = document.createElement('div');
  actions.className = 'card-actions';
  actions.append(
    button('←', 'card-left', () => moveCard(card.id, COLUMNS[index - 1]), index === 0),
    button('→', 'card-right', () => moveCard(card.id, COLUMNS[index + 1]), index === COLUMNS.length - 1),
    button('Delete', 'card-delete danger', () => setCards(cards.filter((c) => c.id !== card.id))),
  );
  item.append(text, actions);
  return item;
}

function renderBoard() {
  for (const column of document.querySelectorAll('.kanban-column')) {
    const mine = cards.filter((card) => card.column === column.dataset.column);
    column.querySelector('.kanban-cards').replaceChildren(...mine.map(cardElement));
    column.querySelector('.column-count').textContent = String(mine.length);
  }
}

for (const column of document.querySelectorAll('.kanban-column')) {
  column.addEventListener('dragover', (event) => {
    event.preventDefault();
    column.classList.add('drag-over');
  });
  column.addEventListener('dragleave', () => column.classList.remove('drag-over'));
  column.addEventListener('drop', (event) => {
    event.preventDefault();
    column.classList.remove('drag-over');
    const id = event.dataTransfer.getData('text/plain');
    if (id) moveCard(id, column.dataset.column);
  });
}

cardForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = cardInput.value.trim();
  if (!text) return;
  setCards([...cards, { id: newId(), text, column: 'todo' }]);
  cardInput.value = '';
  cardInput.focus();
});

renderBoard();
"#;
