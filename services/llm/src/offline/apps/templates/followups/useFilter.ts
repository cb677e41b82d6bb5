import { matchesSearch, useSearchQuery } from '../search';

/**
 * The items a list shows. Every list passes its items through here with the texts that
 * describe each one, so a feature that narrows what is shown plugs in at one place.
 * Search: only the items one of whose texts contains the query.
 */
export function useFilter<T>(items: T[], describe: (item: T) => string[]): T[] {
  const query = useSearchQuery();
  return query.trim() === '' ? items : items.filter((item) => matchesSearch(query, describe(item)));
}
