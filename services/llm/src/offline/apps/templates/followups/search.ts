import { useSyncExternalStore } from 'react';

// The search query, shared by the search box and every list (no provider needed).
let query = '';
const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** Changes the query; every list filtering through `useFilter` re-renders. */
export function setSearchQuery(next: string): void {
  query = next;
  for (const listener of listeners) listener();
}

/** The query as typed. */
export function useSearchQuery(): string {
  return useSyncExternalStore(subscribe, () => query, () => query);
}

/** Whether any of `texts` contains `query` (case-insensitive); an empty query matches. */
export function matchesSearch(query: string, texts: string[]): boolean {
  const needle = query.trim().toLowerCase();
  return needle === '' || texts.some((text) => text.toLowerCase().includes(needle));
}
