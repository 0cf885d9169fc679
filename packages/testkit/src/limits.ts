/**
 * A driver's declared add footprint (`Driver.addBufferBytes`) under the
 * manager's `limits.bufferMemory`, against its real backend: adds whose
 * reservations do not fit together must run one after another, all intact.
 */
import type { AddResult, LimitStats, MultiStore } from '@store/core';
import { collect, digest } from './data.js';

const MiB = 1024 * 1024;

/** How {@link addsUnderMemoryLimit} went, for the test to assert. */
export interface QueuedAdds {
  /** The store's memory one event-loop turn after the adds were started. */
  readonly memoryAtStart: LimitStats['memory'];
  /** The most sources being read at once (1: the adds ran one after another). */
  readonly mostAtOnce: number;
  /** The store's memory in use once every add settled. */
  readonly inUseAfter: number;
  /** The adds' results, in the order of `imageIds`. */
  readonly results: readonly AddResult[];
}

/**
 * Starts an add of `data` (size unknown, in 1 MiB chunks, one loop turn apart)
 * for each of `imageIds` at once, waits for them, checks each reads back
 * identical (throwing if one does not), and deletes them.
 */
export async function addsUnderMemoryLimit(
  store: MultiStore,
  imageIds: readonly string[],
  data: Uint8Array,
): Promise<QueuedAdds> {
  let consuming = 0;
  let mostAtOnce = 0;
  async function* source() {
    consuming++;
    mostAtOnce = Math.max(mostAtOnce, consuming);
    try {
      for (let at = 0; at < data.byteLength; at += MiB) {
        yield data.subarray(at, Math.min(data.byteLength, at + MiB));
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      consuming--;
    }
  }
  const adds = imageIds.map((imageId) => store.add(imageId, source(), 0));
  await new Promise((resolve) => setImmediate(resolve));
  const memoryAtStart = store.stats().memory;
  const results = await Promise.all(adds);
  const inUseAfter = store.stats().memory.inUse;
  const wanted = digest('sha256', data);
  for (const added of results) {
    const read = await collect((await store.get(added.location)).stream);
    if (added.size !== data.byteLength || digest('sha256', read) !== wanted)
      throw new Error(`${added.location} does not read back as the ${data.byteLength} bytes added`);
    await store.delete(added.location);
  }
  return { memoryAtStart, mostAtOnce, inUseAfter, results };
}
