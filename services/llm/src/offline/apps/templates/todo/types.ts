/** One todo. */
export interface Todo {
  id: string;
  text: string;
  done: boolean;
}

function isTodo(value: unknown): value is Todo {
  if (typeof value !== 'object' || value === null) return false;
  const todo = value as Record<string, unknown>;
  return typeof todo.id === 'string' && typeof todo.text === 'string' && typeof todo.done === 'boolean';
}

/** Whether a stored value is a list of todos. */
export function isTodoList(value: unknown): value is Todo[] {
  return Array.isArray(value) && value.every(isTodo);
}
