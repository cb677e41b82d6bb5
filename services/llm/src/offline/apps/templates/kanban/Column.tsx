import type { Card, ColumnId } from '../types';
import { KanbanCard } from './KanbanCard';

interface ColumnProps {
  id: ColumnId;
  title: string;
  cards: Card[];
  onMove: (id: string, column: ColumnId) => void;
  onDelete: (id: string) => void;
}

/** A column of cards; dropping a card here moves it into this column. */
export function Column({ id, title, cards, onMove, onDelete }: ColumnProps) {
  return (
    <div
      id={`column-${id}`}
      data-column={id}
      data-testid={`column-${id}`}
      className="kanban-column rounded-xl bg-slate-200/70 p-3 dark:bg-slate-900"
      onDragOver={(event) => event.preventDefault()}
      onDrop={(event) => {
        event.preventDefault();
        const cardId = event.dataTransfer.getData('text/plain');
        if (cardId) onMove(cardId, id);
      }}
    >
      <h2 className="mb-3 flex items-center justify-between font-semibold">
        {title}
        <span className="column-count rounded-full bg-white px-2 text-sm dark:bg-slate-800">{cards.length}</span>
      </h2>
      <ul className="kanban-cards grid min-h-[4rem] gap-2">
        {cards.map((card) => (
          <KanbanCard key={card.id} card={card} onMove={onMove} onDelete={onDelete} />
        ))}
      </ul>
    </div>
  );
}
