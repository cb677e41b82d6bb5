import { useState } from 'react';
import { APP } from '../config';
import { useFilter } from '../hooks/useFilter';
import { useLocalStorage } from '../hooks/useLocalStorage';
import { displayValue, isEntryList, type Entry, type Value } from '../lib/fields';
import { newId } from '../lib/id';
import { ENTITY, FIELDS } from '../schema';
import { RecordCard } from './RecordCard';
import { RecordForm } from './RecordForm';

const RECORDS_KEY = `${APP.storageKey}.items`;

/** The records: add, edit, delete and search them; saved in localStorage. */
export function Records() {
  const [entries, setEntries] = useLocalStorage<Entry[]>(RECORDS_KEY, [], isEntryList);
  const [editing, setEditing] = useState<Entry | null>(null);
  const visible = useFilter(entries, (entry) => FIELDS.map((field) => displayValue(field, entry.values[field.key])));

  const save = (values: Record<string, Value>) => {
    if (editing) {
      setEntries((current) => current.map((entry) => (entry.id === editing.id ? { ...entry, values } : entry)));
      setEditing(null);
    } else {
      setEntries((current) => [{ id: newId(), values, createdAt: Date.now() }, ...current]);
    }
  };
  const remove = (id: string) => {
    setEntries((current) => current.filter((entry) => entry.id !== id));
    if (editing?.id === id) setEditing(null);
  };

  return (
    <>
      <RecordForm key={editing?.id ?? 'new'} editing={editing} onSave={save} onCancel={() => setEditing(null)} />
      <section aria-labelledby="records-heading">
        <h2 id="records-heading" className="mb-3 flex items-baseline justify-between text-lg font-semibold">
          {ENTITY.Many}
          <span id="record-count" data-testid="record-count" className="text-sm font-normal text-slate-500 dark:text-slate-400">
            {entries.length} {entries.length === 1 ? ENTITY.one : ENTITY.many}
          </span>
        </h2>
        <ul id="record-list" data-testid="record-list" className="grid gap-4 sm:grid-cols-2">
          {visible.map((entry) => (
            <RecordCard key={entry.id} entry={entry} onEdit={setEditing} onDelete={remove} />
          ))}
        </ul>
        {entries.length === 0 && (
          <p id="records-empty" data-testid="records-empty" className="empty">
            No {ENTITY.many} yet. Add your first one above.
          </p>
        )}
        {entries.length > 0 && visible.length === 0 && (
          <p id="search-empty" data-testid="search-empty" className="empty">
            No matches.
          </p>
        )}
      </section>
    </>
  );
}
