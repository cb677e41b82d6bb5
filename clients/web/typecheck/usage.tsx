"use client";
// A main app's use of the package, as a Next.js client component would write it: the
// types of watchBuild, the progress fold and the hook, through the package's own names.
// Type-checked in place (`npm run check`, NodeNext, self-reference through `exports`) and,
// by scripts/package.mjs, from the packed tarball in a scratch Next.js project (Next's
// default tsconfig: bundler resolution, jsx preserve) and a NodeNext ESM project.
import { useEffect, useState } from "react";
import {
  watchBuild,
  type BuildAccepted,
  type BuildEvent,
  type BuildProgress,
  type BuildStatus,
  type ConnectionState,
  type Event,
  type Problem,
} from "@buildwire/client";
import {
  STAGES,
  TERMINAL_STATUSES,
  applyEvent,
  createProgress,
  foldEvents,
  lineDuration,
  type Progress,
} from "@buildwire/client/progress";
import { useBuildProgress } from "@buildwire/client/react";

/** A line for a log view, per event type (the union is discriminated by `type`). */
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

/** What a server action returns after `POST /v1/builds`, and the server's progress. */
export async function submit(prompt: string): Promise<BuildAccepted> {
  const response = await fetch("/api/builds", { method: "POST", body: JSON.stringify({ prompt }) });
  if (!response.ok) {
    const problem = (await response.json()) as Problem;
    throw new Error(`${problem.status} ${problem.title}`);
  }
  return (await response.json()) as BuildAccepted;
}

/** watchBuild by hand, folding events into the client's progress view. */
export function LiveLog({ baseUrl, accepted }: { baseUrl: string; accepted: BuildAccepted }) {
  const [progress, setProgress] = useState<Progress>(() => createProgress(accepted.buildId));
  const [state, setState] = useState<ConnectionState>("connecting");
  useEffect(() => {
    const watch = watchBuild({
      baseUrl,
      buildId: accepted.buildId,
      token: accepted.buildToken,
      onEvent: (event: BuildEvent) => setProgress((p) => applyEvent(p, event)),
      onState: (next) => {
        setState(next);
        if (next === "failed") console.warn(watch.error?.status, watch.lastSeq, watch.transport);
      },
      refreshToken: async () => (await submit("token")).buildToken,
    });
    return () => watch.close();
  }, [baseUrl, accepted]);
  return (
    <ol data-state={state} data-percent={progress.percent}>
      {progress.lines.map((line) => (
        <li key={line.key}>
          {line.label} {lineDuration(line) ?? ""}
        </li>
      ))}
    </ol>
  );
}

/** The hook, as most pages use it. */
export function BuildProgressView({ buildId, token }: { buildId: string; token: string }) {
  const { events, status, connection, progress } = useBuildProgress(buildId, token, {
    baseUrl: "https://edge.example.com",
    transport: "auto",
  });
  return (
    <section data-status={status} data-connection={connection}>
      {STAGES.map((stage) => (
        <pre key={stage}>{progress.logs[stage].map((log) => log.text).join("\n")}</pre>
      ))}
      {progress.previewUrl && <a href={progress.previewUrl}>Preview</a>}
      <span>{events.length}</span>
    </section>
  );
}

/** The client's fold agrees with the server's (`GET /v1/builds/{id}`). */
export function sameAsServer(events: Event[], server: BuildProgress): boolean {
  const mine = foldEvents(server.buildId, events);
  return mine.status === server.status && mine.lastSeq === server.lastSeq;
}

// Guards: each type is the real one, not `any`. An import a declaration file can no longer
// resolve silently makes its names `any` under skipLibCheck (as Next.js sets it), which
// would accept a symbol here; nothing in the package's types is one.
export function guards(
  event: Event,
  problem: Problem,
  accepted: BuildAccepted,
  server: BuildProgress,
  watch: ReturnType<typeof watchBuild>,
  hook: ReturnType<typeof useBuildProgress>,
) {
  const progress = createProgress(server.buildId);
  hook.status satisfies BuildStatus;
  hook.events satisfies BuildEvent[];
  hook.connection satisfies ConnectionState;
  hook.progress satisfies Progress;
  // @ts-expect-error not any
  event.type satisfies symbol;
  // @ts-expect-error not any
  problem.status satisfies symbol;
  // @ts-expect-error not any
  accepted.buildToken satisfies symbol;
  // @ts-expect-error not any
  server.status satisfies symbol;
  // @ts-expect-error not any
  watch.lastSeq satisfies symbol;
  // @ts-expect-error not any
  progress.status satisfies symbol;
  // @ts-expect-error not any
  progress.percent satisfies symbol;
  // @ts-expect-error not any
  TERMINAL_STATUSES[0] satisfies symbol;
  // @ts-expect-error not any
  applyEvent(progress, Symbol());
  // @ts-expect-error not any
  hook.status satisfies symbol;
  // @ts-expect-error not any
  hook.events[0] satisfies symbol;
  // @ts-expect-error not any
  hook.connection satisfies symbol;
  // @ts-expect-error not any
  hook.progress.percent satisfies symbol;
  // @ts-expect-error not any
  useBuildProgress("b", "t", { transport: Symbol() });
}
