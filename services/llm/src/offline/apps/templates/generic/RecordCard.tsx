import { displayValue, listItems, type Entry } from '../lib/fields';
import { FIELDS } from '../schema';

interface RecordCardProps {
  entry: Entry;
  onEdit: (entry: Entry) => void;
  onDelete: (id: string) => void;
}

/** One record: its name as the heading, its other fields below, edit and delete. */
export function RecordCard({ entry, onEdit, onDelete }: RecordCardProps) {
  const [first, ...rest] = FIELDS;
  return (
    <li data-id={entry.id} data-testid="record-item" className="record-item card flex flex-col gap-3">
      {first && (
        <h3 className="record-title break-words text-lg font-semibold" data-field={first.key}>
          {displayValue(first, entry.values[first.key])}
        </h3>
      )}
      <dl className="grid gap-2 text-sm">
        {rest.map((field) => {
          const value = entry.values[field.key];
          const shown = displayValue(field, value);
          if (shown === '' && field.kind !== 'checkbox') return null;
          return (
            <div key={field.key} data-field={field.key} className="grid gap-0.5">
              <dt className="font-medium text-slate-500 dark:text-slate-400">{field.label}</dt>
              <dd className="break-words">
                {field.kind === 'list' ? (
                  <ul className="list-disc pl-5">
                    {listItems(value).map((item, index) => (
                      <li key={`${index}-${item}`}>{item}</li>
                    ))}
                  </ul>
                ) : field.kind === 'url' && typeof value === 'string' && /^https?:\/\//.test(value) ? (
                  <a href={value} className="text-indigo-600 underline dark:text-indigo-400" rel="noreferrer" target="_blank">
                    {value}
                  </a>
                ) : field.kind === 'longtext' ? (
                  <p className="whitespace-pre-wrap">{shown}</p>
                ) : (
                  shown
                )}
              </dd>
            </div>
          );
        })}
      </dl>
      <div className="mt-auto flex gap-2">
        <button type="button" data-testid="record-edit" className="record-edit btn px-2 py-1" onClick={() => onEdit(entry)}>
          Edit
        </button>
        <button
          type="button"
          data-testid="record-delete"
          className="record-delete btn btn-danger px-2 py-1"
          onClick={() => onDelete(entry.id)}
        >
          Delete
        </button>
      </div>
    </li>
  );
}
