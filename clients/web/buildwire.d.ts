// Types of the buildwire browser client (buildwire.js). The wire types come from
// types/*.d.ts, generated from schemas/json by scripts/types.mjs.
import type { Event } from "./types/event";
import type { Problem } from "./types/problem";

export type { Event, Problem };
export type * from "./types/event";
export type { BuildAccepted } from "./types/build-accepted";

/** An event as delivered on a stream: `seq` is always set there. */
export type BuildEvent = Event & { seq: number };

/** What `onState` reports. */
export type ConnectionState = "connecting" | "live" | "reconnecting" | "done" | "failed";

export interface WatchOptions {
  /** The edge's base URL (`http(s)://host[:port]`). */
  baseUrl: string;
  buildId: string;
  /** The build token from `POST /v1/builds` (or `/v1/builds/{id}/token`). */
  token: string;
  /** `auto` (default): WebSocket, then SSE when the handshake fails over working HTTP. */
  transport?: "auto" | "ws" | "sse";
  /** Resume after this seq (default 0: from the start). */
  after?: number;
  onEvent?: (event: BuildEvent) => void;
  onState?: (state: ConnectionState) => void;
  /** Called a minute before the token expires and when the server refuses it as expired. */
  refreshToken?: () => Promise<string | null | undefined>;
}

export interface Watch {
  /** Stops watching (state `done`). */
  close(): void;
  /** The last seq delivered. */
  readonly lastSeq: number;
  /** The transport in use. */
  readonly transport: "ws" | "sse";
  /** Why the server refused the stream, once the state is `failed`. */
  readonly error: Problem | { status: number; title: string } | null;
}

export function watchBuild(options: WatchOptions): Watch;
