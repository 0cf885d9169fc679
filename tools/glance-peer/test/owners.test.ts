/**
 * Which backend owns a location, without I/O: @store's MultiStore.backendsFor
 * against glance_store's url_prefix values (what Glance's store_utils matches to
 * attach a store id to a legacy location), on one config read by both.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MultiStore } from '@store/core';
import { serviceEnv } from '@store/testkit';
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

const services = serviceEnv('ceph (rbd) and radosgw (S3, Swift)', [
  'STORE_TEST_CEPH_CONF',
  'STORE_TEST_CEPH_USER',
  'STORE_TEST_CEPH_FSID',
  'STORE_TEST_RBD_POOL',
  'STORE_TEST_S3_ENDPOINT',
  'STORE_TEST_S3_ACCESS_KEY',
  'STORE_TEST_S3_SECRET_KEY',
  'STORE_TEST_SWIFT_AUTH_URL',
  'STORE_TEST_SWIFT_USER',
  'STORE_TEST_SWIFT_KEY',
] as const);

/**
 * Opens one config read by both sides, adds a 3-byte image through @store to
 * each of `backends`, and gives their locations; `close` deletes them.
 */
async function withImages(name: string, lines: string[], backends: string[]) {
  const where = await mkdtemp(join(tmpdir(), `store-interop-owners-${name}-`));
  const shared = await sharedConfig(where, lines);
  const added: Record<string, string> = {};
  for (const backend of backends) {
    const imageId = `owners-${randomUUID()}`;
    added[backend] = (
      await shared.store.add(imageId, [new Uint8Array([1, 2, 3])], 3, { backend })
    ).location;
  }
  return {
    ...shared,
    added,
    owners: async (uri: string) => (await shared.glance('owners', uri)).owners as string[],
    async close() {
      for (const [backend, location] of Object.entries(added))
        await shared.store.delete(location, { backend }).catch(() => undefined);
      await shared.store.close();
      await rm(where, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!services)(
  'backendsFor agrees with glance_store url_prefix: s3',
  { timeout: 60_000 },
  () => {
    const bucketOf = {
      one: `store-owners-${randomUUID().slice(0, 8)}`,
      two: `store-owners-${randomUUID().slice(0, 8)}`,
    };
    let side: Awaited<ReturnType<typeof withImages>>;
    const section = (name: 'one' | 'two') => [
      `[${name}]`,
      `s3_store_host = ${services!.STORE_TEST_S3_ENDPOINT}`,
      `s3_store_access_key = ${services!.STORE_TEST_S3_ACCESS_KEY}`,
      `s3_store_secret_key = ${services!.STORE_TEST_S3_SECRET_KEY}`,
      `s3_store_bucket = ${bucketOf[name]}`,
      's3_store_create_bucket_on_put = true',
    ];
    beforeAll(async () => {
      side = await withImages(
        's3',
        [
          '[DEFAULT]',
          'enabled_backends = one:s3, two:s3',
          '[glance_store]',
          'default_backend = one',
          ...section('one'),
          ...section('two'),
        ],
        ['one', 'two'],
      );
    });
    afterAll(async () => {
      await side?.close();
    });
    const host = () => services!.STORE_TEST_S3_ENDPOINT.replace(/^https?:\/\//, '');
    const keys = () =>
      `${services!.STORE_TEST_S3_ACCESS_KEY}:${services!.STORE_TEST_S3_SECRET_KEY}`;

    it('both name the backend that stored each image', async () => {
      expect(await side.owners(side.added.one!)).toEqual(['one']);
      expect(side.store.backendsFor(side.added.one!)).toEqual(['one']);
      expect(await side.owners(side.added.two!)).toEqual(['two']);
      expect(side.store.backendsFor(side.added.two!)).toEqual(['two']);
    });

    it.each([
      ["the first backend's image", () => side.added.one!],
      ["the second backend's image", () => side.added.two!],
      ['another bucket', () => `s3://${keys()}@${host()}/store-owners-other/img`],
      ['another host', () => `s3://${keys()}@s3.other.test/${bucketOf.one}/img`],
      ['junk', () => 's3://'],
      ['another scheme', () => `rbd://fsid/${bucketOf.one}/img/snap`],
    ])('%s', async (_what, uri) => {
      expect(side.store.backendsFor(uri())).toEqual(await side.owners(uri()));
    });

    it('deliberate: other keys on the same host and bucket are still its bucket (glance_store prefixes its keys)', async () => {
      const uri = `s3://OTHER:other@${host()}/${bucketOf.two}/img`;
      expect(await side.owners(uri)).toEqual([]);
      expect(side.store.backendsFor(uri)).toEqual(['two']);
    });

    it('deliberate: a bucket sharing a name prefix is not owned (glance_store compares strings)', async () => {
      const uri = `s3://${keys()}@${host()}/${bucketOf.one}-old/img`;
      expect(await side.owners(uri)).toEqual(['one']);
      expect(side.store.backendsFor(uri)).toEqual([]);
    });
  },
);

describe.skipIf(!services)(
  'backendsFor agrees with glance_store url_prefix: rbd',
  { timeout: 60_000 },
  () => {
    const otherPool = `owners-pool-${randomUUID().slice(0, 8)}`;
    let side: Awaited<ReturnType<typeof withImages>>;
    const section = (name: string, pool: string) => [
      `[${name}]`,
      `rbd_store_pool = ${pool}`,
      `rbd_store_user = ${services!.STORE_TEST_CEPH_USER}`,
      `rbd_store_ceph_conf = ${services!.STORE_TEST_CEPH_CONF}`,
    ];
    beforeAll(async () => {
      side = await withImages(
        'rbd',
        [
          '[DEFAULT]',
          'enabled_backends = one:rbd, two:rbd',
          '[glance_store]',
          'default_backend = one',
          ...section('one', services!.STORE_TEST_RBD_POOL),
          ...section('two', otherPool),
        ],
        ['one'],
      );
    });
    afterAll(async () => {
      await side?.close();
    });
    const fsid = () => services!.STORE_TEST_CEPH_FSID;

    it('the url_prefix values are the ones this test expects', async () => {
      const { stores } = (await side.glance('stores')) as {
        stores: Record<string, { urlPrefix: string }>;
      };
      expect(stores.one!.urlPrefix).toBe(`rbd://${fsid()}/${services!.STORE_TEST_RBD_POOL}/`);
      expect(stores.two!.urlPrefix).toBe(`rbd://${fsid()}/${otherPool}/`);
    });

    it('both name the backend that stored each image', async () => {
      expect(await side.owners(side.added.one!)).toEqual(['one']);
      expect(side.store.backendsFor(side.added.one!)).toEqual(['one']);
    });

    it.each([
      ["the first backend's image", () => side.added.one!],
      ["an image in the second backend's pool", () => `rbd://${fsid()}/${otherPool}/img/snap`],
      ['another pool', () => `rbd://${fsid()}/owners-nopool/img/snap`],
      ['another cluster', () => `rbd://${randomUUID()}/${services!.STORE_TEST_RBD_POOL}/img/snap`],
      ['a legacy location naming no cluster', () => 'rbd://img'],
      ['junk', () => 'rbd://'],
      ['another scheme', () => `file:///${services!.STORE_TEST_RBD_POOL}/img`],
    ])('%s', async (_what, uri) => {
      expect(side.store.backendsFor(uri())).toEqual(await side.owners(uri()));
    });
  },
);

describe.skipIf(!services)(
  'backendsFor agrees with glance_store url_prefix: swift',
  { timeout: 60_000 },
  () => {
    const containerOf = {
      ref: `store-owners-ref-${randomUUID().slice(0, 8)}`,
      creds: `store-owners-creds-${randomUUID().slice(0, 8)}`,
    };
    let side: Awaited<ReturnType<typeof withImages>>;
    let accounts: string;
    const host = () => services!.STORE_TEST_SWIFT_AUTH_URL.replace(/^https?:\/\//, '');
    const user = () => encodeURIComponent(services!.STORE_TEST_SWIFT_USER);
    beforeAll(async () => {
      accounts = join(
        await mkdtemp(join(tmpdir(), 'store-interop-owners-accounts-')),
        'swift.conf',
      );
      await writeFile(
        accounts,
        [
          '[ref1]',
          `auth_address = ${services!.STORE_TEST_SWIFT_AUTH_URL}`,
          `user = ${services!.STORE_TEST_SWIFT_USER}`,
          `key = ${services!.STORE_TEST_SWIFT_KEY}`,
          'auth_version = 1',
          '',
        ].join('\n'),
      );
      side = await withImages(
        'swift',
        [
          '[DEFAULT]',
          'enabled_backends = ref:swift, creds:swift',
          '[glance_store]',
          'default_backend = ref',
          '[ref]',
          `swift_store_config_file = ${accounts}`,
          'default_swift_reference = ref1',
          `swift_store_container = ${containerOf.ref}`,
          'swift_store_create_container_on_put = true',
          '[creds]',
          `swift_store_auth_address = ${services!.STORE_TEST_SWIFT_AUTH_URL}`,
          `swift_store_user = ${services!.STORE_TEST_SWIFT_USER}`,
          `swift_store_key = ${services!.STORE_TEST_SWIFT_KEY}`,
          'swift_store_auth_version = 1',
          `swift_store_container = ${containerOf.creds}`,
          'swift_store_create_container_on_put = true',
        ],
        ['ref', 'creds'],
      );
    });
    afterAll(async () => {
      await side?.close();
      for (const container of Object.values(containerOf)) await swiftDelete(`/${container}`);
      if (accounts) await rm(join(accounts, '..'), { recursive: true, force: true });
    });

    /** Deletes a container (empty after close) straight through radosgw's Swift API. */
    async function swiftDelete(path: string): Promise<void> {
      const auth = await fetch(services!.STORE_TEST_SWIFT_AUTH_URL, {
        headers: {
          'x-auth-user': services!.STORE_TEST_SWIFT_USER,
          'x-auth-key': services!.STORE_TEST_SWIFT_KEY,
        },
      });
      await fetch(`${auth.headers.get('x-storage-url')}${path}`, {
        method: 'DELETE',
        headers: { 'x-auth-token': auth.headers.get('x-auth-token')! },
      });
    }

    it('both name the backend that stored each image', async () => {
      expect(await side.owners(side.added.ref!)).toEqual(['ref']);
      expect(side.store.backendsFor(side.added.ref!)).toEqual(['ref']);
      expect(await side.owners(side.added.creds!)).toEqual(['creds']);
      expect(side.store.backendsFor(side.added.creds!)).toEqual(['creds']);
    });

    it.each([
      ["the reference backend's image", () => side.added.ref!],
      ["the credentials backend's image", () => side.added.creds!],
      ['another container of the reference', () => 'swift+config://ref1/store-owners-other/img'],
      ['another reference', () => `swift+config://nosuchref/${containerOf.ref}/img`],
      [
        'another host',
        () => `swift+http://${user()}:k@swift.other.test/auth/1.0/${containerOf.creds}/img`,
      ],
      ['another user', () => `swift+http://other%3Auser:k@${host()}/${containerOf.creds}/img`],
      ['junk', () => 'swift+config://'],
      ['another scheme', () => `s3://k:s@${host()}/${containerOf.creds}/img`],
    ])('%s', async (_what, uri) => {
      expect(side.store.backendsFor(uri())).toEqual(await side.owners(uri()));
    });

    it('deliberate: another key for the same user and container is still its container (glance_store prefixes its key)', async () => {
      const uri = `swift+http://${user()}:other-key@${host()}/${containerOf.creds}/img`;
      expect(await side.owners(uri)).toEqual([]);
      expect(side.store.backendsFor(uri)).toEqual(['creds']);
    });

    it("deliberate: the reference backend's account named by credentials is its account (glance_store prefixes swift+config only)", async () => {
      const uri = `swift+http://${user()}:k@${host()}/${containerOf.ref}/img`;
      expect(await side.owners(uri)).toEqual([]);
      expect(side.store.backendsFor(uri)).toEqual(['ref']);
    });
  },
);
