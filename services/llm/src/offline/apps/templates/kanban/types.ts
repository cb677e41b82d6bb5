/** The board's columns, left to right. */
export const COLUMNS = [
  { id: 'todo', title: 'To do' },
  { id: 'doing', title: 'Doing' },
  { id: 'done', title: 'Done' },
] as const;

/** A column's id. */
export type ColumnId = (typeof COLUMNS)[number]['id'];

/** One card on the board. */
export interface Card {
  id: string;
  text: string;
  column: ColumnId;
}

function isColumnId(value: unknown): value is ColumnId {
  return COLUMNS.some((column) => column.id === value);
}

function isCard(value: unknown): value is Card {
  if (typeof value !== 'object' || value === null) return false;
  const card = value as Record<string, unknown>;
  return typeof card.id === 'string' && typeof card.text === 'string' && isColumnId(card.column);
}

/** Whether a stored value is a list of cards. */
export function isCardList(value: unknown): value is Card[] {
  return Array.isArray(value) && value.every(isCard);
}

/** The column `steps` to the right of `column` (left when negative), if there is one. */
export function neighbour(column: ColumnId, steps: number): ColumnId | undefined {
  const index = COLUMNS.findIndex((entry) => entry.id === column);
  return COLUMNS[index + steps]?.id;
}
