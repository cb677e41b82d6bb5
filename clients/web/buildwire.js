// buildwire browser client: watch a build's events live, with no runtime dependencies.
//
//   import { watchBuild } from "/client/buildwire.js";
//   const watch = watchBuild({ baseUrl, buildId, token, onEvent, onState });
//   watch.close();
//
// Transport "auto" tries the WebSocket first and falls back to Server-Sent Events when the
// WebSocket cannot be used: its constructor throws (a bad URL, a blocked scheme, a
// Content-Security-Policy in browsers that throw), or its handshake fails while plain HTTP
// to the same edge works (a proxy, a CSP in browsers that fail the socket instead). The
// fallback is remembered for the page and announced to the edge once (`&fallback=1`).
// Transport "ws" ends in state "failed" with `watch.error` set in those cases.
//
// Drops are retried with the client's backoff (0.5 s doubling to 30 s, jitter 50-100 %),
// resuming after the last seq seen; EventSource's own retries are not used (the source is
// closed on its first error). Duplicates are dropped; it stops after the terminal event
// (complete, failed, cancelled). `onEvent` gets the build's events (snapshot included),
// not the stream's own connected/heartbeat.
//
// Liveness: a stream that delivers nothing (no event, no heartbeat) for `livenessTimeoutMs`
// (default 45 s: the edge sends a heartbeat after 15-30 s of silence) is presumed dead (a
// sleeping laptop, a NAT that forgot the connection), closed and resumed. SSE heartbeats
// are comments that EventSource does not surface, so a quiet SSE stream is reopened
// (resumed from lastSeq) once per `livenessTimeoutMs` of silence.
//
// `refreshToken` (optional, async) is called a minute before the token expires, and when
// the server refuses a token with 401; its answer is used from then on. An answer that is
// no newer than the current token (an error, nothing, the same token or expiry) is retried
// with backoff (5 s doubling to 5 min, jittered), never in a tight loop. A stream the
// server refuses for good (unknown build, another build's token, no fresh token) ends
// with state "failed" and `watch.error` set to the server's problem+json.

const TERMINAL = new Set(["complete", "failed", "cancelled"]);
const CONTROL = new Set(["connected", "heartbeat"]);
const BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30000;
const PROBE_TIMEOUT_MS = 10000;
/** Default of `livenessTimeoutMs`: the edge's 15 s heartbeat tick (a beat after 15-30 s of
 * silence) plus a margin. */
const LIVENESS_TIMEOUT_MS = 45000;
const REFRESH_AHEAD_MS = 60000;
const REFRESH_RETRY_MS = 5000;
const MAX_REFRESH_RETRY_MS = 300000;
/** setTimeout fires at once past 2^31-1 ms; longer waits are taken in steps. */
const MAX_TIMER_MS = 2147483647;
/** `transport: "ws"`: handshakes that fail over working HTTP before the watch gives up. */
const WS_REFUSALS_BEFORE_FAILING = 3;
let websocketBroken = false; // remembered for the page once the WebSocket proved unusable

