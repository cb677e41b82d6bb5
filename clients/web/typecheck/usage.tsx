// Compile-time checks of the client's types against the generated wire types: a typical
// main-app use of watchBuild, the fold and the hook. `npm run check` type-checks this file.
import { watchBuild, type BuildEvent, type Event } from "../buildwire";
import { applyEvent, createProgress, foldEvents } from "../progress";
import { useBuildProgress } from "../react";
import type { BuildProgress } from "../types/build-progress";

export function describe(event: Event): string {
  switch (event.type) {
    case "status":
      return `${event.code}: ${event.message}`;
    case "task_completed":
      return `${event.taskName}: ${(event.details?.filesCreated ?? []).join(", ")}`;
    case "build_progress":
      return (event.logs ?? []).join("\n");
    case "complete":
      return `ready at ${event.previewUrl}`;
    case "failed":
      return event.message;
    default:
      return event.type;
  }
}

export function watch(baseUrl: string, buildId: string, token: string): () => void {
  const seen: BuildEvent[] = [];
  const w = watchBuild({
    baseUrl,
    buildId,
    token,
    onEvent: (event) => seen.push(event),
    onState: (state) => {
      if (state === "failed") console.log(w.error?.status);
    },
    refreshToken: async () => token,
  });
  const seq: number = w.lastSeq;
  void seq;
  return () => w.close();
}

export function sameAsServer(events: Event[], server: BuildProgress): boolean {
  const mine = foldEvents(server.buildId, events);
  const next = applyEvent(createProgress(server.buildId), events[0]);
  return mine.status === server.status && next.lastSeq >= 0;
}

export function Progress({ buildId, token }: { buildId: string; token: string }) {
  const { events, status, connection, progress } = useBuildProgress(buildId, token);
  return (
    <div data-status={status} data-connection={connection}>
      {progress.lines.map((line) => (
        <p key={line.key}>{line.label}</p>
      ))}
      <span>{events.length}</span>
    </div>
  );
}
