//! The todo app: add, complete and delete todos, with a dark-mode toggle; todos and theme
//! persist in localStorage across reloads.
//!
//! Stable hooks for browser tests:
//! - `#todo-form` (form), `#new-todo` (text input), `#add-todo` (submit button)
//! - `#todo-list` (`<ul>`), `.todo-item` (`<li data-id>`, class `completed` when done,
//!   `data-testid="todo-item"`), inside it `.todo-toggle` (checkbox), `.todo-text`,
//!   `.todo-delete` (button)
//! - `#todo-count` ("2 items left"), `#todo-empty` (shown when the list is empty),
//!   `#clear-completed` (button)
//! - `#theme-toggle` (button, `aria-pressed`); dark mode is `html[data-theme=dark]` and
//!   `body.dark`
//! - localStorage keys `buildwire.todo.items` (JSON `[{id, text, done}]`) and
//!   `buildwire.todo.theme` (`light` / `dark`)

use super::AppParts;

/// The todo app's parts.
pub fn parts() -> AppParts {
    AppParts {
        title: "Todo List".into(),
        main_html: MAIN.into(),
        css: CSS,
        js: JS,
    }
}

const MAIN: &str = r#"      <section class="card todo-card" aria-labelledby="todo-heading">
        <h2 id="todo-heading">My todos</h2>
        <form id="todo-form" class="row" data-testid="todo-form" autocomplete="off">
          <input id="new-todo" name="todo" type="text" placeholder="What needs doing?" aria-label="New todo" maxlength="200" data-testid="new-todo" />
          <button id="add-todo" class="primary" type="submit" data-testid="add-todo">Add</button>
        </form>
        <ul id="todo-list" class="todo-list" data-testid="todo-list"></ul>
        <p id="todo-empty" class="empty" data-testid="todo-empty">Nothing to do yet. Add your first todo above.</p>
        <footer class="todo-footer">
          <span id="todo-count" data-testid="todo-count">0 items left</span>
          <button id="clear-completed" type="button" data-testid="clear-completed">Clear completed</button>
        </footer>
      </section>"#;

const CSS: &str = r#".todo-list {
  list-style: none;
  margin: 1rem 0;
  padding: 0;
  display: grid;
  gap: 0.5rem;
}

.todo-item {
  display: flex;
  align-items: center;
  gap: 0.75rem;
  padding: 0.6rem 0.75rem;
  border: 1px solid var(--border);
  border-radius: 8px;
}

.todo-item label {
  display: flex;
  align-items: center;
  gap: 0.75rem;
  flex: 1;
  min-width: 0;
  cursor: pointer;
}

.todo-toggle {
  width: 1.15rem;
  height: 1.15rem;
  accent-color: var(--accent);
}

.todo-text {
  overflow-wrap: anywhere;
}

.todo-item.completed .todo-text {
  text-decoration: line-through;
  color: var(--muted);
}

.todo-delete {
  padding: 0.25rem 0.6rem;
  color: var(--danger);
}

.todo-footer {
  display: flex;
  justify-content: space-between;
  align-items: center;
  color: var(--muted);
}
"#;

const JS: &str = r#"// Todos: add, complete, delete; saved in localStorage.
const TODOS_KEY = 'buildwire.todo.items';
const todoForm = document.querySelector('#todo-form');
const todoInput = document.querySelector('#new-todo');
const todoList = document.querySelector('#todo-list');
const todoEmpty = document.querySelector('#todo-empty');
const todoCount = document.querySelector('#todo-count');
const clearCompleted = document.querySelector('#clear-completed');

let todos = loadList(TODOS_KEY)
  .filter((todo) => todo && typeof todo.text === 'string')
  .map((todo) => ({ id: String(todo.id ?? newId()), text: todo.text, done: Boolean(todo.done) }));

function setTodos(next) {
  todos = next;
  saveList(TODOS_KEY, todos);
  renderTodos();
}

function todoElement(todo) {
  const item = document.createElement('li');
  item.className = todo.done ? 'todo-item completed' : 'todo-item';
  item.dataset.id = todo.id;
  item.dataset.testid = 'todo-item';
  item.dataset.searchItem = '';

  const label = document.createElement('label');
  const toggle = document.createElement('input');
  toggle.type = 'checkbox';
  toggle.className = 'todo-toggle';
  toggle.checked = todo.done;
  toggle.dataset.testid = 'todo-toggle';
  toggle.addEventListener('change', () => {
    setTodos(todos.map((t) => (t.id === todo.id ? { ...t, done: toggle.checked } : t)));
  });
  const text = document.createElement('span');
  text.className = 'todo-text';
  text.textContent = todo.text;
  label.append(toggle, text);

  const remove = document.createElement('button');
  remove.type = 'button';
  remove.className = 'todo-delete';
  remove.dataset.testid = 'todo-delete';
  remove.textContent = 'Delete';
  remove.setAttribute('aria-label', `Delete "${todo.text}"`);
  remove.addEventListener('click', () => {
    setTodos(todos.filter((t) => t.id !== todo.id));
  });

  item.append(label, remove);
  return item;
}

function renderTodos() {
  todoList.replaceChildren(...todos.map(todoElement));
  const left = todos.filter((todo) => !todo.done).length;
  todoCount.textContent = `${left} ${left === 1 ? 'item' : 'items'} left`;
  todoEmpty.hidden = todos.length > 0;
  clearCompleted.disabled = !todos.some((todo) => todo.done);
}

todoForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = todoInput.value.trim();
  if (!text) {
    todoInput.focus();
    return;
  }
  setTodos([...todos, { id: newId(), text, done: false }]);
  todoInput.value = '';
  todoInput.focus();
});

clearCompleted.addEventListener('click', () => {
  setTodos(todos.filter((todo) => !todo.done));
});

renderTodos();
"#;
