import { useState, type FormEvent } from 'react';

interface CardFormProps {
  onAdd: (text: string) => void;
}

/** The new-card box; new cards start in "To do". */
export function CardForm({ onAdd }: CardFormProps) {
  const [text, setText] = useState('');
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const trimmed = text.trim();
    if (!trimmed) return;
    onAdd(trimmed);
    setText('');
  };
  return (
    <section className="card">
      <form id="card-form" data-testid="card-form" className="flex gap-2" autoComplete="off" onSubmit={submit}>
        <input
          id="new-card"
          data-testid="new-card"
          type="text"
          value={text}
          onChange={(event) => setText(event.target.value)}
          placeholder="New card"
          aria-label="New card"
          maxLength={200}
          className="input min-w-0 flex-1"
        />
        <button id="add-card" data-testid="add-card" type="submit" className="btn btn-primary">
          Add card
        </button>
      </form>
    </section>
  );
}
