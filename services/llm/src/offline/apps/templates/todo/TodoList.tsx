import { APP } from '../config';
import { useFilter } from '../hooks/useFilter';
import { useLocalStorage } from '../hooks/useLocalStorage';
import { newId } from '../lib/id';
import { isTodoList, type Todo } from '../types';
import { TodoForm } from './TodoForm';
import { TodoItem } from './TodoItem';

const TODOS_KEY = `${APP.storageKey}.items`;

/** The todo list: add, complete and delete todos; saved in localStorage. */
export function TodoList() {
  const [todos, setTodos] = useLocalStorage<Todo[]>(TODOS_KEY, [], isTodoList);
  const visible = useFilter(todos, (todo) => [todo.text]);
  const left = todos.filter((todo) => !todo.done).length;

  const add = (text: string) => setTodos((current) => [...current, { id: newId(), text, done: false }]);
  const toggle = (id: string) =>
    setTodos((current) => current.map((todo) => (todo.id === id ? { ...todo, done: !todo.done } : todo)));
  const remove = (id: string) => setTodos((current) => current.filter((todo) => todo.id !== id));
  const clearCompleted = () => setTodos((current) => current.filter((todo) => !todo.done));

  return (
    <section className="card" aria-labelledby="todo-heading">
      <h2 id="todo-heading" className="text-lg font-semibold">
        My todos
      </h2>
      <TodoForm onAdd={add} />
      <ul id="todo-list" data-testid="todo-list" className="mt-4 grid gap-2">
        {visible.map((todo) => (
          <TodoItem key={todo.id} todo={todo} onToggle={toggle} onDelete={remove} />
        ))}
      </ul>
      {todos.length === 0 && (
        <p id="todo-empty" data-testid="todo-empty" className="empty">
          Nothing to do yet. Add your first todo above.
        </p>
      )}
      {todos.length > 0 && visible.length === 0 && (
        <p id="search-empty" data-testid="search-empty" className="empty">
          No matches.
        </p>
      )}
      <footer className="mt-4 flex items-center justify-between text-sm text-slate-500 dark:text-slate-400">
        <span id="todo-count" data-testid="todo-count">
          {left} {left === 1 ? 'item' : 'items'} left
        </span>
        <button
          id="clear-completed"
          data-testid="clear-completed"
          type="button"
          className="btn"
          disabled={!todos.some((todo) => todo.done)}
          onClick={clearCompleted}
        >
          Clear completed
        </button>
      </footer>
    </section>
  );
}
