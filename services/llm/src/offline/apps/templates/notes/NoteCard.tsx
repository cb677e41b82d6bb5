import type { Note } from '../types';

interface NoteCardProps {
  note: Note;
  onEdit: (note: Note) => void;
  onDelete: (id: string) => void;
}

/** One note: its title, text, when it was saved, and edit/delete buttons. */
export function NoteCard({ note, onEdit, onDelete }: NoteCardProps) {
  return (
    <li data-id={note.id} data-testid="note-item" className="note-item card flex flex-col gap-2">
      <h3 className="note-title break-words font-semibold">{note.title}</h3>
      <p className="note-body whitespace-pre-wrap break-words text-slate-600 dark:text-slate-300">{note.body}</p>
      <time className="note-date text-xs text-slate-400" dateTime={new Date(note.updatedAt).toISOString()}>
        {new Date(note.updatedAt).toLocaleString()}
      </time>
      <div className="mt-auto flex gap-2">
        <button type="button" data-testid="note-edit" className="note-edit btn px-2 py-1" onClick={() => onEdit(note)}>
          Edit
        </button>
        <button
          type="button"
          data-testid="note-delete"
          className="note-delete btn btn-danger px-2 py-1"
          onClick={() => onDelete(note.id)}
        >
          Delete
        </button>
      </div>
    </li>
  );
}
