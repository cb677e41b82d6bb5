import { useState, type FormEvent } from 'react';
import { emptyValues, inputType, type Entry, type Field, type Value } from '../lib/fields';
import { ENTITY, FIELDS } from '../schema';

interface RecordFormProps {
  /** The record being edited, or null for a new one. */
  editing: Entry | null;
  onSave: (values: Record<string, Value>) => void;
  onCancel: () => void;
}

function FieldInput({ field, value, onChange }: { field: Field; value: Value; onChange: (value: Value) => void }) {
  const id = `field-${field.key}`;
  if (field.kind === 'checkbox') {
    return (
      <label htmlFor={id} className="flex items-center gap-2 text-sm font-medium">
        <input
          id={id}
          data-testid={id}
          type="checkbox"
          checked={value === true}
          onChange={(event) => onChange(event.target.checked)}
          className="h-4 w-4 accent-indigo-600"
        />
        {field.label}
      </label>
    );
  }
  const text = typeof value === 'string' ? value : '';
  const multiline = field.kind === 'longtext' || field.kind === 'list';
  return (
    <label htmlFor={id} className="grid gap-1 text-sm font-medium">
      {field.label}
      {field.unit ? ` (${field.unit})` : ''}
      {multiline ? (
        <textarea
          id={id}
          data-testid={id}
          rows={3}
          value={text}
          placeholder={field.kind === 'list' ? 'One per line' : ''}
          onChange={(event) => onChange(event.target.value)}
          className="input font-normal"
        />
      ) : (
        <input
          id={id}
          data-testid={id}
          type={inputType(field.kind)}
          step={field.kind === 'number' || field.kind === 'duration' ? 'any' : undefined}
          min={field.kind === 'duration' ? 0 : undefined}
          value={text}
          onChange={(event) => onChange(event.target.value)}
          className="input font-normal"
        />
      )}
    </label>
  );
}

/** Adds a record, or edits the chosen one (rendered with `key` = the record's id, so
 * choosing another record starts the form afresh). */
export function RecordForm({ editing, onSave, onCancel }: RecordFormProps) {
  const [values, setValues] = useState<Record<string, Value>>(() =>
    editing ? { ...emptyValues(FIELDS), ...editing.values } : emptyValues(FIELDS),
  );
  const [error, setError] = useState('');

  const first = FIELDS[0];
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const name = first ? values[first.key] : '';
    if (first && (typeof name !== 'string' || name.trim() === '')) {
      setError(`Give the ${ENTITY.one} a ${first.label.toLowerCase()}.`);
      return;
    }
    onSave(values);
    setValues(emptyValues(FIELDS));
    setError('');
  };

  return (
    <section className="card" aria-labelledby="record-form-heading">
      <h2 id="record-form-heading" className="text-lg font-semibold">
        {editing ? `Edit ${ENTITY.one}` : `New ${ENTITY.one}`}
      </h2>
      <form id="record-form" data-testid="record-form" className="mt-3 grid gap-3 sm:grid-cols-2" autoComplete="off" onSubmit={submit}>
        {FIELDS.map((field) => (
          <div key={field.key} className={field.kind === 'longtext' || field.kind === 'list' ? 'sm:col-span-2' : ''}>
            <FieldInput
              field={field}
              value={values[field.key] ?? ''}
              onChange={(value) => setValues((current) => ({ ...current, [field.key]: value }))}
            />
          </div>
        ))}
        {error && (
          <p id="record-error" role="alert" className="text-sm text-red-600 sm:col-span-2 dark:text-red-400">
            {error}
          </p>
        )}
        <div className="flex gap-2 sm:col-span-2">
          <button id="save-record" data-testid="save-record" type="submit" className="btn btn-primary">
            {editing ? 'Save changes' : `Add ${ENTITY.one}`}
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
