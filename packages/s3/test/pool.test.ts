/**
 * The connection pool under concurrent load. The soak (64 workers, default
 * `s3_store_thread_pools`) found stalls of 10–65 s in which radosgw got no request
 * while the client held every socket of its pool, followed by hundreds of
 * RemoteServiceUnavailable: requests queued in the HTTP agent longer than the SDK's
 * 5 s connection timeout. Causes: a get stream destroyed before its first read kept
 * its first response (and socket) open, and read-ahead windows held sockets while
 * their read waited for another. Here the pool has 4 sockets, so the same load
 * stalls within seconds without the fix.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { MultiStore } from '@store/core';
import { digest, patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import s3Driver, { S3Driver } from '../src/index.js';
import {
  adminClient,
  dropBucketAlone,
  env,
  listEverything,
  s3Options,
  scratchBucket,
} from './radosgw.js';

const MiB = 1024 * 1024;
const POOL = 4;

/** Reads `limit` bytes (all when undefined) slowly, then destroys the stream. */
async function readSome(stream: Readable, limit?: number): Promise<string> {
  const hash = createHash('sha256');
  let read = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Uint8Array);
    read += (chunk as Uint8Array).byteLength;
    if (limit !== undefined && read >= limit) break; // for-await destroys the stream
    await new Promise((resolve) => setImmediate(resolve));
  }
  return hash.digest('hex');
}

describe.skipIf(!env)('s3 connection pool under concurrent load', { timeout: 30_000 }, () => {
  const bucket = scratchBucket('store-pool');
  let store: MultiStore;
  let driver: S3Driver | undefined;
  const data = patternBytes(11 * MiB + 3, 7); // three 5 MiB windows
  const small = patternBytes(64 * 1024, 8);
  let big = '';
  let little = '';

  beforeAll(async () => {
    store = await MultiStore.create(
      {
        enabledBackends: { objects: 's3' },
        defaultBackend: 'objects',
        backends: {
          objects: s3Options(bucket, {
            s3_store_thread_pools: String(POOL),
            s3_store_large_object_size: '5',
            s3_store_large_object_chunk_size: '5',
          }),
        },
      },
      {
        drivers: [
          {
            ...s3Driver,
            create: async (context) => {
              driver = await S3Driver.create(context, POOL);
              return driver;
            },
          },
        ],
      },
    );
    big = (await store.add('big', data, data.byteLength)).location;
    little = (await store.add('little', small, small.byteLength)).location;
  });
  afterAll(async () => {
    await store?.close();
    await dropBucketAlone(bucket);
  });

  /** Whether every socket is back in the pool within `turns` turns of the event loop. */
  async function socketsFreeWithin(turns: number): Promise<boolean> {
    for (let i = 0; i < turns; i++) {
      if (driver?.sockets.free === POOL) return true;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return false;
  }

  it('frees the sockets of get streams destroyed before their first read', async () => {
    for (let i = 0; i < 3 * POOL; i++) {
      const { stream } = await store.get(i % 2 ? big : little);
      (stream as Readable).destroy();
      // Without the fix the socket stays held until a timeout: the pool runs dry.
      expect(await socketsFreeWithin(1000)).toBe(true);
    }
    const whole = await readSome((await store.get(big)).stream as Readable);
    expect(whole).toBe(digest('sha256', data));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(driver?.sockets).toEqual({ capacity: POOL, free: POOL, waiting: 0 });
  });

  it('serves many concurrent gets (with read-ahead), early cancels and adds without a stall', async () => {
    const wanted = digest('sha256', data);
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 4 * POOL; i++) {
      jobs.push(
        (async () => {
          const { stream } = await store.get(big);
          if (i % 4 === 0) return readSome(stream as Readable, MiB); // gives up early
          expect(await readSome(stream as Readable)).toBe(wanted);
        })(),
      );
    }
    for (let i = 0; i < 3; i++) {
      jobs.push(
        (async () => {
          const added = await store.add(`added-${i}`, data, data.byteLength);
          await store.delete(added.location);
        })(),
      );
    }
    const outcomes = await Promise.allSettled(jobs);
    // A stall ends in RemoteServiceUnavailable: requests queued past the SDK's connection timeout.
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(driver?.sockets).toEqual({ capacity: POOL, free: POOL, waiting: 0 });
    const admin = adminClient();
    expect((await listEverything(admin, bucket)).sort()).toEqual(['big', 'little']);
    admin.destroy();
  });
});
