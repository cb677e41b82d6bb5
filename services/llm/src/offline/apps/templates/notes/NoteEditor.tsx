import { useState, type FormEvent } from 'react';
import type { Note } from '../types';

interface NoteEditorProps {
  /** The note being edited, or null for a new one. */
  editing: Note | null;
  onSave: (title: string, body: string) => void;
  onCancel: () => void;
}

/** Writes a new note, or edits the chosen one (rendered with `key` = the note's id, so
 * choosing another note starts the form afresh). */
export function NoteEditor({ editing, onSave, onCancel }: NoteEditorProps) {
  const [title, setTitle] = useState(editing?.title ?? '');
  const [body, setBody] = useState(editing?.body ?? '');

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!title.trim() && !body.trim()) return;
    onSave(title.trim() || 'Untitled', body.trim());
    setTitle('');
    setBody('');
  };

  return (
    <section className="card" aria-labelledby="note-editor-heading">
      <h2 id="note-editor-heading" className="text-lg font-semibold">
        {editing ? 'Edit note' : 'New note'}
      </h2>
      <form id="note-form" data-testid="note-form" className="mt-3 grid gap-2" autoComplete="off" onSubmit={submit}>
        <input
          id="note-title"
          data-testid="note-title"
          type="text"
          value={title}
          onChange={(event) => setTitle(event.target.value)}
          placeholder="Title"
          aria-label="Note title"
          maxLength={120}
          className="input"
        />
        <textarea
          id="note-body"
          data-testid="note-body"
          rows={4}
          value={body}
          onChange={(event) => setBody(event.target.value)}
          placeholder="Write something…"
          aria-label="Note text"
          className="input"
        />
        <div className="flex gap-2">
          <button id="save-note" data-testid="save-note" type="submit" className="btn btn-primary">
            {editing ? 'Update note' : 'Save note'}
          </button>
          {editing && (
            <button id="cancel-edit" data-testid="cancel-edit" type="button" className="btn" onClick={onCancel}>
              Cancel
            </button>
          )}
        </div>
      </form>
    </section>
  );
}
