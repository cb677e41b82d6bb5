import { APP } from '../config';
import { useFilter } from '../hooks/useFilter';
import { useLocalStorage } from '../hooks/useLocalStorage';
import { newId } from '../lib/id';
import { COLUMNS, isCardList, type Card, type ColumnId } from '../types';
import { CardForm } from './CardForm';
import { Column } from './Column';

const CARDS_KEY = `${APP.storageKey}.cards`;

/** The board: cards in To do / Doing / Done, moved by dragging or with buttons; saved. */
export function Board() {
  const [cards, setCards] = useLocalStorage<Card[]>(CARDS_KEY, [], isCardList);
  const visible = useFilter(cards, (card) => [card.text]);

  const add = (text: string) => setCards((current) => [...current, { id: newId(), text, column: 'todo' }]);
  const move = (id: string, column: ColumnId) =>
    setCards((current) => current.map((card) => (card.id === id ? { ...card, column } : card)));
  const remove = (id: string) => setCards((current) => current.filter((card) => card.id !== id));

  return (
    <>
      <CardForm onAdd={add} />
      <section aria-label="Board" className="grid gap-4 md:grid-cols-3">
        {COLUMNS.map((column) => (
          <Column
            key={column.id}
            id={column.id}
            title={column.title}
            cards={visible.filter((card) => card.column === column.id)}
            onMove={move}
            onDelete={remove}
          />
        ))}
      </section>
      {cards.length > 0 && visible.length === 0 && (
        <p id="search-empty" data-testid="search-empty" className="empty">
          No matches.
        </p>
      )}
    </>
  );
}
