// Generated from schemas/json/build-token.schema.json by clients/web/scripts/types.mjs: do not edit.

/**
 * `POST /v1/builds/{id}/token`.
 */
export interface BuildToken {
  /**
   * JWT for the build's streams.
   */
  buildToken: string;
  /**
   * When it expires.
   */
  tokenExpiresAt: string;
}
