/**
 * The manager's buffer-memory limit with s3's declared footprint (addBufferBytes:
 * `s3_store_thread_pools` part buffers and the chunk being copied), on radosgw:
 * multipart adds whose reservations do not fit together run one after another,
 * and every one completes.
 */
import { MultiStore } from '@store/core';
import { addsUnderMemoryLimit, patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import s3Driver, { S3Driver } from '../src/index.js';
import { dropBucketAlone, env, s3Options, scratchBucket } from './radosgw.js';

const MiB = 1024 * 1024;

describe.skipIf(!env)('s3 adds under MultiStore limits.bufferMemory', { timeout: 60_000 }, () => {
  const bucket = scratchBucket('store-limits');
  let store: MultiStore;
  let driver: S3Driver | undefined;

  beforeAll(async () => {
    store = await MultiStore.create(
      {
        enabledBackends: { objects: 's3' },
        defaultBackend: 'objects',
        backends: {
          objects: s3Options(bucket, {
            s3_store_thread_pools: '2',
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
              driver = await S3Driver.create(context);
              return driver;
            },
          },
        ],
        // One unknown-size add reserves 20 MiB here (below): two do not fit.
        limits: { bufferMemory: 30 * MiB },
      },
    );
  });
  afterAll(async () => {
    await store?.close();
    await dropBucketAlone(bucket);
  });

  it('declares its part buffers; multipart adds that do not fit together wait their turn', async () => {
    // Two 5 MiB part buffers and the manager's chunk being copied into one.
    expect(driver?.addBufferBytes(0)).toBe(2 * 5 * MiB + MiB);
    // A single PUT streams: the chunk being sent and the one behind it.
    expect(driver?.addBufferBytes(64 * 1024)).toBe(2 * MiB);

    const queued = await addsUnderMemoryLimit(
      store,
      ['one', 'two', 'three'],
      patternBytes(7 * MiB + 5, 3),
    );
    // manager's block + hash batches + the driver's 11 MiB.
    expect(queued.memoryAtStart).toMatchObject({ inUse: 20 * MiB, queued: 2, limit: 30 * MiB });
    expect(queued.mostAtOnce).toBe(1);
    expect(queued.inUseAfter).toBe(0);
  });
});
