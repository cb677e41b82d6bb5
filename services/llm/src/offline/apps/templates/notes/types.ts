/** One note. */
export interface Note {
  id: string;
  title: string;
  body: string;
  /** When it was last saved (ms since the epoch). */
  updatedAt: number;
}

function isNote(value: unknown): value is Note {
  if (typeof value !== 'object' || value === null) return false;
  const note = value as Record<string, unknown>;
  return (
    typeof note.id === 'string' &&
    typeof note.title === 'string' &&
    typeof note.body === 'string' &&
    typeof note.updatedAt === 'number'
  );
}

/** Whether a stored value is a list of notes. */
export function isNoteList(value: unknown): value is Note[] {
  return Array.isArray(value) && value.every(isNote);
}
