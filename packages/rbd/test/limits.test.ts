/**
 * The manager's buffer-memory limit with rbd's declared footprint (addBufferBytes:
 * the object being filled and the aio writes in flight), on the test cluster: adds
 * whose reservations do not fit together run one after another, all intact.
 */
import { randomUUID } from 'node:crypto';
import { MultiStore } from '@store/core';
import { addsUnderMemoryLimit, patternBytes } from '@store/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import rbdDriver, { type RbdDriver } from '../src/index.js';
import { env, purgeImages, rbdConfig } from './ceph.js';

const PREFIX = `rbdlimits-${process.pid}-`;
const MiB = 1024 * 1024;

describe.skipIf(!env)('rbd adds under MultiStore limits.bufferMemory', { timeout: 60_000 }, () => {
  let store: MultiStore | undefined;
  afterAll(async () => {
    await store?.close();
    await purgeImages(PREFIX);
  });

  it('declares object size × 5; adds that do not fit together wait their turn', async () => {
    // One unknown-size add reserves 1 MiB + 8 MiB of hash batches + 5 × 1 MiB objects = 14 MiB.
    store = await MultiStore.create(rbdConfig({ rbd_store_chunk_size: '1' }), {
      drivers: [rbdDriver],
      limits: { bufferMemory: 20 * MiB },
    });
    expect((store.driverOf() as RbdDriver).addBufferBytes()).toBe(5 * MiB);
    const queued = await addsUnderMemoryLimit(
      store,
      [1, 2, 3].map(() => `${PREFIX}${randomUUID()}`),
      patternBytes(3 * MiB + 11, 4),
    );
    expect(queued.memoryAtStart).toMatchObject({ inUse: 14 * MiB, queued: 2, limit: 20 * MiB });
    expect(queued.mostAtOnce).toBe(1);
    expect(queued.inUseAfter).toBe(0);
  });
});
