import { setSearchQuery, useSearchQuery } from '../search';

/** A search box; every list of the app shows only what matches it. */
export function SearchBar() {
  const query = useSearchQuery();
  return (
    <section id="search-bar" role="search" data-testid="search-bar" className="card">
      <input
        id="search"
        data-testid="search"
        type="search"
        value={query}
        onChange={(event) => setSearchQuery(event.target.value)}
        placeholder="Search…"
        aria-label="Search"
        autoComplete="off"
        className="input w-full"
      />
    </section>
  );
}
