// Generated from schemas/json/disconnect.schema.json by clients/web/scripts/types.mjs: do not edit.

/**
 * Why the server ended a stream, and where to resume.
 */
export interface Disconnect {
  /**
   * The WebSocket close code (RFC 6455), the same on SSE: 1000 build finished, 1001
   * server going away, 1002 protocol error, 1007 text not UTF-8, 1008 unsupported
   * message, 1009 message too big, 1011 history unavailable, 1013 slow consumer.
   */
  code: number;
  /**
   * Why, for clients to branch on.
   */
  reason:
    | "build_finished"
    | "going_away"
    | "protocol_error"
    | "invalid_utf8"
    | "unsupported_message"
    | "message_too_big"
    | "history_unavailable"
    | "slow_consumer";
  /**
   * Reconnect with `after` (or `Last-Event-ID`) set to this `seq`: the last event this
   * stream delivered. Absent when there is nothing to resume (the build finished).
   */
  resumeAfter?: number | null;
}
