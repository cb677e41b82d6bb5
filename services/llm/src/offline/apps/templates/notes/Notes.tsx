import { useState } from 'react';
import { APP } from '../config';
import { useFilter } from '../hooks/useFilter';
import { useLocalStorage } from '../hooks/useLocalStorage';
import { newId } from '../lib/id';
import { isNoteList, type Note } from '../types';
import { NoteCard } from './NoteCard';
import { NoteEditor } from './NoteEditor';

const NOTES_KEY = `${APP.storageKey}.items`;

/** The notes: write, edit and delete notes, newest first; saved in localStorage. */
export function Notes() {
  const [notes, setNotes] = useLocalStorage<Note[]>(NOTES_KEY, [], isNoteList);
  const [editing, setEditing] = useState<Note | null>(null);
  const visible = useFilter(notes, (note) => [note.title, note.body]);

  const save = (title: string, body: string) => {
    const updatedAt = Date.now();
    if (editing) {
      setNotes((current) =>
        current.map((note) => (note.id === editing.id ? { ...note, title, body, updatedAt } : note)),
      );
      setEditing(null);
    } else {
      setNotes((current) => [{ id: newId(), title, body, updatedAt }, ...current]);
    }
  };
  const remove = (id: string) => {
    setNotes((current) => current.filter((note) => note.id !== id));
    if (editing?.id === id) setEditing(null);
  };

  return (
    <>
      <NoteEditor key={editing?.id ?? 'new'} editing={editing} onSave={save} onCancel={() => setEditing(null)} />
      <section aria-label="Notes">
        <ul id="note-list" data-testid="note-list" className="grid gap-4 sm:grid-cols-2">
          {visible.map((note) => (
            <NoteCard key={note.id} note={note} onEdit={setEditing} onDelete={remove} />
          ))}
        </ul>
        {notes.length === 0 && (
          <p id="notes-empty" data-testid="notes-empty" className="empty">
            No notes yet.
          </p>
        )}
        {notes.length > 0 && visible.length === 0 && (
          <p id="search-empty" data-testid="search-empty" className="empty">
            No matches.
          </p>
        )}
      </section>
    </>
  );
}
