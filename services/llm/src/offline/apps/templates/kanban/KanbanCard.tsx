import { neighbour, type Card, type ColumnId } from '../types';

interface KanbanCardProps {
  card: Card;
  onMove: (id: string, column: ColumnId) => void;
  onDelete: (id: string) => void;
}

/** One card: drag it, or move it with the arrow buttons. */
export function KanbanCard({ card, onMove, onDelete }: KanbanCardProps) {
  const left = neighbour(card.column, -1);
  const right = neighbour(card.column, 1);
  return (
    <li
      data-id={card.id}
      data-testid="kanban-card"
      draggable
      onDragStart={(event) => event.dataTransfer.setData('text/plain', card.id)}
      className="kanban-card cursor-grab rounded-lg border border-slate-200 bg-white p-3 shadow-sm dark:border-slate-700 dark:bg-slate-800"
    >
      <p className="card-text break-words">{card.text}</p>
      <div className="mt-2 flex gap-1">
        <button
          type="button"
          data-testid="card-left"
          className="card-left btn px-2 py-1"
          aria-label="Move left"
          disabled={!left}
          onClick={() => left && onMove(card.id, left)}
        >
          ←
        </button>
        <button
          type="button"
          data-testid="card-right"
          className="card-right btn px-2 py-1"
          aria-label="Move right"
          disabled={!right}
          onClick={() => right && onMove(card.id, right)}
        >
          →
        </button>
        <button
          type="button"
          data-testid="card-delete"
          className="card-delete btn btn-danger ml-auto px-2 py-1"
          onClick={() => onDelete(card.id)}
        >
          Delete
        </button>
      </div>
    </li>
  );
}
