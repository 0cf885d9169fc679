/**
 * The manager's retry of idempotent operations (getSize, delete, and a get until
 * the driver hands over its stream): bounded attempts, exponential back-off with
 * full jitter, only for errors that say the backend may answer next time, and
 * never past the caller's AbortSignal. An add is never repeated: its data is a
 * stream that has been consumed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { abortError, StoreError } from './errors.js';
import type { Logger } from './logger.js';
import type { OptionSpec, OptionValues } from './options.js';

/** How one backend's idempotent operations are repeated. */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 turns retrying off. */
  readonly attempts: number;
  /** Upper bound of the first back-off, in milliseconds; doubles each retry. */
  readonly delayMs: number;
  /** No back-off is longer than this, in milliseconds. */
  readonly maxDelayMs: number;
}

/**
 * The per-backend options of the retry policy, accepted by every backend whatever
 * its driver (not in glance_store, which repeats nothing at this level).
 */
export const RETRY_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'store_retry_attempts',
    type: 'int',
    default: 2,
    min: 1,
    max: 10,
    help: 'Attempts of an idempotent operation (getSize, delete, and a get until its data starts), the first included, when it fails with a transient error (RemoteServiceUnavailable, a timeout, a refused or reset connection); 1 turns retrying off. An add is never repeated. Drivers that repeat requests themselves (s3, azure, http) do so inside each attempt. Not in glance_store.',
  },
  {
    name: 'store_retry_delay',
    type: 'float',
    default: 0.2,
    min: 0,
    help: 'Seconds: the first back-off between attempts is a random time up to this, and the bound doubles with each retry (full jitter). Not in glance_store.',
  },
  {
    name: 'store_retry_max_delay',
    type: 'float',
    default: 5,
    min: 0,
    help: 'Seconds: no back-off between attempts is longer than this. Not in glance_store.',
  },
];

/** A policy that never repeats. */
export const NO_RETRY: RetryPolicy = Object.freeze({ attempts: 1, delayMs: 0, maxDelayMs: 0 });

/** The policy a backend's validated options ask for (defaults where they are absent). */
export function retryPolicyOf(values: OptionValues): RetryPolicy {
  const number = (name: string): number => {
    const value = values[name];
    if (typeof value === 'number') return value;
    return RETRY_OPTIONS.find((spec) => spec.name === name)!.default as number;
  };
  return {
    attempts: number('store_retry_attempts'),
    delayMs: number('store_retry_delay') * 1000,
    maxDelayMs: number('store_retry_max_delay') * 1000,
  };
}

/** Socket and resolver errors after which the same request may well succeed. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function transientRaw(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const { code, name } = err as { code?: unknown; name?: unknown };
  return (typeof code === 'string' && TRANSIENT_CODES.has(code)) || name === 'TimeoutError';
}

/**
 * Whether `err` says the backend may answer next time: RemoteServiceUnavailable
 * (what drivers raise for timeouts, 5xx answers and unreachable services), or a
 * reset, refused or timed-out connection, itself or as the cause of a generic
 * BackendException. Any other typed error (NotFound, Forbidden, authorization,
 * Invalid, an abort, ...) is an answer, and repeating the call would not change it.
 */
export function isTransient(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (current instanceof StoreError) {
      if (current.code === 'RemoteServiceUnavailable') return true;
      if (current.code !== 'BackendException' && current.code !== 'GlanceStoreException')
        return false;
    } else if (transientRaw(current)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The back-off before retry number `retry` (1 for the first): a uniformly random
 * time up to `delayMs × 2^(retry-1)`, capped at `maxDelayMs` ("full jitter"), so
 * clients that failed together do not come back together.
 */
export function backoffMs(
  policy: RetryPolicy,
  retry: number,
  random: () => number = Math.random,
): number {
  const bound = Math.min(policy.maxDelayMs, policy.delayMs * 2 ** (retry - 1));
  return Math.floor(random() * bound);
}

/** What {@link withRetry} needs besides the work. */
export interface RetryOptions {
  readonly policy: RetryPolicy;
  /** Stops the retries: aborting during a back-off ends it at once with OperationAborted. */
  readonly signal?: AbortSignal | undefined;
  /** The operation, for the log line and the abort error (`getSize`, `delete`, `get`). */
  readonly operation: string;
  /** The backend id, for the log line. */
  readonly backend: string;
  /** Gets a warning before each retry. */
  readonly logger?: Logger | undefined;
  /** Called before each retry's back-off (tracing counts them). */
  readonly onRetry?: ((retry: number, error: unknown, delayMs: number) => void) | undefined;
  /** A source of numbers in [0, 1) for the jitter; Math.random by default. */
  readonly random?: (() => number) | undefined;
}

/**
 * Runs `work` until it succeeds, fails with an error that is not
 * {@link isTransient}, or has used `policy.attempts`; the last error is thrown as
 * it came. `work` gets the attempt number (1 for the first) and must be safe to
 * repeat.
 * @throws OperationAborted when `signal` fires during a back-off.
 */
export async function withRetry<T>(
  work: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { policy, signal } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || signal?.aborted || !isTransient(err)) throw err;
      const delayMs = backoffMs(policy, attempt, options.random);
      options.onRetry?.(attempt, err, delayMs);
      options.logger?.warn(
        `${options.operation} on backend '${options.backend}' failed with a transient error; attempt ${attempt + 1} of ${policy.attempts} in ${delayMs} ms`,
        {
          backend: options.backend,
          operation: options.operation,
          attempt: attempt + 1,
          attempts: policy.attempts,
          delayMs,
          error: err,
        },
      );
      try {
        await sleep(delayMs, undefined, signal ? { signal } : undefined);
      } catch {
        throw abortError(signal, options.operation);
      }
    }
  }
}
