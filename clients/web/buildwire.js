// buildwire browser client: watch a build's events live, with no runtime dependencies.
//
//   import { watchBuild } from "/client/buildwire.js";
//   const watch = watchBuild({ baseUrl, buildId, token, onEvent, onState });
//   watch.close();
//
// Transport "auto" tries the WebSocket first and falls back to Server-Sent Events when the
// WebSocket handshake fails (remembered for the page). Drops are retried with backoff and
// jitter, resuming after the last seq seen; duplicates are dropped; it stops after the
// terminal event (complete, failed, cancelled). `refreshToken` (optional, async) is called
// a minute before the token expires and its answer is used from then on.

const TERMINAL = new Set(["complete", "failed", "cancelled"]);
const MAX_BACKOFF_MS = 30000;
let websocketBroken = false; // remembered for the page once a handshake fails

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

  const setState = (state) => {
    try {
      onState(state);
    } catch (err) {
      console.error(err);
    }
  };

  const finish = (state) => {
    closed = true;
    clearTimeout(retryTimer);
    clearTimeout(refreshTimer);
    if (current) current.close();
    current = null;
    setState(state);
  };

  const deliver = (event) => {
    if (typeof event.seq === "number") {
      if (event.seq <= lastSeq) return; // already delivered
      lastSeq = event.seq;
    }
    attempt = 0;
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
    retryTimer = setTimeout(connect, delay);
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
      if (!opened && transport === "auto") {
        websocketBroken = true; // the handshake failed: SSE from now on
        using = "sse";
        connect();
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
    const fallback = transport === "auto" ? "&fallback=1" : "";
    const url = `${base}/events/${encodeURIComponent(buildId)}` +
      `?token=${encodeURIComponent(token)}&after=${lastSeq}${fallback}`;
    const source = new EventSource(url);
    current = source;
    source.onopen = () => setState("live");
    source.onmessage = (message) => {
      deliverText(message.data);
    };
    source.onerror = () => {
      if (current !== source || closed) return;
      // EventSource retries by itself (with Last-Event-ID) unless the server ended it.
      if (source.readyState === EventSource.CLOSED) {
        current = null;
        scheduleReconnect();
      } else {
        setState("reconnecting");
      }
    };
  };

  const connect = () => {
    if (closed) return;
    setState("connecting");
    if (using === "ws" && typeof WebSocket !== "undefined") connectWebSocket();
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
  };
}
