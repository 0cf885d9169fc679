/**
 * Multi-tenant mode against radosgw: the caller's token (here one from v1 auth
 * of the store-test:swift subuser) in the request context, the storage URL from
 * swift_store_endpoint or the context's catalog, a container per image; and
 * setAcls as glance_store sets them, with what radosgw makes of them.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { MultiStore } from '@store/core';
import { chunked, collect, digest, patternBytes, serviceEnv } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import swiftDriver, { type SwiftRequestContext } from '../src/index.js';
import { adminSession, env, listContainer, scratchContainer } from './radosgw.js';

const ceph = serviceEnv('ceph (radosgw-admin)', ['STORE_TEST_CEPH_CONF'] as const);
const run = promisify(execFile);

async function open(options: Record<string, string>): Promise<MultiStore> {
  return MultiStore.create(
    {
      enabledBackends: { tenants: 'swift' },
      defaultBackend: 'tenants',
      backends: { tenants: options },
    },
    { drivers: [swiftDriver] },
  );
}

/** Status of a request at `url`, with a token or anonymous. */
async function statusOf(url: string, token?: string, init: RequestInit = {}): Promise<number> {
  const answer = await fetch(url, {
    ...init,
    headers: { ...(token ? { 'x-auth-token': token } : {}) },
  });
  await answer.body?.cancel();
  return answer.status;
}

