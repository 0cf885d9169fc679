/** The socket budget: tokens in order, abortable waits, and read-ahead that never waits. */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { silentLogger } from '@store/core';
import { describe, expect, it } from 'vitest';
import { ClientPool } from '../src/client.js';
import type { S3Options } from '../src/index.js';
import { resolveSettings } from '../src/settings.js';
import { IF_FREE, SocketBudget, SocketBusy } from '../src/sockets.js';
import { env } from './radosgw.js';

describe('SocketBudget', () => {
  it('grants tokens first come, first served, and refuses a try while others wait', async () => {
    const budget = new SocketBudget(1);
    const held = budget.tryAcquire();
    expect(held).toBeDefined();
    const order: string[] = [];
    const a = budget.acquire().then((release) => {
      order.push('a');
      return release;
    });
    const b = budget.acquire().then((release) => {
      order.push('b');
      return release;
    });
    expect(budget.waiting).toBe(2);
    held?.();
    held?.(); // a second call gives nothing back twice
    const releaseA = await a;
    expect(budget.tryAcquire()).toBeUndefined(); // b waits before any newcomer
    releaseA();
    (await b)();
    expect(order).toEqual(['a', 'b']);
    expect({ free: budget.free, waiting: budget.waiting }).toEqual({ free: 1, waiting: 0 });
  });

  it('stops waiting when the signal aborts, and gives the token to the next in line', async () => {
    const budget = new SocketBudget(1);
    const held = budget.tryAcquire();
    const controller = new AbortController();
    const aborted = budget.acquire(controller.signal);
    const next = budget.acquire();
    controller.abort(new Error('gave up'));
    await expect(aborted).rejects.toThrow('gave up');
    held?.();
    (await next)();
    expect(budget.free).toBe(1);
  });
});

describe.skipIf(!env)('budgeted S3 client', () => {
  it('fails a request asked only if a socket is free, at once and without retries', async () => {
    const settings = resolveSettings('objects', {
      s3_store_host: env?.STORE_TEST_S3_ENDPOINT,
      s3_store_access_key: env?.STORE_TEST_S3_ACCESS_KEY,
      s3_store_secret_key: env?.STORE_TEST_S3_SECRET_KEY,
      s3_store_bucket: 'store-sockets-unused',
      s3_store_create_bucket_on_put: false,
      s3_store_bucket_url_format: 'auto',
      s3_store_large_object_size: 100,
      s3_store_large_object_chunk_size: 10,
      s3_store_thread_pools: 10,
    } as unknown as S3Options);
    const pool = new ClientPool(settings, silentLogger, (text) => text, 1);
    try {
      const held = pool.budget.tryAcquire();
      const options = { abortSignal: new AbortController().signal, [IF_FREE]: true };
      const command = new GetObjectCommand({ Bucket: 'store-sockets-unused', Key: 'k' });
      const err = await pool
        .client()
        .send(command, options)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SocketBusy);
      expect((err as { $metadata?: { attempts?: number } }).$metadata?.attempts).toBe(1);
      held?.();
      // Without IF_FREE the same request waits for the token, then gets the server's answer.
      const missing = await pool
        .client()
        .send(command, { abortSignal: options.abortSignal })
        .catch((e: unknown) => e);
      expect((missing as { name?: string }).name).toMatch(/NoSuchBucket|NoSuchKey/);
      expect(pool.budget.free).toBe(1);
    } finally {
      pool.close();
    }
  });
});
