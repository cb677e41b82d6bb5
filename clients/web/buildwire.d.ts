// Types of the buildwire browser client (buildwire.js). The wire types come from
// types/*.d.ts, generated from schemas/json by scripts/types.mjs.
import type { Event } from "./types/event.js";
import type { Problem } from "./types/problem.js";

export type { Event, Problem };
export type * from "./types/event.js";
export type { BuildAccepted } from "./types/build-accepted.js";
/** How the edge ends a stream: a WebSocket close frame's reason, or SSE's last comment. */
export type { Disconnect } from "./types/disconnect.js";
/** The body of `POST /v1/builds` (prompt, follow-up, restore, per-build webhook URL). */
export type { SubmitBuild } from "./types/submit-build.js";

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
  /**
   * `auto` (default): WebSocket, then SSE (for the rest of the page) when `new WebSocket()`
   * throws or its handshake fails while HTTP to the edge works (a proxy, a
   * Content-Security-Policy without `ws:`). `ws`: those cases end in state `failed` with
   * `error` set. `sse`: Server-Sent Events only.
   */
  transport?: "auto" | "ws" | "sse";
  /** Resume after this seq (default 0: from the start). */
  after?: number;
  onEvent?: (event: BuildEvent) => void;
  onState?: (state: ConnectionState) => void;
  /**
   * Called a minute before the token expires and when the server refuses it with 401. An
   * answer that is not a newer token (a rejection, nothing, the same token or expiry) is
   * retried with backoff: 5 s doubling to 5 min, jittered. Without it the token is not
   * refreshed, and a 401 ends the watch in `failed`.
   */
  refreshToken?: () => Promise<string | null | undefined>;
  /**
   * Liveness watchdog, in ms (default 45000; 0 turns it off): a stream that delivers no
   * event and no heartbeat for this long is presumed dead (a sleeping laptop, a NAT that
   * forgot the connection), closed and resumed after `lastSeq`. The edge sends a heartbeat
   * after 15-30 s of silence; keep this above 30000 outside tests. SSE heartbeats are
   * comments EventSource does not surface, so a quiet SSE stream is reopened (a resume)
   * once per period of silence.
   */
  livenessTimeoutMs?: number;
}

/** Why the watch ended in `failed`: the server's problem+json, or the client's own reason. */
export type WatchError = Problem | { status: number; title: string; detail?: string };

export interface Watch {
  /** Stops watching (state `done`). */
  close(): void;
  /**
   * Hands the watch another token (ignored when it is the same or expires sooner), used
   * from the next (re)connect and refreshed a minute before its own expiry.
   */
  setToken(token: string): void;
  /** The last seq delivered. */
  readonly lastSeq: number;
  /** The transport in use. */
  readonly transport: "ws" | "sse";
  /**
   * Why the watch failed, once the state is `failed`: the server's problem+json, or
   * `{ status: 0, title: "WebSocket unavailable", detail }` when `transport: "ws"` cannot
   * open a WebSocket.
   */
  readonly error: WatchError | null;
}

export function watchBuild(options: WatchOptions): Watch;
