/**
 * Which backend owns a location, without I/O: @store's MultiStore.backendsFor
 * against glance_store's url_prefix values (what Glance's store_utils matches to
 * attach a store id to a legacy location), on one config read by both.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MultiStore } from '@store/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SharedConfig, sharedConfig } from './peer.js';

let dir: string;
let glance: SharedConfig['glance'];
let store: MultiStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'store-interop-owners-'));
  ({ store, glance } = await sharedConfig(dir, [
    '[DEFAULT]',
    'enabled_backends = fast:file, slow:file, web:http',
    '[glance_store]',
    'default_backend = fast',
    '[fast]',
    `filesystem_store_datadir = ${join(dir, 'fast')}`,
    '[slow]',
    `filesystem_store_datadirs = ${join(dir, 'slow-a')}:10`,
    `filesystem_store_datadirs = ${join(dir, 'slow-b')}:20`,
    'filesystem_store_datadir =',
  ]));
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

const owners = async (uri: string) => (await glance('owners', uri)).owners as string[];

describe('backendsFor agrees with glance_store url_prefix', () => {
  it('the url_prefix values are the ones this test expects', async () => {
    const { stores } = (await glance('stores')) as {
      stores: Record<string, { urlPrefix: string }>;
    };
    expect(stores.fast!.urlPrefix).toBe(`file://${join(dir, 'fast')}`);
    expect(stores.slow!.urlPrefix).toBe(`file://${join(dir, 'slow-b')}`);
    expect(stores.web!.urlPrefix).toBe('http');
  });

  it.each([
    ['an image in a single-directory backend', () => `file://${join(dir, 'fast', 'img-1')}`],
    ['an image in the highest-priority directory', () => `file://${join(dir, 'slow-b', 'img-2')}`],
    ['an http URL', () => 'http://example.test/images/img-3'],
    ['an https URL', () => 'https://example.test:8443/img-4?x=1'],
    ['a file outside every data directory', () => `file://${join(dir, 'elsewhere', 'img-5')}`],
    ['an unknown scheme', () => 'swift://account/container/img-6'],
  ])('%s', async (_what, uri) => {
    expect(store.backendsFor(uri())).toEqual(await owners(uri()));
  });

  it('deliberate: an image in a lower-priority directory belongs to its backend (glance_store prefixes only the highest-priority one)', async () => {
    const uri = `file://${join(dir, 'slow-a', 'img-7')}`;
    expect(await owners(uri)).toEqual([]);
    expect(store.backendsFor(uri)).toEqual(['slow']);
  });

  it('deliberate: a sibling directory sharing a name prefix is not owned (glance_store compares strings)', async () => {
    const uri = `file://${join(dir, 'fast-old', 'img-8')}`;
    expect(await owners(uri)).toEqual(['fast']);
    expect(store.backendsFor(uri)).toEqual([]);
  });
});
