/**
 * Reconnection delays: exponential from `initialMs` (1 s), doubling per attempt up to
 * `maxMs` (32 s), with jitter so that thousands of clients dropped by one gateway do not
 * come back in the same millisecond.
 *
 * The jitter only shortens a delay (a delay lies in `[base × (1 − jitter), base]`), so the
 * cap is a real upper bound and the nominal schedule 1, 2, 4, 8, 16, 32, 32, … s is the
 * longest a client ever waits.
 */

export interface BackoffOptions {
  /** Delay before the first retry. Default 1000 ms. */
  initialMs?: number;
  /** Largest delay. Default 32 000 ms. */
  maxMs?: number;
  /** Fraction of the delay that may be taken off at random, 0–1. Default 0.3. */
  jitter?: number;
  /** Attempts before giving up. Default 10. */
  maxAttempts?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  initialMs: 1000,
  maxMs: 32_000,
  jitter: 0.3,
  maxAttempts: 10,
};

/** The delay before the attempt-th retry (attempt starts at 1), without jitter. */
export function nominalDelay(attempt: number, options: BackoffOptions = {}): number {
  const { initialMs, maxMs } = { ...DEFAULT_BACKOFF, ...options };
  const exponent = Math.max(0, attempt - 1);
  // 2 ** exponent overflows to Infinity long after the cap, so Math.min stays correct.
  return Math.min(maxMs, initialMs * 2 ** exponent);
}

/** The delay before the attempt-th retry, jittered with `random()` ∈ [0, 1). */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const jitter = Math.min(1, Math.max(0, options.jitter ?? DEFAULT_BACKOFF.jitter));
  const base = nominalDelay(attempt, options);
  return Math.round(base * (1 - jitter * random()));
}
