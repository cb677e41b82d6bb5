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
   * Signed URL of the deploy target's log (Cloudflare Pages' stage logs), once the
   * deploy kept one; `null` otherwise (the `local` target keeps none).
   */
  deployLogUrl: string | null;
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
   * The build's trace id (32 hex digits, W3C trace context): the main app's trace when
   * it sent a `traceparent` with the submission, else the one the edge started. Look the
   * build up in the trace backend (Jaeger) with it. Set by `GET /v1/builds/{id}` and
   * the cancel answer; `null` when not known (the build's first event no longer held by
   * JetStream) and in a stream's `snapshot`.
   */
  traceId: string | null;
  /**
   * When the progress last changed.
   */
  updatedAt: string;
  /**
   * LLM tokens the build used so far: the sum of its `usage` events (null until one;
   * the offline provider reports none).
   */
  usage: TokenUsage | null;
}
/**
 * Tokens used by LLM calls, as the provider reported them. `inputTokens` excludes cached
 * input, so the whole input is `inputTokens + cacheCreationInputTokens +
 * cacheReadInputTokens`.
 */
export interface TokenUsage {
  /**
   * Input tokens written to the prompt cache.
   */
  cacheCreationInputTokens: number;
  /**
   * Input tokens read from the prompt cache.
   */
  cacheReadInputTokens: number;
  /**
   * Model calls (turns) counted.
   */
  calls: number;
  /**
   * Uncached input tokens.
   */
  inputTokens: number;
  /**
   * The model that answered, as the provider named it.
   */
  model: string;
  /**
   * Output tokens.
   */
  outputTokens: number;
  /**
   * `anthropic`, `openai`.
   */
  provider: string;
}
