// Changes asked for in follow-ups that this app does not do by itself yet, so nothing
// asked is lost. Each follow-up adds its request above the marker.
const REQUESTS: string[] = [
__REQUESTS__  // buildwire:requests
];

/** The requested changes, listed. */
export function RequestedChanges() {
  return (
    <section
      id="request-notes"
      data-testid="request-notes"
      className="card border-l-4 border-l-indigo-500"
      aria-labelledby="request-notes-heading"
    >
      <h2 id="request-notes-heading" className="text-lg font-semibold">
        Requested changes
      </h2>
      <ul className="mt-2 list-disc space-y-1 pl-5">
        {REQUESTS.map((request) => (
          <li key={request} className="request-note" data-testid="request-note">
            {request}
          </li>
        ))}
      </ul>
    </section>
  );
}
