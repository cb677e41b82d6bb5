// Generated from schemas/json/build-progress.schema.json by clients/web/scripts/types.mjs: do not edit.

/**
 * `GET /v1/builds/{id}`: a build's progress.
 */
export interface BuildProgress {
  /**
   * The build.
   */
  buildId: string;
  /**
   * Signed URL of the full build log.
   */
  buildLogUrl: string | null;
  /**
   * Step ids finished.
   */
  completedSteps: string[];
  /**
   * Why it failed.
   */
  errorMessage: string | null;
  /**
   * Sequence of the newest event applied.
   */
  lastSeq: number;
  /**
   * Preview, once deployed.
   */
  previewUrl: string | null;
  /**
   * Where it stands.
   */
  status: "queued" | "planning" | "executing" | "building" | "deploying" | "completed" | "failed" | "cancelled";
  /**
   * Step ids known so far, in order.
   */
  steps: string[];
  /**
   * When the progress last changed.
   */
  updatedAt: string;
}