function tokenExpiry(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const exp = JSON.parse(atob(payload)).exp;
    return Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** The typed disconnect the edge puts in a close frame's reason (`{ code, reason,
 * resumeAfter }`, schemas/json/disconnect.schema.json), or null for any other close. */
function disconnectOf(close) {
  try {
    const disconnect = JSON.parse(close?.reason || "null");
    return disconnect && typeof disconnect === "object" ? disconnect : null;
  } catch {
    return null;
  }
}

/** `ms` with 50-100 % jitter, so many clients do not come back at the same moment. */
const jittered = (ms) => ms * (0.5 + Math.random() / 2);

/** Exponential backoff: `base` doubled `step` times, at most `max`, jittered. */
const backoff = (base, step, max) => jittered(Math.min(max, base * 2 ** step));

/** Watches a build's events until its terminal event or `close()`; see above and
 * buildwire.d.ts for the options and what the answer holds. */
export function watchBuild({
  baseUrl,
  buildId,
  token,
  transport = "auto",
  after = 0,
  onEvent = () => {},
  onState = () => {},
  refreshToken,
  livenessTimeoutMs = LIVENESS_TIMEOUT_MS,
}) {
  const base = String(baseUrl).replace(/\/+$/, "");
  const liveness = Number(livenessTimeoutMs) > 0 ? Number(livenessTimeoutMs) : 0; // 0: off
  let lastSeq = Number(after) || 0;
  let current = null; // the open WebSocket or EventSource
  let opened = false; // whether `current` opened
  let using = transport === "sse" || (transport === "auto" && websocketBroken) ? "sse" : "ws";
  let announceFallback = false; // `&fallback=1` until an SSE stream opens after the decision
  let attempt = 0;
  let wsRefusals = 0;
  let closed = false;
  let retryTimer = null;
  let refreshTimer = null;
  let livenessTimer = null;
  let refreshing = null; // the refresh in flight
  let refreshFailures = 0;
  let refreshedAfterRefusal = false;
  let error = null;

  // An exception's message without the token (browsers quote the URL it was in).
  const describe = (err) => {
    const text = (err && err.message) || String(err);
    if (typeof token !== "string" || !token) return text;
    return text.split(encodeURIComponent(token)).join("<token>").split(token).join("<token>");
  };

  const setState = (state) => {
    try {
      onState(state);
    } catch (err) {
      console.error(err);
    }
  };

  // Closes the current transport without its handlers running.
  const drop = () => {
    clearTimeout(livenessTimer);
    const was = current;
    current = null;
    if (!was) return;
    was.onopen = was.onmessage = was.onerror = null;
    if ("onclose" in was) was.onclose = null;
    try {
      was.close();
    } catch {
      // a socket that never opened may refuse to close: it is dropped all the same
    }
  };

  const finish = (state) => {
    if (closed) return;
    closed = true;
    clearTimeout(retryTimer);
    clearTimeout(refreshTimer);
    drop();
    setState(state);
  };

  const fail = (problem) => {
    error = problem;
    finish("failed");
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
    if (event && typeof event === "object") deliver(event);
  };

  const scheduleReconnect = () => {
    if (closed) return;
    setState("reconnecting");
    const delay = backoff(BACKOFF_MS, attempt, MAX_BACKOFF_MS);
    attempt += 1;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
  };

  // The liveness watchdog: re-armed by everything the stream delivers.
  const alive = () => {
    clearTimeout(livenessTimer);
    if (liveness) livenessTimer = setTimeout(stale, liveness);
  };

  // Nothing arrived for `liveness` ms: the connection (or its handshake) is presumed dead.
  const stale = () => {
    if (closed || !current) return;
    const wasOpen = opened;
    drop();
    if (wasOpen) scheduleReconnect();
    else handshakeFailed(using === "ws");
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

  // Plans the next refresh: a minute before `exp`, or later after refreshes that failed.
  const planRefresh = () => {
    clearTimeout(refreshTimer);
    if (!refreshToken || closed) return;
    const expiry = tokenExpiry(token);
    if (!expiry) return;
    let wait = expiry - Date.now() - REFRESH_AHEAD_MS;
    if (refreshFailures > 0) {
      const retry = backoff(REFRESH_RETRY_MS, refreshFailures - 1, MAX_REFRESH_RETRY_MS);
      wait = Math.max(wait, retry);
    }
    wait = Math.max(1000, wait);
    if (wait > MAX_TIMER_MS) refreshTimer = setTimeout(planRefresh, MAX_TIMER_MS);
    else refreshTimer = setTimeout(refresh, wait);
  };

  // Takes `fresh` when it is another token expiring later (`later`) or no sooner than the
  // one in use; answers whether it did.
  const adopt = (fresh, later) => {
    if (typeof fresh !== "string" || !fresh || fresh === token) return false;
    const before = tokenExpiry(token);
    const next = tokenExpiry(fresh);
    if (before && next && (later ? next <= before : next < before)) return false;
    token = fresh;
    refreshFailures = 0;
    return true;
  };

  // One call of `refreshToken`: answers whether it brought a newer token.
  const askForToken = async () => {
    let fresh = null;
    try {
      fresh = await refreshToken();
    } catch (err) {
      console.error("buildwire: token refresh failed", err);
    }
    const renewed = adopt(fresh, true); // the same expiry again is no refresh
    if (!renewed) refreshFailures += 1;
    planRefresh();
    return renewed;
  };

  // Asks for a fresh token, one call at a time; answers whether it got one.
  const refresh = () => {
    if (!refreshToken || closed) return Promise.resolve(false);
    refreshing ??= askForToken().finally(() => {
      refreshing = null;
    });
    return refreshing;
  };

  // The WebSocket cannot work on this page: SSE from now on (auto), or the end (ws).
  const webSocketUnusable = (detail) => {
    if (transport === "auto") {
      websocketBroken = true;
      using = "sse";
      announceFallback = true;
      connect();
      return;
    }
    fail({ status: 0, title: "WebSocket unavailable", detail });
  };

  // A stream that never opened: refused for good, refused for an old token, ended, or
  // the network (or, over working HTTP, the WebSocket path) is down.
  const handshakeFailed = async (wasWebSocket) => {
    const { status, problem } = await probe();
    if (closed) return;
    if (status === 204) return finish("done"); // ended, and nothing is left after lastSeq
    if (status === 401 && !refreshedAfterRefusal) {
      refreshedAfterRefusal = true;
      const renewed = await refresh();
      if (closed) return;
      if (renewed) return scheduleReconnect();
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      return fail(problem ?? { status, title: "stream refused" });
    }
    if (wasWebSocket && status === 200) {
      wsRefusals += 1;
      if (transport === "auto" || wsRefusals >= WS_REFUSALS_BEFORE_FAILING) {
        return webSocketUnusable(
          `the WebSocket handshake failed ${wsRefusals} time(s) while HTTP to ${base} works ` +
            "(a proxy, or a Content-Security-Policy connect-src without ws:/wss:)",
        );
      }
    }
    scheduleReconnect();
  };

  const connectWebSocket = () => {
    const url = `${base.replace(/^http/, "ws")}/ws/builds/${encodeURIComponent(buildId)}` +
      `?token=${encodeURIComponent(token)}&after=${lastSeq}`;
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (err) {
      return webSocketUnusable(`new WebSocket() threw: ${describe(err)}`);
    }
    current = socket;
    alive();
    // Chromium fails a socket blocked by CSP with `error` and no `close`: either one ends it.
    const ended = (close) => {
      if (current !== socket || closed) return;
      const wasOpen = opened;
      drop();
      if (!wasOpen) handshakeFailed(true);
      else if (disconnectOf(close)?.reason === "build_finished") finish("done");
      else scheduleReconnect();
    };
    socket.onopen = () => {
      if (current !== socket) return;
      opened = true;
      wsRefusals = 0;
      alive();
      setState("live");
    };
    socket.onmessage = (message) => {
      if (current !== socket) return;
      alive();
      deliverText(message.data);
    };
    socket.onerror = () => ended(null);
    socket.onclose = (close) => ended(close);
  };

  const connectEventSource = () => {
    let source;
    try {
      source = new EventSource(eventsUrl(announceFallback ? "&fallback=1" : ""));
    } catch (err) {
      return fail({ status: 0, title: "EventSource unavailable", detail: describe(err) });
    }
    current = source;
    alive();
    source.onopen = () => {
      if (current !== source) return;
      opened = true;
      announceFallback = false; // counted once per fallback
      alive();
      setState("live");
    };
    source.onmessage = (message) => {
      if (current !== source) return;
      alive();
      deliverText(message.data);
    };
    // A named `heartbeat` event, should the edge send one, proves liveness too.
    source.addEventListener("heartbeat", () => {
      if (current === source) alive();
    });
    // Every error ends this source: its own retry would skip our backoff and jitter.
    source.onerror = () => {
      if (current !== source || closed) return;
      const wasOpen = opened;
      drop();
      if (!wasOpen) handshakeFailed(false);
      else scheduleReconnect();
    };
  };

  const connect = () => {
    if (closed) return;
    setState("connecting");
    opened = false;
    if (using === "ws" && typeof WebSocket === "undefined") {
      if (transport === "ws") {
        return fail({ status: 0, title: "WebSocket unavailable", detail: "no WebSocket here" });
      }
      using = "sse";
    }
    if (using === "ws") connectWebSocket();
    else connectEventSource();
  };

  planRefresh();
  connect();
  return {
    close: () => finish("done"),
    setToken: (fresh) => {
      if (!closed && adopt(fresh, false)) planRefresh();
    },
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
