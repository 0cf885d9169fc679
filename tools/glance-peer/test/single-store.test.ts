/**
 * A legacy single-store glance-api.conf (no enabled_backends: [glance_store] stores,
 * default_store and the driver options in [glance_store]), read by glance_store's
 * single-store API (backend.py, the peer's --single-store) and by @store: images
 * written by either side are read, sized and deleted by the other.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MultiStore } from '@store/core';
import { collect, digest, patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SharedConfig, sharedConfig } from './peer.js';

let dir: string;
let glance: SharedConfig['glance'];
let store: MultiStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'store-interop-single-'));
  ({ store, glance } = await sharedConfig(dir, [
    '[DEFAULT]',
    'bind_port = 9292',
    '[glance_store]',
    'stores = file, http',
    'default_store = file',
    `filesystem_store_datadir = ${join(dir, 'images')}`,
    'http_max_retries = 1',
  ]));
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

const single = (...args: string[]) => glance('--single-store', ...args);

describe('single-store mode: glance_store and @store read each other', () => {
  it('maps stores to backends named after their driver, default_store to the default', () => {
    expect(store.backends.map((b) => [b.id, b.type])).toEqual([
      ['file', 'file'],
      ['http', 'http'],
    ]);
    expect(store.defaultBackend).toBe('file');
  });

  it('an image added by glance_store is read, sized and deleted by @store', async () => {
    const data = patternBytes(300_000, 3);
    const source = join(dir, 'src-g');
    await writeFile(source, data);
    const added = await single('add', 'ignored', 'from-glance', source);
    expect(added.error).toBeUndefined();
    expect(added.location).toBe(`file://${join(dir, 'images')}/from-glance`);
    expect(added.metadata).toEqual({});
    const bytes = await collect((await store.get(added.location!)).stream);
    expect(digest('md5', bytes)).toBe(added.checksum);
    expect(digest('sha512', bytes)).toBe(added.multihash);
    expect(await store.getSize(added.location!)).toBe(data.byteLength);
    await store.delete(added.location!);
    expect((await single('size', added.location!)).error).toBe('NotFound');
  });

  it('an image added by @store has the same location and metadata, and glance_store reads and deletes it', async () => {
    const data = patternBytes(200_001, 9);
    const added = await store.add('from-store', data, data.byteLength);
    expect(added.location).toBe(`file://${join(dir, 'images')}/from-store`);
    // glance_store's single-store add names no backend in the metadata.
    expect(added.metadata).toEqual({});
    const got = await single('get', added.location);
    expect(got.error).toBeUndefined();
    expect(got.checksum).toBe(added.checksum);
    expect(got.multihash).toBe(added.multihash);
    expect((await single('delete', added.location)).error).toBeUndefined();
    await expect(store.getSize(added.location)).rejects.toMatchObject({ code: 'NotFound' });
  });
});
