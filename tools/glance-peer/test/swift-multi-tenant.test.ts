// glance_store's multi-tenant swift store and @store/swift's, on one INI file, against
// radosgw's Swift API: each reads, sizes and deletes (with its container) the images the
// other added in the caller's account with the caller's token, single objects and
// segmented ones, and both record an image's sharing (setAcls) in the same headers.
// The token is a v1 token of the store-test:swift subuser, given to glance_store as
// Glance gives it a request context (swift_store_use_trusts off: neither side makes trusts).
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MultiStore } from '@store/core';
import { chunked, collect, digest, patternBytes } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SharedConfig, sharedConfig } from './peer.js';
import { MB, swiftEnv, v1Session } from './swift-account.js';

const env = swiftEnv;

describe.skipIf(!env)('swift multi-tenant: glance_store and @store read each other', () => {
  const prefix = `store-interop-mt-${randomUUID().slice(0, 8)}`;
  let dir: string;
  let glance: SharedConfig['glance'];
  let store: MultiStore;
  let token: string;
  let storageUrl: string;
  /** What a caller's request context carries here: the token only. */
  let context: { authToken: string };
  const added: string[] = [];

  /** Status and ACL headers of an image's container, straight from radosgw. */
  async function containerOf(imageId: string) {
    const answer = await fetch(`${storageUrl}/${prefix}_${imageId}`, {
      method: 'HEAD',
      headers: { 'x-auth-token': token },
    });
    // radosgw gives the grants back sorted; compare them as sets.
    const grants = (name: string) => answer.headers.get(name)?.split(',').sort().join(',') ?? '';
    return {
      status: answer.status,
      read: grants('x-container-read'),
      write: grants('x-container-write'),
    };
  }

  beforeAll(async () => {
    ({ token, storageUrl } = await v1Session());
    context = { authToken: token };
    dir = await mkdtemp(join(tmpdir(), 'store-interop-swiftmt-'));
    ({ store, glance } = await sharedConfig(
      dir,
      [
        '[DEFAULT]',
        'enabled_backends = tenants:swift',
        '[glance_store]',
        'default_backend = tenants',
        '[tenants]',
        'swift_store_multi_tenant = true',
        'swift_store_use_trusts = false',
        `swift_store_endpoint = ${storageUrl}`,
        `swift_store_container = ${prefix}`,
        'swift_store_create_container_on_put = true',
        'swift_store_admin_tenants = glance-admins',
        // Segments from 5 MB in 2 MB segments, for both implementations.
        'swift_store_large_object_size = 5',
        'swift_store_large_object_chunk_size = 2',
      ],
      { ...process.env, GLANCE_PEER_AUTH_TOKEN: token },
    ));
  });

  afterAll(async () => {
    for (const location of added) await store?.delete(location, { context }).catch(() => undefined);
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** glance_store's multi-tenant location: the storage URL, then the image's own container. */
  const expected = (imageId: string) =>
    `swift+http://${storageUrl.replace(/^http:\/\//, '')}/${prefix}_${imageId}/${imageId}`;

  for (const [label, bytes] of [
    ['single-object', 300_000],
    ['segmented (DLO)', 5 * MB + 12_345],
  ] as const) {
    it(`a ${label} image glance_store added with the caller's token is read, sized and deleted (container too) by @store`, async () => {
      const data = patternBytes(bytes, bytes % 11);
      const source = join(dir, `g-${bytes}`);
      await writeFile(source, data);
      const imageId = randomUUID();
      const theirs = await glance('--context', 'add', 'tenants', imageId, source);
      expect(theirs.error, theirs.message).toBeUndefined();
      expect(theirs.location).toBe(expected(imageId));
      added.push(theirs.location!);
      const read = await collect((await store.get(theirs.location!, { context })).stream);
      expect(digest('md5', read)).toBe(theirs.checksum);
      expect(digest('sha512', read)).toBe(theirs.multihash);
      expect(await store.getSize(theirs.location!, { context })).toBe(bytes);
      await store.delete(theirs.location!, { context });
      expect((await containerOf(imageId)).status).toBe(404);
      const after = await glance('--context', 'get', theirs.location!, '--backend', 'tenants');
      expect(after.error).toBe('NotFound');
    });

    it(`a ${label} image @store added with the caller's token is read, sized and deleted (container too) by glance_store`, async () => {
      const data = patternBytes(bytes, bytes % 7);
      const imageId = randomUUID();
      const mine = await store.add(imageId, chunked(data, [65536]), bytes, { context });
      added.push(mine.location);
      expect(mine.location).toBe(expected(imageId));
      const read = await glance('--context', 'get', mine.location, '--backend', 'tenants');
      expect(read.error, read.message).toBeUndefined();
      expect(read.checksum).toBe(mine.checksum);
      expect(read.multihash).toBe(mine.multihash);
      const sized = await glance('--context', 'size', mine.location, '--backend', 'tenants');
      expect(sized.size).toBe(bytes);
      const deleted = await glance('--context', 'delete', mine.location, '--backend', 'tenants');
      expect(deleted.error, deleted.message).toBeUndefined();
      expect((await containerOf(imageId)).status).toBe(404);
      await expect(store.getSize(mine.location, { context })).rejects.toMatchObject({
        code: 'NotFound',
      });
    });
  }

  it.each([
    ['public', { public: true }],
    [
      'read and write tenants',
      { readTenants: ['tenant-a', 'tenant-b'], writeTenants: ['tenant-c'] },
    ],
    ['no one (private again)', {}],
  ] as const)('setAcls, %s: both record the same X-Container-Read/Write', async (_label, acls) => {
    const data = patternBytes(1000, 3);
    const source = join(dir, 'acl-source');
    await writeFile(source, data);
    const theirId = randomUUID();
    const theirs = await glance('--context', 'add', 'tenants', theirId, source);
    expect(theirs.error, theirs.message).toBeUndefined();
    added.push(theirs.location!);
    const myId = randomUUID();
    const mine = await store.add(myId, chunked(data, [1000]), 1000, { context });
    added.push(mine.location);

    const flags: string[] = [];
    if ('public' in acls && acls.public) flags.push('--public');
    if ('readTenants' in acls) flags.push('--read', acls.readTenants.join(','));
    if ('writeTenants' in acls) flags.push('--write', acls.writeTenants.join(','));
    const set = await glance(
      '--context',
      'acls',
      theirs.location!,
      '--backend',
      'tenants',
      ...flags,
    );
    expect(set.error, set.message).toBeUndefined();
    await store.setAcls(mine.location, { context, ...acls });

    const recorded = (({ read, write }) => ({ read, write }))(await containerOf(theirId));
    expect((({ read, write }) => ({ read, write }))(await containerOf(myId))).toEqual(recorded);
    // What glance_store writes, spelled out: the admin tenants always may write.
    expect(recorded.write).toContain('glance-admins:*');
    if ('public' in acls) expect(recorded.read).toBe('*:*');
  });
});
