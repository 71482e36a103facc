import { ChartMirrorError } from '../errors.js';
import { sleep } from './host-gate.js';
import { DEFAULTS } from '../defaults.js';

export interface RetryPolicy {
  /** Total attempts, the first included. Default 5. */
  attempts: number;
  /** First backoff step in ms; doubles each attempt, with full jitter. Default 250. */
  baseDelayMs: number;
  /** Cap on one backoff step. Default 30 s. */
  maxDelayMs: number;
  /** Longest Retry-After we are willing to honour before giving up. Default 10 min. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = DEFAULTS.retry;

export function isRetryable(e: unknown): boolean {
  return e instanceof ChartMirrorError && e.retryable;
}

/** Exponential backoff with full jitter (AWS architecture blog), never below a Retry-After. */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = ceiling / 2 + Math.random() * (ceiling / 2);
  return Math.max(jittered, retryAfterMs ?? 0);
}

export interface RetryContext {
  signal?: AbortSignal;
  /** Called before each wait; for progress and debug logs. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/**
 * Run a whole operation again when it fails with a retryable error. Operations, not single
 * requests, are retried: an upload restarts from POST, a download is fetched from the start.
 */
export async function withRetry<T>(
  op: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  ctx: RetryContext = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op(attempt);
    } catch (e) {
      if (!isRetryable(e) || attempt >= policy.attempts || ctx.signal?.aborted) throw e;
      const retryAfter = (e as ChartMirrorError).retryAfterMs;
      if (retryAfter !== undefined && retryAfter > policy.maxRetryAfterMs) throw e;
      const delayMs = backoffDelay(policy, attempt, retryAfter);
      ctx.onRetry?.({ attempt, delayMs, error: e });
      await sleep(delayMs, ctx.signal);
    }
  }
}

/**
 * How long a throttled answer says to wait: Retry-After, else the rate-limit headers some
 * registries send instead (`RateLimit-Reset: <seconds>`, IETF draft-ietf-httpapi-ratelimit-headers).
 */
export function throttleDelay(header: (name: string) => string | undefined, now = Date.now()): number | undefined {
  const after = parseRetryAfter(header('retry-after'), now);
  if (after !== undefined) return after;
  const reset = header('ratelimit-reset')?.trim();
  return reset && /^\d+$/.test(reset) ? Number(reset) * 1000 : undefined;
}

/** Retry-After: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
