// Generated from schemas/json/submit-build.schema.json by clients/web/scripts/types.mjs: do not edit.

/**
 * `POST /v1/builds` (and `POST /build-preview`).
 */
export interface SubmitBuild {
  /**
   * The build a follow-up starts from (a build id).
   */
  parentBuildId?: string | null;
  /**
   * The project a follow-up belongs to (same characters as `userId`).
   */
  projectId?: string | null;
  /**
   * What to build or change: 1-8000 characters, not only white space, no control
   * characters but tab and line breaks.
   */
  prompt: string;
  /**
   * The caller's request id, for tracing (same characters as `userId`); the build id
   * when absent.
   */
  requestId?: string | null;
  /**
   * Restore: rebuild and redeploy the file tree this earlier build of the same user
   * left (a build id), without the LLM; `prompt` is then only the build's label. The
   * restored tree becomes the project's newest, so the next follow-up starts from it.
   * Not with `parentBuildId`.
   */
  restoreFromBuildId?: string | null;
  /**
   * The main app's user (1-128 of `A-Z a-z 0-9 _ . - @ : +`); rate limits and the
   * circuit breaker count per user.
   */
  userId: string;
  /**
   * Where this build's webhooks go instead of `MAIN_APP_URL` (an `http(s)` URL of at
   * most 2048 characters; loopback and private addresses are refused unless
   * `BUILDWIRE_WEBHOOK_ALLOW_PRIVATE` is set). Signed with `MAIN_APP_WEBHOOK_SECRET`.
   */
  webhookUrl?: string | null;
}
