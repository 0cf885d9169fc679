// glance_store's swift driver and @store/swift read one INI file and each other's images in
// radosgw's Swift API (v1 auth): single objects and DLO-segmented ones, through a
// swift_store_config_file reference (swift+config://) and with credentials in the options
// (swift+http://user:key@...).
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MultiStore } from '@store/core';
import { collect, digest, patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SharedConfig, sharedConfig } from './peer.js';
import { MB, swiftEnv, v1Session } from './swift-account.js';

const env = swiftEnv;

/** One request to radosgw's Swift API with a fresh v1 token. */
async function swiftFetch(path: string, method = 'GET'): Promise<Response> {
  const { token, storageUrl } = await v1Session();
  return fetch(`${storageUrl}${path}`, { method, headers: { 'x-auth-token': token } });
}

/** Every object name in a container, straight from radosgw. */
async function listContainer(container: string): Promise<string[]> {
  const answer = await swiftFetch(`/${container}?format=json`);
  if (answer.status === 404) return [];
  return ((await answer.json()) as { name: string }[]).map((o) => o.name);
}

describe.skipIf(!env)('swift: glance_store and @store read each other', () => {
  const containerOf = {
    ref: `store-interop-ref-${randomUUID().slice(0, 8)}`,
    creds: `store-interop-creds-${randomUUID().slice(0, 8)}`,
  };
  let dir: string;
  let glance: SharedConfig['glance'];
  let store: MultiStore;
  const cleanup: { location: string; backend: string }[] = [];
  /** A location with the key masked, so a failed comparison prints no secret. */
  const masked = (location: string | undefined) =>
    String(location).replaceAll(env!.STORE_TEST_SWIFT_KEY, 'KEY');
  const host = () => env!.STORE_TEST_SWIFT_AUTH_URL.replace(/^https?:\/\//, '');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-interop-swift-'));
    const accounts = join(dir, 'swift-accounts.conf');
    await writeFile(
      accounts,
      [
        '[ref1]',
        `auth_address = ${env!.STORE_TEST_SWIFT_AUTH_URL}`,
        `user = ${env!.STORE_TEST_SWIFT_USER}`,
        `key = ${env!.STORE_TEST_SWIFT_KEY}`,
        'auth_version = 1',
        '',
      ].join('\n'),
    );
    // Segments from 5 MB in 2 MB segments, for both implementations.
    const sizes = ['swift_store_large_object_size = 5', 'swift_store_large_object_chunk_size = 2'];
    ({ store, glance } = await sharedConfig(dir, [
      '[DEFAULT]',
      'enabled_backends = ref:swift, creds:swift',
      '[glance_store]',
      'default_backend = ref',
      '[ref]',
      `swift_store_config_file = ${accounts}`,
      'default_swift_reference = ref1',
      `swift_store_container = ${containerOf.ref}`,
      'swift_store_create_container_on_put = true',
      ...sizes,
      '[creds]',
      `swift_store_auth_address = ${env!.STORE_TEST_SWIFT_AUTH_URL}`,
      `swift_store_user = ${env!.STORE_TEST_SWIFT_USER}`,
      `swift_store_key = ${env!.STORE_TEST_SWIFT_KEY}`,
      'swift_store_auth_version = 1',
      `swift_store_container = ${containerOf.creds}`,
      'swift_store_create_container_on_put = true',
      ...sizes,
    ]));
  });

  afterAll(async () => {
    for (const { location, backend } of cleanup)
      await store?.delete(location, { backend }).catch(() => undefined);
    await store?.close();
    for (const container of Object.values(containerOf)) {
      for (const name of await listContainer(container))
        await swiftFetch(`/${container}/${encodeURIComponent(name)}`, 'DELETE');
      await swiftFetch(`/${container}`, 'DELETE');
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const expected = (backend: 'ref' | 'creds', imageId: string) =>
    backend === 'ref'
      ? `swift+config://ref1/${containerOf.ref}/${imageId}`
      : `swift+http://${env!.STORE_TEST_SWIFT_USER.replace(':', '%3A')}:KEY@${host()}/${containerOf.creds}/${imageId}`;

  for (const backend of ['ref', 'creds'] as const) {
    for (const [label, bytes] of [
      ['single-object', 300_000],
      ['segmented (DLO)', 5 * MB + 12_345],
    ] as const) {
      it(`${backend}: a ${label} image added by glance_store is read, sized and deleted by @store, segments too`, async () => {
        const data = patternBytes(bytes, bytes % 13);
        const source = join(dir, `g-${backend}-${bytes}`);
        await writeFile(source, data);
        const imageId = randomUUID();
        const added = await glance('add', backend, imageId, source);
        expect(added.error, added.message).toBeUndefined();
        expect(masked(added.location)).toBe(expected(backend, imageId));
        const names = (await listContainer(containerOf[backend])).filter((n) =>
          n.startsWith(imageId),
        );
        expect(names.length).toBe(bytes > 5 * MB ? 4 : 1);
        const got = await store.get(added.location!, { backend });
        const read = await collect(got.stream);
        expect(digest('md5', read)).toBe(added.checksum);
        expect(digest('sha512', read)).toBe(added.multihash);
        expect(await store.getSize(added.location!, { backend })).toBe(bytes);
        await store.delete(added.location!, { backend });
        expect(
          (await listContainer(containerOf[backend])).filter((n) => n.startsWith(imageId)),
        ).toEqual([]);
        const after = await glance('get', added.location!, '--backend', backend);
        expect(after.error).toBe('NotFound');
      });

      it(`${backend}: a ${label} image added by @store is read, sized and deleted by glance_store, segments too`, async () => {
        const data = patternBytes(bytes, bytes % 17);
        const source = join(dir, `s-${backend}-${bytes}`);
        await writeFile(source, data);
        const imageId = randomUUID();
        const added = await store.add(imageId, createReadStream(source), data.byteLength, {
          backend,
        });
        cleanup.push({ location: added.location, backend });
        expect(masked(added.location)).toBe(expected(backend, imageId));
        const read = await glance('get', added.location, '--backend', backend);
        expect(read.error, read.message).toBeUndefined();
        expect(read.checksum).toBe(added.checksum);
        expect(read.multihash).toBe(added.multihash);
        const sized = await glance('size', added.location, '--backend', backend);
        expect(sized.size).toBe(bytes);
        const deleted = await glance('delete', added.location, '--backend', backend);
        expect(deleted.error, deleted.message).toBeUndefined();
        expect(
          (await listContainer(containerOf[backend])).filter((n) => n.startsWith(imageId)),
        ).toEqual([]);
        await expect(store.getSize(added.location, { backend })).rejects.toMatchObject({
          code: 'NotFound',
        });
        cleanup.pop();
      });
    }
  }
});
