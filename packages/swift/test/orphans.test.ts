/**
 * The swift driver's orphans on radosgw, beyond the contract suite: image ids
 * that end like a segment number but are not one, seeded containers, segments
 * written after the listing (a new add of the id: kept), and an image that
 * exists by removal time (kept, InUseByStore).
 */
import { InUseByStore, MultiStore, type Orphan } from '@store/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import swiftDriver from '../src/index.js';
import {
  dropContainer,
  env,
  listContainer,
  scratchContainer,
  swiftFetch,
  swiftOptions,
} from './radosgw.js';

/** Set-up and clean-up talk to a shared, loaded service. */
const HOOK_TIMEOUT = 120_000;

const container = scratchContainer('store-orphans');
let store: MultiStore;
const signal = new AbortController().signal;

async function put(object: string, bytes = 100): Promise<void> {
  const answer = await swiftFetch(`/${container}/${encodeURIComponent(object)}`, {
    method: 'PUT',
    body: new Uint8Array(bytes).fill(5),
  });
  if (!answer.ok) throw new Error(`PUT ${object} answered ${answer.status}`);
}

async function orphans(): Promise<Orphan[]> {
  const found: Orphan[] = [];
  for await (const orphan of store.orphans('objects')) found.push(orphan);
  return found;
}

describe.skipIf(!env)('swift orphans on radosgw', () => {
  beforeAll(async () => {
    await swiftFetch(`/${container}`, { method: 'PUT' });
    store = await MultiStore.create(
      {
        enabledBackends: { objects: 'swift' },
        defaultBackend: 'objects',
        backends: { objects: swiftOptions(container) },
      },
      { drivers: [swiftDriver] },
    );
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await store?.close();
    await dropContainer(container);
  }, HOOK_TIMEOUT);

  it('groups an image’s segments into one orphan and takes no image id for a segment', async () => {
    // A UUID whose last group is all digits, stored whole: an image, not segment 123456789012.
    const uuidLike = '0f7a5b2c-1d3e-4f50-8a6b-123456789012';
    await store.add(uuidLike, new Uint8Array(10), 10);
    await put('dead-00001', 1000);
    await put('dead-00002', 500);
    const found = await orphans();
    expect(found.map((o) => [o.kind, o.id, o.imageId, o.bytes])).toEqual([
      ['segments', `${container}/dead`, 'dead', 1500],
    ]);
    expect(found[0]!.where).toBe(`${container}/dead-NNNNN (2 segments)`);
    await store.removeOrphan('objects', found[0]!, { signal });
    expect(await listContainer(container)).toEqual([uuidLike]);
  });

  it('keeps segments written after the listing, and an image that exists by removal time', async () => {
    await put('again-00001');
    const [orphan] = await orphans();
    expect(orphan?.imageId).toBe('again');
    // A new add of the id writes its first segment again, later than the listing saw.
    // radosgw's listing times have whole seconds: step past the listed one.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await put('again-00001');
    await store.removeOrphan('objects', orphan!, { signal });
    expect(await listContainer(container)).toContain('again-00001');

    const [later] = await orphans();
    await put('again'); // the image appears (its manifest, or a whole object)
    await expect(store.removeOrphan('objects', later!, { signal })).rejects.toBeInstanceOf(
      InUseByStore,
    );
    expect(await listContainer(container)).toContain('again-00001');
  });
});
