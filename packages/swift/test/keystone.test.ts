/**
 * Keystone v3 auth against a real Keystone (Debian's, on sqlite, started by the
 * test) and a private radosgw validating its tokens: single-tenant adds with
 * password auth and the storage URL picked from the token's catalog; a
 * multi-tenant add with a user's Keystone token and catalog as the context.
 * Skipped when python3-keystone is not installed, unless STORE_REQUIRE_SERVICES=1.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MultiStore } from '@store/core';
import {
  chunked,
  collect,
  digest,
  PrivateRadosgw,
  patternBytes,
  REQUIRE_SERVICES_VARIABLE,
  serviceEnv,
} from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import swiftDriver, { type CatalogService } from '../src/index.js';
import { type KeystoneUser, keystoneInstalled, PrivateKeystone } from './keystone.js';
import { env, scratchContainer } from './radosgw.js';

const ceph = serviceEnv('ceph (private radosgw)', [
  'STORE_TEST_CEPH_CONF',
  'STORE_TEST_CEPH_KEYRING',
] as const);
const run = promisify(execFile);

async function open(options: Record<string, string>): Promise<MultiStore> {
  return MultiStore.create(
    { enabledBackends: { ks: 'swift' }, defaultBackend: 'ks', backends: { ks: options } },
    { drivers: [swiftDriver] },
  );
}

if (!keystoneInstalled) {
  // The test command installs it (tools/services install): a run that requires the services
  // must not pass by skipping these.
  if (process.env[REQUIRE_SERVICES_VARIABLE] === '1') {
    throw new Error(
      `python3-keystone is not installed (tools/services install); ${REQUIRE_SERVICES_VARIABLE}=1 forbids skipping`,
    );
  }
  console.info('keystone tests skipped: python3-keystone is not installed');
}

describe.skipIf(!env || !ceph || !keystoneInstalled)(
  'swift with Keystone v3 auth (a private Keystone and radosgw)',
  { timeout: 300_000 },
  () => {
    let keystone: PrivateKeystone;
    let gw: PrivateRadosgw;
    let glance: KeystoneUser;
    let readerProject: string | undefined;
    let dir: string;
    const container = scratchContainer('store-swiftks');

    beforeAll(async () => {
      keystone = await PrivateKeystone.start();
      gw = await PrivateRadosgw.create(ceph!.STORE_TEST_CEPH_CONF, ceph!.STORE_TEST_CEPH_KEYRING, {
        name: 'client.rgw.storekeystone',
        args: keystone.radosgwArgs(),
      });
      await keystone.addObjectStore(`${gw.endpoint}/swift/v1`);
      glance = await keystone.addUser('glance-images', 'glance');
      await gw.start();
      dir = await mkdtemp(join(tmpdir(), 'store-swiftks-'));
    }, 300_000);

    afterAll(async () => {
      await gw?.dispose();
      await keystone?.dispose();
      if (dir) await rm(dir, { recursive: true, force: true });
      // radosgw made a user per Keystone project it saw; they go with their buckets.
      for (const uid of [glance?.projectId, readerProject]) {
        if (uid)
          await run('radosgw-admin', [
            '-c',
            ceph!.STORE_TEST_CEPH_CONF,
            'user',
            'rm',
            `--uid=${uid}`,
            '--purge-data',
          ]).catch(() => undefined);
      }
    }, 120_000);

    it('adds, reads and deletes with v3 password auth, the storage URL from the catalog (region, endpoint type, service type)', async () => {
      const store = await open({
        swift_store_auth_address: keystone.url,
        swift_store_user: `${glance.project}:${glance.user}`,
        swift_store_key: glance.password,
        swift_store_auth_version: '3',
        swift_store_region: 'RegionOne',
        swift_store_endpoint_type: 'internalURL',
        swift_store_container: container,
        swift_store_create_container_on_put: 'true',
        swift_store_large_object_size: '1',
        swift_store_large_object_chunk_size: '1',
      });
      try {
        for (const size of [5000, 2_200_000]) {
          const data = patternBytes(size, 9);
          const added = await store.add(crypto.randomUUID(), chunked(data, [65536]), size);
          expect(added.location).toMatch(
            new RegExp(
              `^swift\\+http://glance-images%3Aglance:[^@]+@127\\.0\\.0\\.1:${keystone.port}/v3/${container}/`,
            ),
          );
          expect(await store.getSize(added.location)).toBe(size);
          expect(digest('sha256', await collect((await store.get(added.location)).stream))).toBe(
            digest('sha256', data),
          );
          await store.delete(added.location);
          await expect(store.getSize(added.location)).rejects.toMatchObject({ code: 'NotFound' });
        }
      } finally {
        await store.close();
      }
    });

    it('authenticates again when Keystone revoked its token mid-way through a segmented add', async () => {
      const messages: string[] = [];
      const logger = {
        debug: () => undefined,
        info: (m: string) => messages.push(m),
        warn: () => undefined,
        error: () => undefined,
      };
      const store = await MultiStore.create(
        {
          enabledBackends: { ks: 'swift' },
          defaultBackend: 'ks',
          backends: {
            ks: {
              swift_store_auth_address: keystone.url,
              swift_store_user: `${glance.project}:${glance.user}`,
              swift_store_key: glance.password,
              swift_store_auth_version: '3',
              swift_store_region: 'RegionOne',
              swift_store_container: container,
              swift_store_create_container_on_put: 'true',
              swift_store_large_object_size: '1',
              swift_store_large_object_chunk_size: '1',
            },
          },
        },
        { drivers: [swiftDriver], logger },
      );
      try {
        const data = patternBytes(3 * 1_024_000 + 77, 4);
        // The first segment goes out on the first token; then every token of the user is revoked.
        async function* source() {
          yield data.subarray(0, 1_024_000);
          yield data.subarray(1_024_000, 1_100_000);
          await keystone.revokeTokensOf(glance);
          yield data.subarray(1_100_000);
        }
        const added = await store.add(crypto.randomUUID(), source(), 0);
        expect(added.size).toBe(data.byteLength);
        expect(messages.filter((m) => m.includes('authenticating again')).length).toBe(1);
        expect(digest('sha256', await collect((await store.get(added.location)).stream))).toBe(
          digest('sha256', data),
        );
        await store.delete(added.location);
      } finally {
        await store.close();
      }
    });

    it('reads account references with Keystone domains from swift_store_config_file, and refuses a wrong password as Forbidden', async () => {
      const file = join(dir, 'glance-swift.conf');
      await writeFile(
        file,
        [
          '[ref1]',
          `auth_address = ${keystone.url}`,
          `user = ${glance.project}:${glance.user}`,
          `key = ${glance.password}`,
          'auth_version = 3',
          'user_domain_name = Default',
          'project_domain_id = default',
          '[wrong]',
          `auth_address = ${keystone.url}`,
          `user = ${glance.project}:${glance.user}`,
          'key = NotThePassword42',
          'auth_version = 3',
          '',
        ].join('\n'),
      );
      const store = await open({
        swift_store_config_file: file,
        swift_store_container: container,
        swift_store_create_container_on_put: 'true',
      });
      const wrong = await open({
        swift_store_config_file: file,
        default_swift_reference: 'wrong',
        swift_store_container: container,
        swift_store_create_container_on_put: 'true',
      });
      try {
        const added = await store.add(crypto.randomUUID(), patternBytes(300, 2), 300);
        expect(added.location.startsWith(`swift+config://ref1/${container}/`)).toBe(true);
        expect(await store.getSize(added.location)).toBe(300);
        await store.delete(added.location);
        const err = await wrong.add(crypto.randomUUID(), patternBytes(3, 2), 3).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err).toMatchObject({ code: 'Forbidden' });
        expect(`${err!.message} ${String(err!.cause)}`).not.toContain('NotThePassword42');
      } finally {
        await store.close();
        await wrong.close();
      }
    });

    it('multi-tenant: a Keystone token and its catalog as the request context', async () => {
      const { token, catalog, projectId } = await keystone.token(
        glance.project,
        glance.user,
        glance.password,
      );
      const store = await open({
        swift_store_multi_tenant: 'true',
        swift_store_container: container,
        swift_store_create_container_on_put: 'true',
        swift_store_region: 'RegionOne',
      });
      try {
        const context = {
          authToken: token,
          projectId,
          serviceCatalog: catalog as CatalogService[],
        };
        const imageId = crypto.randomUUID();
        const added = await store.add(imageId, patternBytes(700, 3), 700, { context });
        expect(added.location).toBe(
          `swift+http://127.0.0.1:${gw.port}/swift/v1/${container}_${imageId}/${imageId}`,
        );
        expect(await store.getSize(added.location, { context })).toBe(700);

        // setAcls with Keystone tenants: radosgw validates Keystone tokens, so a grant to
        // every user of a project (<project id>:*) is what it would need to honour.
        const reader = await keystone.addUser('readers', 'reader');
        readerProject = reader.projectId;
        const other = await keystone.token(reader.project, reader.user, reader.password);
        const objectUrl = `${gw.endpoint}/swift/v1/${container}_${imageId}/${imageId}`;
        const readBy = async (token?: string) => {
          const answer = await fetch(objectUrl, {
            headers: token ? { 'x-auth-token': token } : {},
          });
          await answer.body?.cancel();
          return answer.status;
        };
        const seen: Record<string, number> = { before: await readBy(other.token) };
        await store.setAcls(added.location, { context, readTenants: [reader.projectId] });
        seen.readTenant = await readBy(other.token);
        await store.setAcls(added.location, { context, public: true });
        seen.publicOther = await readBy(other.token);
        seen.publicAnonymous = await readBy();
        console.info(`radosgw with Keystone, reads after setAcls: ${JSON.stringify(seen)}`);
        // The project grant works; glance_store's public grant (*:*) is not radosgw's (.r:*).
        expect(seen).toEqual({
          before: 403,
          readTenant: 200,
          publicOther: 403,
          publicAnonymous: 401,
        });
        await store.setAcls(added.location, { context });
        await store.delete(added.location, { context });
        await expect(store.getSize(added.location, { context })).rejects.toMatchObject({
          code: 'NotFound',
        });
      } finally {
        await store.close();
      }
    });
  },
);
