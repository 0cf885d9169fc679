/** RBD-specific behaviour against the real test cluster. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { MultiStore, StoreError } from '@store/core';
import { chunked, collect, digest, patternBytes } from '@store/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import rbdDriver, { nativeHandleCounts, parseRbdLocation } from '../src/index.js';
import { env, listImages, purgeImages, rawPool, rbd, rbdConfig } from './ceph.js';

const PREFIX = `rbdtest-${process.pid}-`;
const name = () => `${PREFIX}${randomUUID()}`;
const MiB = 1024 * 1024;
const stores: MultiStore[] = [];

async function open(extra: Record<string, string> = {}): Promise<MultiStore> {
  const store = await MultiStore.create(rbdConfig(extra), { drivers: [rbdDriver] });
  stores.push(store);
  return store;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    return (err as StoreError).code;
  }
  return 'no error';
}

describe.skipIf(!env)('rbd driver against the test Ceph cluster', { timeout: 120_000 }, () => {
  beforeAll(() => purgeImages(PREFIX));
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await purgeImages(PREFIX);
    expect(await listImages(PREFIX)).toEqual([]);
  });

  it('stores an image with layering and a protected snapshot, at a location naming the cluster', async () => {
    const store = await open();
    const imageId = name();
    const data = patternBytes(100_000, 1);
    const { location } = await store.add(imageId, data, data.byteLength);
    expect(location).toBe(
      `rbd://${env!.STORE_TEST_CEPH_FSID}/${env!.STORE_TEST_RBD_POOL}/${imageId}/snap`,
    );
    const info = JSON.parse(
      await rbd('info', '--format', 'json', `${env!.STORE_TEST_RBD_POOL}/${imageId}`),
    );
    expect(info.features).toContain('layering');
    expect(info.size).toBe(data.byteLength);
    expect(info.order).toBe(23);
    const snaps = JSON.parse(
      await rbd('snap', 'ls', '--format', 'json', `${env!.STORE_TEST_RBD_POOL}/${imageId}`),
    );
    expect(snaps.map((s: { name: string; protected: string }) => [s.name, s.protected])).toEqual([
      ['snap', 'true'],
    ]);
    await store.delete(location);
    expect(await listImages(imageId)).toEqual([]);
  });

  it('refuses to delete an image whose snapshot has a clone, and leaves it intact', async () => {
    const store = await open();
    const imageId = name();
    const data = patternBytes(50_000, 2);
    const { location } = await store.add(imageId, data, data.byteLength);
    const pool = env!.STORE_TEST_RBD_POOL;
    const clone = `${imageId}-clone`;
    await rbd('clone', `${pool}/${imageId}@snap`, `${pool}/${clone}`);
    try {
      expect(await codeOf(store.delete(location))).toBe('InUseByStore');
      const snaps = JSON.parse(await rbd('snap', 'ls', '--format', 'json', `${pool}/${imageId}`));
      expect(snaps[0]).toMatchObject({ name: 'snap', protected: 'true' });
      expect(digest('md5', await collect((await store.get(location)).stream))).toBe(
        digest('md5', data),
      );
    } finally {
      await rbd('rm', '--no-progress', `${pool}/${clone}`);
    }
    await store.delete(location);
    expect(await listImages(imageId)).toEqual([]);
  });

  it('refuses to delete an image another client has open, and leaves it intact', async () => {
    const store = await open();
    const imageId = name();
    const { location } = await store.add(imageId, patternBytes(1000, 3), 1000);
    const raw = await rawPool();
    try {
      const held = await raw.pool.openImage(imageId, { readOnly: false });
      try {
        expect(await codeOf(store.delete(location))).toBe('InUseByStore');
        expect(await store.getSize(location)).toBe(1000);
      } finally {
        await held.close();
      }
    } finally {
      await raw.close();
    }
    await store.delete(location);
    expect(await codeOf(store.getSize(location))).toBe('NotFound');
  });

  it('grows an image of unknown size as data arrives and trims it to the exact size', async () => {
    // 1 MiB objects: growth steps 1, 2, 4, 8, 16 MiB overshoot 20 MiB + 5 bytes.
    const store = await open({ rbd_store_chunk_size: '1' });
    const imageId = name();
    const data = patternBytes(20 * MiB + 5, 4);
    const result = await store.add(imageId, chunked(data, [300_001, 7, MiB]), 0);
    expect(result.size).toBe(data.byteLength);
    expect(result.checksum).toBe(digest('md5', data));
    const info = JSON.parse(
      await rbd('info', '--format', 'json', `${env!.STORE_TEST_RBD_POOL}/${imageId}`),
    );
    expect(info.size).toBe(data.byteLength);
    expect(info.order).toBe(20);
    expect(await store.getSize(result.location)).toBe(data.byteLength);
    // Reads across object boundaries.
    const got = await store.get(result.location, { offset: MiB - 3, chunkSize: 2 * MiB + 6 });
    expect(
      Buffer.compare(await collect(got.stream), Buffer.from(data.subarray(MiB - 3, 3 * MiB + 3))),
    ).toBe(0);
    await store.delete(result.location);
  });

  it('leaves all-zero chunks as holes with thin provisioning (rbd du)', async () => {
    const pool = env!.STORE_TEST_RBD_POOL;
    const data = new Uint8Array(16 * MiB);
    data.set(patternBytes(1000, 5), 3 * MiB + 17);
    data.set(patternBytes(10, 6), 16 * MiB - 10);
    // Image data lives in the snapshot once it is taken: add up head and snapshot.
    const usage = async (imageId: string) => {
      const du = JSON.parse(await rbd('du', '--format', 'json', `${pool}/${imageId}`));
      const entries = du.images as { provisioned_size: number; used_size: number }[];
      return {
        provisioned: Math.max(...entries.map((e) => e.provisioned_size)),
        used: entries.reduce((sum, e) => sum + e.used_size, 0),
      };
    };
    const thin = await open({ rbd_thin_provisioning: 'true', rbd_store_chunk_size: '1' });
    const thinId = name();
    const thinResult = await thin.add(thinId, chunked(data, [MiB]), data.byteLength);
    const thick = await open({ rbd_store_chunk_size: '1' });
    const thickId = name();
    await thick.add(thickId, chunked(data, [MiB]), data.byteLength);
    const thinUsage = await usage(thinId);
    const thickUsage = await usage(thickId);
    expect(thinUsage.provisioned).toBe(16 * MiB);
    expect(thinUsage.used).toBeLessThanOrEqual(2 * MiB);
    expect(thickUsage.used).toBe(16 * MiB);
    const read = await collect((await thin.get(thinResult.location)).stream);
    expect(digest('sha256', read)).toBe(digest('sha256', data));
    // Unknown size, trailing zeros: the trim still gives the exact size.
    const tail = name();
    const tailData = new Uint8Array(3 * MiB + 5);
    tailData[0] = 1;
    const tailResult = await thin.add(tail, chunked(tailData, [MiB]), 0);
    expect(await thin.getSize(tailResult.location)).toBe(tailData.byteLength);
    expect(digest('md5', await collect((await thin.get(tailResult.location)).stream))).toBe(
      digest('md5', tailData),
    );
  });

  // librbd's calls run off the event loop; tools/bench/rbd-loop.mjs shows how long
  // the loop waits meanwhile (speed is a benchmark's to show, not a test's).
  it('adds and reads back a 256 MiB image intact', async () => {
    const store = await open();
    const block = randomBytes(MiB);
    const blocks = 256;
    async function* source() {
      for (let i = 0; i < blocks; i++) yield block;
    }
    const expected = createHash('md5');
    for (let i = 0; i < blocks; i++) expected.update(block);
    const result = await store.add(name(), source(), blocks * MiB);
    const hash = createHash('md5');
    for await (const chunk of (await store.get(result.location)).stream) hash.update(chunk);
    expect(result.checksum).toBe(expected.digest('hex'));
    expect(hash.digest('hex')).toBe(result.checksum);
    await store.delete(result.location);
  });

  it('closes every native handle on close(), unread streams included', async () => {
    const before = nativeHandleCounts()!;
    const store = await MultiStore.create(rbdConfig(), { drivers: [rbdDriver] });
    const { location } = await store.add(name(), patternBytes(3 * MiB, 7), 3 * MiB);
    const unread = await store.get(location);
    const partial = await store.get(location, { offset: 10 });
    const iterator = partial.stream[Symbol.asyncIterator]();
    await iterator.next();
    expect(nativeHandleCounts()!.images).toBe(before.images + 2);
    // A stream the consumer abandons midway releases its image once its reads settle.
    const abandoned = await store.get(location);
    for await (const _chunk of abandoned.stream) break;
    await vi.waitFor(() => expect(nativeHandleCounts()!.images).toBe(before.images + 2), {
      timeout: 5000,
    });
    expect(nativeHandleCounts()!.aio).toBe(0);
    await store.close();
    expect(nativeHandleCounts()).toEqual(before);
    unread.stream.destroy();
    partial.stream.destroy();
    // Reopen to clean up.
    const again = await open();
    await again.delete(location);
  });

  it('reads legacy rbd://<image> locations and refuses another cluster as NotFound', async () => {
    const store = await open();
    const imageId = name();
    const data = patternBytes(5000, 8);
    const { location } = await store.add(imageId, data, data.byteLength);
    const legacy = `rbd://${imageId}`;
    expect(store.canonicalLocation(legacy)).toBe(legacy);
    expect(digest('md5', await collect((await store.get(legacy)).stream))).toBe(
      digest('md5', data),
    );
    expect(await store.getSize(legacy)).toBe(5000);
    const parsed = parseRbdLocation(location);
    const foreign = location.replace(parsed.fsid!, '00000000-0000-0000-0000-000000000000');
    expect(await codeOf(store.get(foreign))).toBe('NotFound');
    const otherPool = location.replace(`/${env!.STORE_TEST_RBD_POOL}/`, '/no-such-pool/');
    expect(await codeOf(store.getSize(otherPool))).toBe('NotFound');
    await store.delete(location);
  });

  it('refuses a missing pool as BadStoreConfiguration and leaves nothing behind', async () => {
    const store = await open({ rbd_store_pool: 'no-such-pool' });
    expect(await codeOf(store.add(name(), patternBytes(10, 9), 10))).toBe('BadStoreConfiguration');
  });

  it('disables adding when the cluster cannot be used at start-up, as glance_store does', async () => {
    const store = await open({ rbd_store_ceph_conf: '/nonexistent/ceph.conf' });
    expect(store.backend('ceph').capabilityNames).not.toContain('WRITE_ACCESS');
    expect(store.backendStates[0]).toMatchObject({
      state: 'add-disabled',
      reason: expect.stringContaining('cannot use the Ceph cluster'),
    });
    const refused = await store.add(name(), patternBytes(10, 9), 10).catch((e) => e);
    expect(refused.code).toBe('StoreAddDisabled');
    expect(refused.message).toContain('/nonexistent/ceph.conf');
    const error = await store
      .getSize(`rbd://${env!.STORE_TEST_CEPH_FSID}/images/x/snap`)
      .catch((e) => e);
    expect(error.code).toBe('BadStoreConfiguration');
    expect(error.message).toContain('/nonexistent/ceph.conf');
  });
});
