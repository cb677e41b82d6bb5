// Generated from schemas/json/problem.schema.json by clients/web/scripts/types.mjs: do not edit.

/**
 * An error answer (`application/problem+json`, RFC 9457) with buildwire's `code`.
 */
export interface Problem {
  /**
   * Machine-readable code (`RATE_LIMITED`, `CIRCUIT_OPEN`, ...).
   */
  code: string;
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
