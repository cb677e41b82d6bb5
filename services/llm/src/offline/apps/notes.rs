//! The notes app: write notes with a title and body, delete them; saved in localStorage.
//!
//! Hooks: `#note-form`, `#note-title`, `#note-body`, `#add-note`, `#note-list`,
//! `.note-item` (`data-id`) with `.note-title`, `.note-body`, `.note-date`, `.note-delete`;
//! `#notes-empty`; storage key `buildwire.notes.items`.

use super::AppParts;

/// The notes app's parts.
pub fn parts() -> AppParts {
    AppParts {
        title: "Notes".into(),
        main_html: MAIN.into(),
        css: CSS,
        js: JS,
    }
}

const MAIN: &str = r#"      <section class="card" aria-labelledby="new-note-heading">
        <h2 id="new-note-heading">New note</h2>
        <form id="note-form" class="stack" data-testid="note-form" autocomplete="off">
          <input id="note-title" type="text" placeholder="Title" aria-label="Note title" maxlength="120" data-testid="note-title" />
          <textarea id="note-body" rows="4" placeholder="Write something…" aria-label="Note text" data-testid="note-body"></textarea>
          <div><button id="add-note" class="primary" type="submit" data-testid="add-note">Save note</button></div>
        </form>
      </section>
      <section aria-label="Notes">
        <ul id="note-list" class="note-list" data-testid="note-list"></ul>
        <p id="notes-empty" class="empty" data-testid="notes-empty">No notes yet.</p>
      </section>"#;

const CSS: &str = r#".note-list {
  list-style: none;
  margin: 0;
  padding: 0;
  display: grid;
  grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr));
  gap: 1rem;
}

.note-item {
  display: grid;
  gap: 0.4rem;
  align-content: start;
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: 12px;
  padding: 1rem;
}

.note-title {
  margin: 0;
  font-size: 1.1rem;
  overflow-wrap: anywhere;
}

.note-body {
  margin: 0;
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}

.note-date {
  font-size: 0.8rem;
  color: var(--muted);
}

.note-delete {
  justify-self: start;
  padding: 0.25rem 0.6rem;
  color: var(--danger);
}
"#;

const JS: &str = r#"// Notes: title and body, newest first; saved in localStorage.
const NOTES_KEY = 'buildwire.notes.items';
const noteForm = document.querySelector('#note-form');
const noteTitle = document.querySelector('#note-title');
const noteBody = document.querySelector('#note-body');
const noteList = document.querySelector('#note-list');
const notesEmpty = document.querySelector('#notes-empty');

let notes = loadList(NOTES_KEY).filter((note) => note && typeof note.body === 'string');

function setNotes(next) {
  notes = next;
  saveList(NOTES_KEY, notes);
  renderNotes();
}

function noteElement(note) {
  const item = document.createElement('li');
  item.className = 'note-item';
  item.dataset.id = note.id;
  item.dataset.testid = 'note-item';
  item.dataset.searchItem = '';

  const title = document.createElement('h3');
  title.className = 'note-title';
  title.textContent = note.title || 'Untitled';
  const body = document.createElement('p');
  body.className = 'note-body';
  body.textContent = note.body;
  const date = document.createElement('time');
  date.className = 'note-date';
  date.dateTime = new Date(note.createdAt).toISOString();
  date.textContent = new Date(note.createdAt).toLocaleString();
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.className = 'note-delete';
  remove.textContent = 'Delete';
  remove.addEventListener('click', () => setNotes(notes.filter((n) => n.id !== note.id)));

  item.append(title, body, date, remove);
  return item;
}

function renderNotes() {
  noteList.replaceChildren(...notes.map(noteElement));
  notesEmpty.hidden = notes.length > 0;
}

noteForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const title = noteTitle.value.trim();
  const body = noteBody.value.trim();
  if (!title && !body) {
    noteTitle.focus();
    return;
  }
  setNotes([{ id: newId(), title, body, createdAt: Date.now() }, ...notes]);
  noteForm.reset();
  noteTitle.focus();
});

renderNotes();
"#;