describe.skipIf(!env)('swift multi-tenant mode against radosgw', () => {
  // A prefix of our own: every image gets the container <prefix>_<image id>.
  const prefix = scratchContainer('store-swiftmt');
  let session: { token: string; storageUrl: string };
  let context: SwiftRequestContext;
  let store: MultiStore;

  beforeAll(async () => {
    session = await adminSession();
    context = { authToken: session.token };
    store = await open({
      swift_store_multi_tenant: 'true',
      swift_store_endpoint: session.storageUrl,
      swift_store_container: prefix,
      swift_store_create_container_on_put: 'true',
      swift_store_large_object_size: '1',
      swift_store_large_object_chunk_size: '1',
      swift_store_admin_tenants: 'glance-admins',
    });
  });
  afterAll(async () => {
    await store?.close();
  });

  it("adds to <container>_<id> with the context's token, writes a storage-URL location as glance_store, reads, sizes and deletes it with its container", async () => {
    for (const size of [3000, 2_500_000]) {
      const imageId = randomUUID();
      const data = patternBytes(size, 5);
      const added = await store.add(imageId, chunked(data, [65536]), size, { context });
      const container = `${prefix}_${imageId}`;
      const storage = session.storageUrl.replace(/^http:\/\//, '');
      expect(added.location).toBe(`swift+http://${storage}/${container}/${imageId}`);
      expect(added.backend).toBe('tenants');
      // glance_store's multi-tenant url_prefix: <storage URL>/<container>_ (an image's own container).
      expect(store.backendsFor(added.location)).toEqual(['tenants']);
      expect(
        store.backendsFor(added.location.replace(`/${container}/`, `/${prefix}_other/`)),
      ).toEqual([]);
      expect(await store.getSize(added.location, { context })).toBe(size);
      const read = await collect((await store.get(added.location, { context })).stream);
      expect(digest('sha256', read)).toBe(digest('sha256', data));
      const names = await listContainer(container);
      expect(names[0]).toBe(imageId);
      expect(names.length).toBe(size > 1_024_000 ? 4 : 1);
      await store.delete(added.location, { context });
      expect(await statusOf(`${session.storageUrl}/${container}`, session.token)).toBe(404);
    }
  });

  it('takes the storage URL from the context catalog (v2 or v3 shaped) when swift_store_endpoint is unset', async () => {
    const byCatalog = await open({
      swift_store_multi_tenant: 'true',
      swift_store_container: prefix,
      swift_store_create_container_on_put: 'true',
      swift_store_region: 'RegionOne',
      swift_store_endpoint_type: 'internalURL',
    });
    try {
      const catalogs: SwiftRequestContext['serviceCatalog'][] = [
        [
          {
            type: 'object-store',
            endpoints: [
              { interface: 'public', region_id: 'RegionOne', url: 'http://192.0.2.1/unused' },
              { interface: 'internal', region_id: 'RegionOne', url: session.storageUrl },
              { interface: 'internal', region_id: 'RegionTwo', url: 'http://192.0.2.2/unused' },
            ],
          },
        ],
        [
          {
            type: 'object-store',
            endpoints: [
              {
                region: 'RegionOne',
                publicURL: 'http://192.0.2.1/unused',
                internalURL: session.storageUrl,
              },
            ],
          },
        ],
      ];
      for (const serviceCatalog of catalogs) {
        const imageId = randomUUID();
        const added = await byCatalog.add(imageId, patternBytes(100, 1), 100, {
          context: { ...context, serviceCatalog },
        });
        expect(added.location.endsWith(`/${prefix}_${imageId}/${imageId}`)).toBe(true);
        await byCatalog.delete(added.location, { context });
      }
      await expect(
        byCatalog.add(randomUUID(), patternBytes(10, 1), 10, { context }),
      ).rejects.toMatchObject({
        code: 'BadStoreConfiguration',
        message: expect.stringContaining('service catalog'),
      });
    } finally {
      await byCatalog.close();
    }
  });

  it('refuses calls without a context, and fails with Forbidden when the token is refused (no re-auth: the token is not ours)', async () => {
    await expect(store.add(randomUUID(), patternBytes(10, 1), 10)).rejects.toMatchObject({
      code: 'BadStoreConfiguration',
    });
    await expect(
      store.add(randomUUID(), patternBytes(10, 1), 10, { context: { authToken: 42 } }),
    ).rejects.toMatchObject({ code: 'Invalid' });
    const err = await store
      .add(randomUUID(), patternBytes(10, 1), 10, {
        context: { authToken: 'AUTH_tk-not-a-token-0123' },
      })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err).toMatchObject({ code: 'Forbidden' });
    expect(`${err!.message} ${String(err!.cause)}`).not.toContain('AUTH_tk-not-a-token-0123');
  });

  describe.skipIf(!ceph)('setAcls', () => {
    // A second radosgw user, ours alone, to see what the ACLs let it do.
    const other = `store-acl-${randomUUID().slice(0, 8)}`;
    const otherKey = randomUUID();
    const admin = (...args: string[]) =>
      run('radosgw-admin', ['-c', ceph!.STORE_TEST_CEPH_CONF, ...args]);
    let otherToken: string;

    beforeAll(async () => {
      await admin('user', 'create', `--uid=${other}`, `--display-name=${other}`);
      await admin(
        'subuser',
        'create',
        `--uid=${other}`,
        `--subuser=${other}:swift`,
        '--access=full',
        '--key-type=swift',
        `--secret=${otherKey}`,
      );
      const answer = await fetch(env!.STORE_TEST_SWIFT_AUTH_URL, {
        headers: { 'x-auth-user': `${other}:swift`, 'x-auth-key': otherKey },
      });
      otherToken = answer.headers.get('x-auth-token')!;
    }, 60_000);
    afterAll(async () => {
      await admin('user', 'rm', `--uid=${other}`, '--purge-data').catch(() => undefined);
    }, 60_000);

    it("sets X-Container-Read/Write on the image's container as glance_store does; radosgw keeps them but honours neither <tenant>:* nor *:*", async () => {
      const imageId = randomUUID();
      const added = await store.add(imageId, patternBytes(100, 2), 100, { context });
      const containerUrl = `${session.storageUrl}/${prefix}_${imageId}`;
      const objectUrl = `${containerUrl}/${imageId}`;
      const acls = async () => {
        const answer = await fetch(containerUrl, {
          method: 'HEAD',
          headers: { 'x-auth-token': session.token },
        });
        // radosgw gives the grants back sorted.
        const grants = (name: string) =>
          answer.headers.get(name)?.split(',').sort().join(',') ?? null;
        return [grants('x-container-read'), grants('x-container-write')];
      };
      try {
        expect(await statusOf(objectUrl, otherToken)).toBe(403);

        await store.setAcls(added.location, { context, readTenants: [other], writeTenants: [] });
        expect(await acls()).toEqual([`${other}:*`, 'glance-admins:*']);
        // radosgw reads "a:b" as user b of tenant a: a grant to every user of a tenant means nothing to it.
        expect(await statusOf(objectUrl, otherToken)).toBe(403);

        await store.setAcls(added.location, {
          context,
          readTenants: [],
          writeTenants: [other],
        });
        expect(await acls()).toEqual([null, [`${other}:*`, 'glance-admins:*'].sort().join(',')]);
        const put = await statusOf(`${containerUrl}/extra`, otherToken, {
          method: 'PUT',
          body: 'x',
        });
        expect(put).toBe(403);

        await store.setAcls(added.location, { context, public: true });
        expect((await acls())[0]).toBe('*:*');
        // *:* (any user of any tenant) is not radosgw's public read (.r:*) either.
        expect(await statusOf(objectUrl, otherToken)).toBe(403);
        expect(await statusOf(objectUrl)).toBe(401);
      } finally {
        await store.delete(added.location, { context });
      }
    }, 60_000);

    it('answers NotFound for an image whose container is gone', async () => {
      const gone = `swift+http://${session.storageUrl.replace(/^http:\/\//, '')}/${prefix}_x/x`;
      await expect(store.setAcls(gone, { context, public: true })).rejects.toMatchObject({
        code: 'NotFound',
      });
    });
  });
});
