// Types of the buildwire browser client. `BuildEvent` follows schemas/json/event.schema.json.

export type ConnectionState = "connecting" | "live" | "reconnecting" | "done" | "failed";

export interface BuildEvent {
  seq?: number;
  buildId: string;
  type: string;
  timestamp: string;
  requestId: string;
  [field: string]: unknown;
}

export interface WatchOptions {
  baseUrl: string;
  buildId: string;
  token: string;
  transport?: "auto" | "ws" | "sse";
  after?: number;
  onEvent?: (event: BuildEvent) => void;
  onState?: (state: ConnectionState) => void;
  refreshToken?: () => Promise<string>;
}

export interface Watch {
  close(): void;
  readonly lastSeq: number;
  readonly transport: "ws" | "sse";
}

export function watchBuild(options: WatchOptions): Watch;
