// buildwire browser client: watch a build's events live, with no runtime dependencies.
//
//   import { watchBuild } from "/client/buildwire.js";
//   const watch = watchBuild({ baseUrl, buildId, token, onEvent, onState });
//   watch.close();
//
// Transport "auto" tries the WebSocket first and falls back to Server-Sent Events when the
// WebSocket handshake fails while plain HTTP works (remembered for the page). Drops are
// retried with backoff and jitter, resuming after the last seq seen; duplicates are
// dropped; it stops after the terminal event (complete, failed, cancelled). `onEvent` gets
// the build's events (snapshot included), not the stream's own connected/heartbeat.
// `refreshToken` (optional, async) is called a minute before the token expires, and when
// the server refuses an expired token; its answer is used from then on. A stream the
// server refuses for good (unknown build, another build's token, no fresh token) ends with
// state "failed" and `watch.error` set to the server's problem+json.

const TERMINAL = new Set(["complete", "failed", "cancelled"]);
const CONTROL = new Set(["connected", "heartbeat"]);
const MAX_BACKOFF_MS = 30000;
const PROBE_TIMEOUT_MS = 10000;
let websocketBroken = false; // remembered for the page once a handshake fails over working HTTP

function tokenExpiry(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).exp * 1000;
  } catch {
    return null;
  }
}

export function watchBuild({
  baseUrl,
  buildId,
  token,
  transport = "auto",
  after = 0,
  onEvent = () => {},
  onState = () => {},
  refreshToken,
}) {
  const base = String(baseUrl).replace(/\/+$/, "");
  let lastSeq = Number(after) || 0;
  let current = null; // the open WebSocket or EventSource
  let using = transport === "sse" || (transport === "auto" && websocketBroken) ? "sse" : "ws";
  let attempt = 0;
  let closed = false;
  let retryTimer = null;
  let refreshTimer = null;
  let refreshedAfterRefusal = false;
  let error = null;

  const setState = (state) => {
    try {
      onState(state);
    } catch (err) {
      console.error(err);
    }
  };

  const finish = (state) => {
    if (closed) return;
    closed = true;
    clearTimeout(retryTimer);
    clearTimeout(refreshTimer);
    if (current) current.close();
    current = null;
    setState(state);
  };

  const deliver = (event) => {
    if (CONTROL.has(event.type)) return; // the stream's own messages, not the build's
    if (typeof event.seq === "number") {
      if (event.seq <= lastSeq) return; // already delivered
      lastSeq = event.seq;
    }
    attempt = 0;
    refreshedAfterRefusal = false;
    try {
      onEvent(event);
    } catch (err) {
      console.error(err);
    }
    if (TERMINAL.has(event.type)) finish("done");
  };

  const deliverText = (text) => {
    let event;
    try {
      event = JSON.parse(text);
    } catch {
      return; // not an event: ignored
    }
    deliver(event);
  };

  const scheduleReconnect = () => {
    if (closed) return;
    setState("reconnecting");
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt += 1;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
  };

  const eventsUrl = (extra = "") =>
    `${base}/events/${encodeURIComponent(buildId)}` +
    `?token=${encodeURIComponent(token)}&after=${lastSeq}${extra}`;

  // Asks the SSE endpoint (same checks as the WebSocket's) why a stream did not open:
  // its status (0 when the network is down) and problem+json body.
  const probe = async () => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), PROBE_TIMEOUT_MS);
    try {
      const response = await fetch(eventsUrl(), { signal: abort.signal, cache: "no-store" });
      let problem = null;
      if (response.status >= 400) problem = await response.json().catch(() => null);
      return { status: response.status, problem };
    } catch {
      return { status: 0, problem: null };
    } finally {
      clearTimeout(timer);
      abort.abort(); // a 200 is a live stream: not needed
    }
  };

  // A stream that never opened: refused for good, refused for an old token, ended, or
  // the network (or, over working HTTP, the WebSocket path) is down.
  const handshakeFailed = async (wasWebSocket) => {
    const { status, problem } = await probe();
    if (closed) return;
    if (status === 204) return finish("done"); // ended, and nothing is left after lastSeq
    if (status === 401 && refreshToken && !refreshedAfterRefusal) {
      refreshedAfterRefusal = true;
      try {
        const fresh = await refreshToken();
        if (fresh) token = fresh;
      } catch (err) {
        console.error("buildwire: token refresh failed", err);
      }
      return scheduleReconnect();
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      error = problem ?? { status, title: "stream refused" };
      return finish("failed");
    }
    if (wasWebSocket && status === 200 && transport === "auto") {
      websocketBroken = true; // HTTP works, the WebSocket does not: SSE from now on
      using = "sse";
      return connect();
    }
    scheduleReconnect();
  };

  const connectWebSocket = () => {
    const url = `${base.replace(/^http/, "ws")}/ws/builds/${encodeURIComponent(buildId)}` +
      `?token=${encodeURIComponent(token)}&after=${lastSeq}`;
    const socket = new WebSocket(url);
    let opened = false;
    current = socket;
    socket.onopen = () => {
      opened = true;
      setState("live");
    };
    socket.onmessage = (message) => {
      deliverText(message.data);
    };
    socket.onclose = (close) => {
      if (current !== socket || closed) return;
      current = null;
      if (!opened) {
        handshakeFailed(true);
        return;
      }
      if (close.code === 1000 && close.reason === "build finished") {
        finish("done");
        return;
      }
      scheduleReconnect();
    };
  };

  const connectEventSource = () => {
    const source = new EventSource(eventsUrl(transport === "auto" ? "&fallback=1" : ""));
    let opened = false;
    current = source;
    source.onopen = () => {
      opened = true;
      setState("live");
    };
    source.onmessage = (message) => {
      deliverText(message.data);
    };
    source.onerror = () => {
      if (current !== source || closed) return;
      // EventSource retries by itself (with Last-Event-ID) unless the server ended it or
      // refused it; then it is ours to decide.
      if (source.readyState !== EventSource.CLOSED) {
        setState("reconnecting");
        return;
      }
      source.close();
      current = null;
      if (!opened) handshakeFailed(false);
      else scheduleReconnect();
    };
  };

  const connect = () => {
    if (closed) return;
    setState("connecting");
    if (using === "ws" && typeof WebSocket === "undefined") using = "sse";
    if (using === "ws") connectWebSocket();
    else connectEventSource();
  };

  const planRefresh = () => {
    if (!refreshToken) return;
    const expiry = tokenExpiry(token);
    if (!expiry) return;
    const wait = Math.max(1000, expiry - Date.now() - 60000);
    refreshTimer = setTimeout(async () => {
      try {
        const fresh = await refreshToken();
        if (fresh) token = fresh;
      } catch (err) {
        console.error("buildwire: token refresh failed", err);
      }
      if (!closed) planRefresh();
    }, wait);
  };

  planRefresh();
  connect();
  return {
    close: () => finish("done"),
    get lastSeq() {
      return lastSeq;
    },
    get transport() {
      return using;
    },
    get error() {
      return error;
    },
  };
}
