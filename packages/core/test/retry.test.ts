/**
 * The retry policy on its own: which errors are repeated, how many times, the
 * back-off bounds, and aborts during a back-off. The manager's use of it is
 * tested against real backends (the s3 and file packages).
 */
import { describe, expect, it } from 'vitest';
import {
  AuthorizationFailure,
  BackendException,
  Forbidden,
  Invalid,
  NotFound,
  OperationAborted,
  RemoteServiceUnavailable,
  validateOptions,
} from '../src/index.js';
import {
  backoffMs,
  isTransient,
  type RetryPolicy,
  retryPolicyOf,
  withRetry,
} from '../src/retry.js';

const errno = (code: string) => Object.assign(new Error(code), { code });
const quick: RetryPolicy = { attempts: 3, delayMs: 1, maxDelayMs: 1 };

describe('isTransient', () => {
  it('repeats what says the backend may answer next time', () => {
    expect(isTransient(new RemoteServiceUnavailable('down'))).toBe(true);
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET'])
      expect(isTransient(errno(code)), code).toBe(true);
    expect(isTransient(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe(true);
    expect(isTransient(new BackendException('wrapped', { cause: errno('ECONNRESET') }))).toBe(true);
  });

  it('never repeats an answer', () => {
    for (const err of [
      new NotFound('gone'),
      new Forbidden('no'),
      new AuthorizationFailure('who'),
      new Invalid('bad'),
      new OperationAborted('stop', { cause: errno('ECONNRESET') }),
      new BackendException('no cause'),
      errno('ENOENT'),
      new Error('plain'),
      'a string',
      undefined,
    ])
      expect(isTransient(err), String(err)).toBe(false);
  });
});

describe('backoffMs', () => {
  const policy: RetryPolicy = { attempts: 5, delayMs: 200, maxDelayMs: 1000 };
  it('is a random time up to a doubling bound, capped', () => {
    expect(backoffMs(policy, 1, () => 0)).toBe(0);
    expect(backoffMs(policy, 1, () => 0.999999)).toBe(199);
    expect(backoffMs(policy, 2, () => 0.5)).toBe(200);
    expect(backoffMs(policy, 3, () => 0.999999)).toBe(799);
    expect(backoffMs(policy, 4, () => 0.999999)).toBe(999);
    expect(backoffMs(policy, 9, () => 0.999999)).toBe(999);
  });
});

describe('retryPolicyOf', () => {
  it('reads the common options every backend accepts, with their defaults', () => {
    const { values } = validateOptions('b', [], {});
    expect(retryPolicyOf(values)).toEqual({ attempts: 2, delayMs: 200, maxDelayMs: 5000 });
    const given = validateOptions('b', [], {
      store_retry_attempts: '4',
      store_retry_delay: '0.5',
      store_retry_max_delay: '2',
    }).values;
    expect(retryPolicyOf(given)).toEqual({ attempts: 4, delayMs: 500, maxDelayMs: 2000 });
  });

  it('refuses a bound out of range, naming the option', () => {
    expect(() => validateOptions('b', [], { store_retry_attempts: '0' })).toThrow(
      /store_retry_attempts' must be >= 1/,
    );
  });
});

describe('withRetry', () => {
  it('repeats a transient failure until it succeeds, logging each retry', async () => {
    const warnings: unknown[] = [];
    const retries: number[] = [];
    let calls = 0;
    const result = await withRetry(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw new RemoteServiceUnavailable('busy');
        return 'ok';
      },
      {
        policy: quick,
        operation: 'getSize',
        backend: 'fast',
        logger: {
          debug() {},
          info() {},
          error() {},
          warn: (message, fields) => warnings.push({ message, fields }),
        },
        onRetry: (retry) => retries.push(retry),
      },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(retries).toEqual([1, 2]);
    expect(warnings).toHaveLength(2);
    expect(String((warnings[0] as { message: string }).message)).toMatch(
      /getSize on backend 'fast' failed with a transient error; attempt 2 of 3/,
    );
  });

  it('gives up after the last attempt with the last error', async () => {
    let calls = 0;
    const last = new RemoteServiceUnavailable('still down');
    await expect(
      withRetry(
        async () => {
          calls++;
          throw calls === 3 ? last : new RemoteServiceUnavailable('down');
        },
        { policy: quick, operation: 'delete', backend: 'b' },
      ),
    ).rejects.toBe(last);
    expect(calls).toBe(3);
  });

  it('does not repeat an answer such as NotFound', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new NotFound('gone');
        },
        { policy: quick, operation: 'getSize', backend: 'b' },
      ),
    ).rejects.toBeInstanceOf(NotFound);
    expect(calls).toBe(1);
  });

  it('with one attempt, does not repeat at all', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new RemoteServiceUnavailable('down');
        },
        { policy: { ...quick, attempts: 1 }, operation: 'getSize', backend: 'b' },
      ),
    ).rejects.toBeInstanceOf(RemoteServiceUnavailable);
    expect(calls).toBe(1);
  });

  it('ends a back-off at once when the signal fires, with OperationAborted', async () => {
    const controller = new AbortController();
    let calls = 0;
    const pending = withRetry(
      async () => {
        calls++;
        throw new RemoteServiceUnavailable('down');
      },
      {
        // A back-off far longer than any test: only the abort can end it.
        policy: { attempts: 3, delayMs: 3_600_000, maxDelayMs: 3_600_000 },
        random: () => 0.5,
        operation: 'get',
        backend: 'b',
        signal: controller.signal,
        onRetry: () => queueMicrotask(() => controller.abort(new Error('caller left'))),
      },
    );
    await expect(pending).rejects.toBeInstanceOf(OperationAborted);
    expect(calls).toBe(1);
  });

  it('does not start a retry once the signal has fired', async () => {
    const controller = new AbortController();
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          controller.abort();
          throw new RemoteServiceUnavailable('down');
        },
        { policy: quick, operation: 'get', backend: 'b', signal: controller.signal },
      ),
    ).rejects.toBeInstanceOf(RemoteServiceUnavailable);
    expect(calls).toBe(1);
  });
});
