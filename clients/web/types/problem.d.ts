// Generated from schemas/json/problem.schema.json by clients/web/scripts/types.mjs: do not edit.

/**
 * An error answer (`application/problem+json`, RFC 9457) with buildwire's `code`.
 */
export interface Problem {
  /**
   * Machine-readable code, what a client branches on (`RATE_LIMITED`, `CIRCUIT_OPEN`,
   * ...): one of a fixed list.
   */
  code:
    | "BAD_REQUEST"
    | "BAD_BODY"
    | "INVALID_JSON"
    | "INVALID_BODY"
    | "INVALID_INPUT"
    | "INVALID_PROMPT"
    | "INVALID_USER_ID"
    | "INVALID_PROJECT_ID"
    | "INVALID_PARENT_BUILD_ID"
    | "INVALID_REQUEST_ID"
    | "INVALID_RESTORE_FROM_BUILD_ID"
    | "INVALID_WEBHOOK_URL"
    | "INVALID_IDEMPOTENCY_KEY"
    | "IDEMPOTENCY_KEY_REUSED"
    | "INVALID_BUILD_ID"
    | "INVALID_CURSOR"
    | "INVALID_LIMIT"
    | "PAYLOAD_TOO_LARGE"
    | "LENGTH_REQUIRED"
    | "UNSUPPORTED_MEDIA_TYPE"
    | "METHOD_NOT_ALLOWED"
    | "UNAUTHORIZED"
    | "FORBIDDEN"
    | "SERVICE_KEY_REQUIRED"
    | "SERVICE_KEY_INVALID"
    | "TOKEN_MISSING"
    | "TOKEN_MALFORMED"
    | "TOKEN_UNKNOWN_KEY"
    | "TOKEN_BAD_SIGNATURE"
    | "TOKEN_EXPIRED"
    | "TOKEN_WRONG_BUILD"
    | "TOKEN_WRONG_SCOPE"
    | "ORIGIN_NOT_ALLOWED"
    | "NOT_A_DEMO_BUILD"
    | "NOT_FOUND"
    | "BUILD_NOT_FOUND"
    | "PROJECT_NOT_FOUND"
    | "PARENT_BUILD_NOT_FOUND"
    | "RESTORE_BUILD_NOT_FOUND"
    | "SOURCE_NOT_SAVED"
    | "LOG_NOT_FOUND"
    | "PREVIEW_NOT_FOUND"
    | "LOG_LINK_INVALID"
    | "BUILD_FINISHED"
    | "RATE_LIMITED"
    | "CIRCUIT_OPEN"
    | "VIEWER_QUOTA"
    | "UNAVAILABLE"
    | "INTERNAL";
  /**
   * What went wrong in this case.
   */
  detail: string;
  /**
   * Whether the same request may succeed later.
   */
  retryable: boolean;
  /**
   * HTTP status.
   */
  status: number;
  /**
   * Short summary.
   */
  title: string;
  /**
   * A URI naming the problem type.
   */
  type: string;
}
