// Generated from schemas/json/build-accepted.schema.json by clients/web/scripts/types.mjs: do not edit.

/**
 * `202` answer to a submission.
 */
export interface BuildAccepted {
  /**
   * The new build's id (a ULID).
   */
  buildId: string;
  /**
   * JWT for the build's streams.
   */
  buildToken: string;
  /**
   * `http(s)://.../events/{id}` (SSE).
   */
  eventsUrl: string;
  /**
   * `http(s)://.../v1/builds/{id}`.
   */
  statusUrl: string;
  /**
   * When the token expires.
   */
  tokenExpiresAt: string;
  /**
   * `ws(s)://.../ws/builds/{id}`.
   */
  websocketUrl: string;
}
