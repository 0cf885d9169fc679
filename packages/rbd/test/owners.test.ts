/**
 * MultiStore.backendsFor for rbd: which backend holds a location, judged from
 * the configuration alone (cluster fsid and pool), with two rbd backends on the
 * test cluster in different pools, one whose cluster never answered (it owns
 * every rbd location, as glance_store's `rbd://` url_prefix), and a file backend.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultiStore } from '@store/core';
import fileDriver from '@store/file';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import rbdDriver from '../src/index.js';
import { env, purgeImages, rbdConfig } from './ceph.js';

describe.skipIf(!env)('rbd: backendsFor', { timeout: 60_000 }, () => {
  const prefix = `owners-${randomUUID().slice(0, 8)}-`;
  const otherPool = `owners-pool-${randomUUID().slice(0, 8)}`;
  let dir: string;
  let store: MultiStore;
  let quiet: MultiStore;
  const added: Record<string, string> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-rbd-owners-'));
    const cluster = rbdConfig().backends.ceph!;
    store = await MultiStore.create(
      {
        enabledBackends: { one: 'rbd', two: 'rbd', disk: 'file' },
        defaultBackend: 'one',
        backends: {
          one: cluster,
          two: { ...cluster, rbd_store_pool: otherPool },
          disk: { filesystem_store_datadir: join(dir, 'disk') },
        },
      },
      { drivers: [rbdDriver, fileDriver] },
    );
    for (const backend of ['one', 'disk']) {
      const result = await store.add(`${prefix}${backend}`, [new Uint8Array([1, 2, 3])], 3, {
        backend,
      });
      added[backend] = result.location;
    }
    // A cluster that cannot be reached: no fsid is ever learnt.
    quiet = await MultiStore.create(
      {
        enabledBackends: { gone: 'rbd', ceph: 'rbd' },
        defaultBackend: 'ceph',
        backends: {
          gone: { ...cluster, rbd_store_ceph_conf: join(dir, 'missing.conf') },
          ceph: cluster,
        },
      },
      { drivers: [rbdDriver] },
    );
  });
  afterAll(async () => {
    for (const [backend, location] of Object.entries(added))
      await store?.delete(location, { backend }).catch(() => undefined);
    await store?.close();
    await quiet?.close();
    await purgeImages(prefix);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const at = (fsid: string, pool: string) => `rbd://${fsid}/${pool}/${prefix}x/snap`;

  it('names the backend that stored each image, and only that one', () => {
    expect(added.one).toBe(
      `rbd://${env!.STORE_TEST_CEPH_FSID}/${env!.STORE_TEST_RBD_POOL}/${prefix}one/snap`,
    );
    expect(store.backendsFor(added.one!)).toEqual(['one']);
    expect(store.backendsFor(added.disk!)).toEqual(['disk']);
  });

  it('tells pools of one cluster apart, and owns nothing of another cluster or pool', () => {
    expect(store.backendsFor(at(env!.STORE_TEST_CEPH_FSID, otherPool))).toEqual(['two']);
    expect(store.backendsFor(at(env!.STORE_TEST_CEPH_FSID, 'nopool'))).toEqual([]);
    expect(store.backendsFor(at(randomUUID(), env!.STORE_TEST_RBD_POOL))).toEqual([]);
    // A legacy rbd://<image> location names no cluster.
    expect(store.backendsFor(`rbd://${prefix}legacy`)).toEqual([]);
  });

  it('a backend whose cluster never answered owns every rbd location (glance_store: url_prefix rbd://)', () => {
    expect(quiet.backendsFor(added.one!)).toEqual(['gone', 'ceph']);
    expect(quiet.backendsFor(at(randomUUID(), 'any'))).toEqual(['gone']);
    expect(quiet.backendsFor(`rbd://${prefix}legacy`)).toEqual(['gone']);
  });

  it('answers [] for junk and for a scheme no backend handles', () => {
    expect(store.backendsFor('rbd://')).toEqual([]);
    expect(store.backendsFor('not a uri')).toEqual([]);
    expect(store.backendsFor(`s3://k:s@host/${env!.STORE_TEST_RBD_POOL}/img`)).toEqual([]);
  });
});
