/**
 * MultiStore.backendsFor for azure: which backend holds a location, judged from
 * the configuration alone (account and container), with two azure backends in
 * different containers and a file backend beside them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DriverDefinition, MultiStore } from '@store/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import azureDriver from '../src/index.js';
import { adminContainer, env, uniqueContainer } from './env.js';

describe.skipIf(!env)('azure: backendsFor', { timeout: 60_000 }, () => {
  const containerOf = { one: uniqueContainer('owners-1'), two: uniqueContainer('owners-2') };
  let dir: string;
  let store: MultiStore;
  const added: Record<string, string> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-azure-owners-'));
    const fileModule = new URL('../../file/src/index.ts', import.meta.url).href;
    const fileDriver = ((await import(fileModule)) as { default: DriverDefinition }).default;
    const azure = (container: string) => ({
      azure_store_account_url: env!.STORE_TEST_AZURE_BLOB_ENDPOINT,
      azure_store_account_key: env!.STORE_TEST_AZURE_KEY,
      azure_store_container: container,
      azure_store_create_container_on_put: true,
    });
    store = await MultiStore.create(
      {
        enabledBackends: { one: 'azure', two: 'azure', disk: 'file' },
        defaultBackend: 'one',
        backends: {
          one: azure(containerOf.one),
          two: azure(containerOf.two),
          disk: { filesystem_store_datadir: join(dir, 'disk') },
        },
      },
      { drivers: [azureDriver, fileDriver] },
    );
    for (const backend of ['one', 'two', 'disk']) {
      const result = await store.add(`owners-${backend}`, [new Uint8Array([1, 2, 3])], 3, {
        backend,
      });
      added[backend] = result.location;
    }
  });
  afterAll(async () => {
    await store?.close();
    for (const container of Object.values(containerOf))
      await adminContainer(container)
        .deleteIfExists()
        .catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('names the backend that stored each image, and only that one', () => {
    expect(added.one).toBe(
      `azure://${env!.STORE_TEST_AZURE_ACCOUNT}/${containerOf.one}/owners-one`,
    );
    expect(store.backendsFor(added.one!)).toEqual(['one']);
    expect(store.backendsFor(added.two!)).toEqual(['two']);
    expect(store.backendsFor(added.disk!)).toEqual(['disk']);
  });

  it('owns nothing in another container or another account', () => {
    const account = env!.STORE_TEST_AZURE_ACCOUNT;
    expect(store.backendsFor(`azure://${account}/${uniqueContainer('owners-3')}/img`)).toEqual([]);
    expect(store.backendsFor(`azure://otheraccount/${containerOf.one}/img`)).toEqual([]);
  });

  it('answers [] for junk and for a scheme no backend handles', () => {
    expect(store.backendsFor('azure://')).toEqual([]);
    expect(
      store.backendsFor(`azure://${env!.STORE_TEST_AZURE_ACCOUNT}/${containerOf.one}`),
    ).toEqual([]);
    expect(store.backendsFor('not a uri')).toEqual([]);
    expect(store.backendsFor(`s3://k:s@host/${containerOf.one}/img`)).toEqual([]);
  });
});
