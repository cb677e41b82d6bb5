import { useState, type FormEvent } from 'react';

interface TodoFormProps {
  onAdd: (text: string) => void;
}

/** The new-todo box. */
export function TodoForm({ onAdd }: TodoFormProps) {
  const [text, setText] = useState('');
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const trimmed = text.trim();
    if (!trimmed) return;
    onAdd(trimmed);
    setText('');
  };
  return (
    <form id="todo-form" data-testid="todo-form" className="mt-3 flex gap-2" autoComplete="off" onSubmit={submit}>
      <input
        id="new-todo"
        data-testid="new-todo"
        type="text"
        value={text}
        onChange={(event) => setText(event.target.value)}
        placeholder="What needs doing?"
        aria-label="New todo"
        maxLength={200}
        className="input min-w-0 flex-1"
      />
      <button id="add-todo" data-testid="add-todo" type="submit" className="btn btn-primary">
        Add
      </button>
    </form>
  );
}
