/**
 * The rbd driver's orphans on the test cluster, beyond the contract suite: what
 * a listing must leave out of a pool it may share (an image a client has open
 * for writing, an image with snapshots no add makes), and an image completed
 * between listing and removal (kept, InUseByStore).
 */
import { randomUUID } from 'node:crypto';
import { InUseByStore, MultiStore, type Orphan } from '@store/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import rbdDriver from '../src/index.js';
import { env, purgeImages, rawPool, rbd, rbdConfig } from './ceph.js';

/** Set-up and clean-up talk to a shared, loaded service. */
const HOOK_TIMEOUT = 120_000;

const PREFIX = 'orphans-';
let store: MultiStore;
const signal = new AbortController().signal;
const spec = (name: string) => `${env!.STORE_TEST_RBD_POOL}/${name}`;

async function orphanIds(): Promise<string[]> {
  const ids: string[] = [];
  for await (const orphan of store.orphans('ceph'))
    if (orphan.id.startsWith(PREFIX)) ids.push(orphan.id);
  return ids.sort();
}

describe.skipIf(!env)('rbd orphans on the test cluster', () => {
  beforeAll(async () => {
    store = await MultiStore.create(rbdConfig(), { drivers: [rbdDriver] });
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await store?.close();
    // Snapshots of other names are not purgeImages' to know: remove them first.
    for (const name of (await rbd('ls', '-p', env!.STORE_TEST_RBD_POOL)).split('\n')) {
      if (!name.startsWith(PREFIX)) continue;
      await rbd('snap', 'purge', spec(name)).catch(() => undefined);
    }
    await purgeImages(PREFIX);
  }, HOOK_TIMEOUT);

  it('leaves out images open for writing and images with snapshots of their own', async () => {
    const partial = `${PREFIX}${randomUUID()}`;
    const open = `${PREFIX}${randomUUID()}`;
    const foreign = `${PREFIX}${randomUUID()}`;
    for (const name of [partial, open, foreign]) await rbd('create', '--size', '1M', spec(name));
    await rbd('snap', 'create', `${spec(foreign)}@backup`);
    const raw = await rawPool();
    const writer = await raw.pool.openImage(open, { readOnly: false });
    try {
      expect(await orphanIds()).toEqual([partial]);
    } finally {
      await writer.close();
      await raw.close();
    }
    // Closed, the image is one an add left.
    expect(await orphanIds()).toEqual([partial, open].sort());
  });

  it('keeps an image completed between listing and removal (InUseByStore)', async () => {
    const name = `${PREFIX}${randomUUID()}`;
    await rbd('create', '--size', '1M', spec(name));
    let orphan: Orphan | undefined;
    for await (const o of store.orphans('ceph')) if (o.id === name) orphan = o;
    expect(orphan?.where).toBe(spec(name));
    // The add finishes after all: snapshot made and protected.
    await rbd('snap', 'create', `${spec(name)}@snap`);
    await rbd('snap', 'protect', `${spec(name)}@snap`);
    await expect(store.removeOrphan('ceph', orphan!, { signal })).rejects.toBeInstanceOf(
      InUseByStore,
    );
    expect(await rbd('snap', 'ls', spec(name))).toContain('snap');
    await rbd('snap', 'unprotect', `${spec(name)}@snap`);
  });
});
