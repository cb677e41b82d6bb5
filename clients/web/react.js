"use client";
// useBuildProgress: the plan's `useBuilderProgress` React hook, on top of watchBuild.
//
//   import { useBuildProgress } from "@buildwire/client/react"; // or /client/react.js with an import map for "react"
//   const { events, status, connection, progress } = useBuildProgress(buildId, token, { baseUrl });
//
// `events` are the build's events in order, each once; `status` is the build's status
// (queued ... completed/failed/cancelled); `connection` is watchBuild's state (connecting,
// live, reconnecting, done, failed); `progress` is the fold of progress.js (lines, logs,
// preview URL). A new buildId starts over; a new token prop is handed to the running watch
// (`watch.setToken`) and used from its next reconnect. `refreshToken` is passed to
// watchBuild only when given: without it the watch does not refresh, and a token the
// server refuses as expired ends in connection "failed".
import { useEffect, useReducer, useRef } from "react";
import { watchBuild } from "./buildwire.js";
import { applyEvent, createProgress } from "./progress.js";

function initial(buildId) {
  return { buildId, events: [], progress: createProgress(buildId), connection: "connecting" };
}

function reduce(state, action) {
  switch (action.kind) {
    case "reset":
      return initial(action.buildId);
    case "event": {
      if (action.buildId !== state.buildId) return state;
      const progress = applyEvent(state.progress, action.event);
      if (progress === state.progress) return state; // a replay
      return { ...state, events: [...state.events, action.event], progress };
    }
    case "connection":
      if (action.buildId !== state.buildId) return state;
      return { ...state, connection: action.connection };
    default:
      return state;
  }
}

/** Watches `buildId` with `token`; see the module comment for what it answers. */
export function useBuildProgress(buildId, token, options = {}) {
  const { baseUrl, transport = "auto", refreshToken, livenessTimeoutMs } = options;
  const [state, dispatch] = useReducer(reduce, buildId, initial);
  const tokenRef = useRef(token);
  const refreshRef = useRef(refreshToken);
  const watchRef = useRef(null);
  tokenRef.current = token;
  refreshRef.current = refreshToken;
  const refreshes = typeof refreshToken === "function";

  useEffect(() => {
    if (!buildId || !tokenRef.current) return undefined;
    dispatch({ kind: "reset", buildId });
    const base = baseUrl ?? (typeof location !== "undefined" ? location.origin : "");
    const watch = watchBuild({
      baseUrl: base,
      buildId,
      token: tokenRef.current,
      transport,
      livenessTimeoutMs,
      onEvent: (event) => dispatch({ kind: "event", buildId, event }),
      onState: (connection) => dispatch({ kind: "connection", buildId, connection }),
      // The caller's newest refresher; none when the caller gave none.
      refreshToken: refreshes ? () => refreshRef.current?.() : undefined,
    });
    watchRef.current = watch;
    return () => {
      watchRef.current = null;
      watch.close();
    };
  }, [buildId, baseUrl, transport, livenessTimeoutMs, refreshes, Boolean(token)]);

  // A new token prop goes to the running watch (used from its next reconnect).
  useEffect(() => {
    if (token) watchRef.current?.setToken(token);
  }, [token]);

  return {
    events: state.events,
    status: state.progress.status,
    connection: state.connection,
    progress: state.progress,
  };
}
