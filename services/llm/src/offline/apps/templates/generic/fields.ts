/** What a field holds, and so how it is entered and shown. */
export type FieldKind =
  | 'text'
  | 'longtext'
  | 'list'
  | 'number'
  | 'duration'
  | 'date'
  | 'time'
  | 'email'
  | 'url'
  | 'checkbox';

/** One field of a record. */
export interface Field {
  /** Storage key and input id suffix (`cookingTime`). */
  key: string;
  /** What people read (`Cooking time`). */
  label: string;
  kind: FieldKind;
  /** Shown after a number (`min`). */
  unit?: string;
}

/** A field's value: text for everything but checkboxes. */
export type Value = string | boolean;

/** One saved record. */
export interface Entry {
  id: string;
  values: Record<string, Value>;
  createdAt: number;
}

/** Empty values for a new record. */
export function emptyValues(fields: Field[]): Record<string, Value> {
  return Object.fromEntries(fields.map((field) => [field.key, field.kind === 'checkbox' ? false : '']));
}

/** The lines of a list field. */
export function listItems(value: Value | undefined): string[] {
  return typeof value === 'string'
    ? value
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
    : [];
}

/** A value as text, for cards and search. */
export function displayValue(field: Field, value: Value | undefined): string {
  if (field.kind === 'checkbox') return value === true ? 'Yes' : 'No';
  if (typeof value !== 'string' || value === '') return '';
  if (field.kind === 'list') return listItems(value).join(', ');
  return field.unit ? `${value} ${field.unit}` : value;
}

/** The `type` of a field's <input>. */
export function inputType(kind: FieldKind): string {
  switch (kind) {
    case 'number':
    case 'duration':
      return 'number';
    case 'date':
    case 'time':
    case 'email':
    case 'url':
    case 'checkbox':
      return kind;
    default:
      return 'text';
  }
}

function isEntry(value: unknown): value is Entry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  const values = entry.values;
  return (
    typeof entry.id === 'string' &&
    typeof entry.createdAt === 'number' &&
    typeof values === 'object' &&
    values !== null &&
    Object.values(values).every((v) => typeof v === 'string' || typeof v === 'boolean')
  );
}

/** Whether a stored value is a list of records. */
export function isEntryList(value: unknown): value is Entry[] {
  return Array.isArray(value) && value.every(isEntry);
}
