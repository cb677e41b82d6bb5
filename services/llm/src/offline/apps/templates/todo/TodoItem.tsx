import type { Todo } from '../types';

interface TodoItemProps {
  todo: Todo;
  onToggle: (id: string) => void;
  onDelete: (id: string) => void;
}

/** One todo: a checkbox to complete it, its text, and a delete button. */
export function TodoItem({ todo, onToggle, onDelete }: TodoItemProps) {
  return (
    <li
      data-id={todo.id}
      data-testid="todo-item"
      className={`todo-item flex items-center gap-3 rounded-lg border border-slate-200 px-3 py-2 dark:border-slate-700${todo.done ? ' completed' : ''}`}
    >
      <label className="flex min-w-0 flex-1 cursor-pointer items-center gap-3">
        <input
          type="checkbox"
          data-testid="todo-toggle"
          className="todo-toggle h-4 w-4 accent-indigo-600"
          checked={todo.done}
          onChange={() => onToggle(todo.id)}
        />
        <span className={`todo-text break-words${todo.done ? ' text-slate-400 line-through' : ''}`}>{todo.text}</span>
      </label>
      <button
        type="button"
        data-testid="todo-delete"
        className="todo-delete btn btn-danger px-2 py-1"
        aria-label={`Delete "${todo.text}"`}
        onClick={() => onDelete(todo.id)}
      >
        Delete
      </button>
    </li>
  );
}
