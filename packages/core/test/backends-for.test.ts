/** MultiStore.backendsFor: which backends own a URI, from configuration alone. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DriverDefinition, MultiStore } from '../src/index.js';

let root: string;
let store: MultiStore;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'store-backends-for-'));
  const driverModule = new URL('../../file/src/index.ts', import.meta.url).href;
  const fileDriver = ((await import(driverModule)) as { default: DriverDefinition }).default;
  store = await MultiStore.create(
    {
      enabledBackends: { a: 'file', b: 'file' },
      defaultBackend: 'a',
      backends: {
        a: { filesystem_store_datadir: join(root, 'a') },
        b: { filesystem_store_datadirs: [`${join(root, 'b1')}:1`, `${join(root, 'b2')}:2`] },
      },
    },
    { drivers: [fileDriver] },
  );
});
afterAll(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('backendsFor', () => {
  it('names the backend whose data directory holds the file, for every directory', () => {
    expect(store.backendsFor(`file://${join(root, 'a', 'img')}`)).toEqual(['a']);
    expect(store.backendsFor(`file://${join(root, 'b1', 'img')}`)).toEqual(['b']);
    expect(store.backendsFor(`file://${join(root, 'b2', 'img')}`)).toEqual(['b']);
  });

  it('owns nothing outside the data directories, in subdirectories or with a shared name prefix', () => {
    expect(store.backendsFor(`file://${join(root, 'c', 'img')}`)).toEqual([]);
    expect(store.backendsFor(`file://${join(root, 'a', 'sub', 'img')}`)).toEqual([]);
    expect(store.backendsFor(`file://${join(root, 'a2', 'img')}`)).toEqual([]);
  });

  it('answers [] for an unknown scheme, no scheme or a URI the driver cannot parse', () => {
    expect(store.backendsFor('rbd://fsid/pool/img/snap')).toEqual([]);
    expect(store.backendsFor('not a uri')).toEqual([]);
    expect(store.backendsFor('file://host-not-allowed/img')).toEqual([]);
  });

  it('does no I/O: a missing image and a missing directory are judged the same', async () => {
    await rm(join(root, 'b1'), { recursive: true, force: true });
    expect(store.backendsFor(`file://${join(root, 'b1', 'never-written')}`)).toEqual(['b']);
    expect(await readdir(root)).not.toContain('b1');
  });
});
