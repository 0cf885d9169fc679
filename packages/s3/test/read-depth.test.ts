/**
 * Reads with `s3_store_thread_pools = 1` (one ranged GET open at a time). The soak
 * found that such reads stopped after the first window: an image larger than
 * `s3_store_large_object_chunk_size` came back truncated, with no error.
 */
import { MultiStore } from '@store/core';
import { collect, digest, patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import s3Driver from '../src/index.js';
import { dropBucketAlone, env, s3Options, scratchBucket } from './radosgw.js';

const MiB = 1024 * 1024;

describe.skipIf(!env)('s3 reads one window at a time', { timeout: 60_000 }, () => {
  const bucket = scratchBucket('store-depth1');
  let store: MultiStore;
  beforeAll(async () => {
    store = await MultiStore.create(
      {
        enabledBackends: { objects: 's3' },
        defaultBackend: 'objects',
        backends: {
          objects: s3Options(bucket, {
            s3_store_thread_pools: '1',
            s3_store_large_object_size: '5',
            s3_store_large_object_chunk_size: '5',
          }),
        },
      },
      { drivers: [s3Driver] },
    );
  });
  afterAll(async () => {
    await store?.close();
    await dropBucketAlone(bucket);
  });

  it('reads every window of a multi-window image, whole and from an offset', async () => {
    const data = patternBytes(12 * MiB + 7, 5);
    const { location } = await store.add('three-windows', data, data.byteLength);
    const whole = await collect((await store.get(location)).stream);
    expect(whole.byteLength).toBe(data.byteLength);
    expect(digest('sha256', whole)).toBe(digest('sha256', data));
    const tail = await collect((await store.get(location, { offset: 3 * MiB })).stream);
    expect(digest('sha256', tail)).toBe(digest('sha256', data.subarray(3 * MiB)));
    const middle = await store.get(location, { offset: MiB, chunkSize: 9 * MiB });
    expect(middle.size).toBe(9 * MiB);
    expect(digest('sha256', await collect(middle.stream))).toBe(
      digest('sha256', data.subarray(MiB, 10 * MiB)),
    );
    await store.delete(location);
  });
});
