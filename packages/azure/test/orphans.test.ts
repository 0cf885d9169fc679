/**
 * The azure driver's orphans against Azurite, beyond the contract suite: what a
 * listing must leave out (a committed image, empty or with a racer's staged
 * blocks beside it), what removal leaves (no block list at all), and a blob
 * committed between listing and removal (kept, InUseByStore).
 */
import { randomUUID } from 'node:crypto';
import { InUseByStore, MultiStore, type Orphan } from '@store/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import azureDriver from '../src/index.js';
import { adminContainer, env, uniqueContainer } from './env.js';

/** Set-up and clean-up talk to a shared, loaded service. */
const HOOK_TIMEOUT = 120_000;

const name = uniqueContainer('store-orphans');
let store: MultiStore;
const signal = new AbortController().signal;
const block = (n: number) =>
  Buffer.from(`${'f'.repeat(24)}-${String(n).padStart(6, '0')}`).toString('base64');

async function orphanIds(): Promise<Orphan[]> {
  const found: Orphan[] = [];
  for await (const orphan of store.orphans('blobs')) found.push(orphan);
  return found;
}

describe.skipIf(!env)('azure orphans against Azurite', () => {
  beforeAll(async () => {
    await adminContainer(name).create();
    store = await MultiStore.create(
      {
        enabledBackends: { blobs: 'azure' },
        defaultBackend: 'blobs',
        backends: {
          blobs: {
            azure_store_connection_string: env!.STORE_TEST_AZURE_CONNECTION_STRING,
            azure_store_container: name,
          },
        },
      },
      { drivers: [azureDriver] },
    );
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await store?.close();
    await adminContainer(name).deleteIfExists();
  }, HOOK_TIMEOUT);

  it('lists only never-committed blobs, with their staged bytes', async () => {
    const admin = adminContainer(name);
    const staged = admin.getBlockBlobClient(`staged-${randomUUID()}`);
    await staged.stageBlock(block(0), Buffer.alloc(700, 1), 700);
    await staged.stageBlock(block(1), Buffer.alloc(300, 1), 300);
    // An empty image with a losing racer's blocks beside it: committed, so not an orphan.
    const empty = admin.getBlockBlobClient(`empty-${randomUUID()}`);
    await empty.commitBlockList([]);
    await empty.stageBlock(block(0), Buffer.alloc(10, 1), 10);
    const image = (await store.add(`image-${randomUUID()}`, Buffer.alloc(2000, 3), 2000)).location;

    const found = await orphanIds();
    expect(found.map((o) => [o.kind, o.id, o.bytes])).toEqual([
      ['uncommitted-blocks', staged.name, 1000],
    ]);
    expect(found[0]!.where).toBe(`${name}/${staged.name}`);

    await store.removeOrphan('blobs', found[0]!, { signal });
    // Gone entirely: no staged blocks, no blob (the empty commit made to drop them is deleted).
    await expect(staged.getBlockList('all')).rejects.toMatchObject({ statusCode: 404 });
    expect(await orphanIds()).toEqual([]);
    expect(await empty.exists()).toBe(true);
    expect(await store.getSize(image)).toBe(2000);
    await store.delete(image);
  });

  it('keeps a blob committed between listing and removal (InUseByStore)', async () => {
    const admin = adminContainer(name);
    const raced = admin.getBlockBlobClient(`raced-${randomUUID()}`);
    await raced.stageBlock(block(0), Buffer.alloc(100, 7), 100);
    const [orphan] = await orphanIds();
    expect(orphan?.id).toBe(raced.name);
    // The add it belonged to commits after all.
    await raced.commitBlockList([block(0)]);
    await expect(store.removeOrphan('blobs', orphan!, { signal })).rejects.toBeInstanceOf(
      InUseByStore,
    );
    expect((await raced.getProperties()).contentLength).toBe(100);
  });
});
