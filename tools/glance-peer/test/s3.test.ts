// glance_store (boto3) and @store/s3 read one INI file and each other's images in
// radosgw, with keys containing '/' and '+' (carried unescaped in locations).
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MultiStore } from '@store/core';
import { collect, digest, patternBytes, serviceEnv } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SharedConfig, sharedConfig } from './peer.js';

const env = serviceEnv('ceph radosgw (S3) and radosgw-admin', [
  'STORE_TEST_S3_ENDPOINT',
  'STORE_TEST_S3_ACCESS_KEY',
  'STORE_TEST_S3_SECRET_KEY',
  'STORE_TEST_CEPH_CONF',
] as const);

const MiB = 1024 * 1024;
const run = promisify(execFile);

/** radosgw-admin on the test cluster. */
async function rgwAdmin(args: string[]): Promise<string> {
  const { stdout } = await run('radosgw-admin', ['-c', env!.STORE_TEST_CEPH_CONF, ...args]);
  return stdout;
}

describe.skipIf(!env)('s3: glance_store and @store read each other', () => {
  const uid = `store-interop-${randomUUID().slice(0, 8)}`;
  // A second user whose keys hold the characters S3 secrets may have: '/' and '+'.
  const accessKey = `SLASHPLUS${randomBytes(6).toString('hex').toUpperCase()}`;
  const secretKey = `a+b/c${randomBytes(12).toString('base64')}+/z`;
  const users = {
    main: {
      access: env?.STORE_TEST_S3_ACCESS_KEY ?? '',
      secret: env?.STORE_TEST_S3_SECRET_KEY ?? '',
    },
    slashplus: { access: accessKey, secret: secretKey },
  };
  const bucketOf = {
    main: `store-interop-${randomUUID().slice(0, 8)}`,
    slashplus: `store-interop-sp-${randomUUID().slice(0, 8)}`,
  };
  let dir: string;
  let glance: SharedConfig['glance'];
  let store: MultiStore;
  const cleanup: { location: string; backend: string }[] = [];

  beforeAll(async () => {
    await rgwAdmin([
      'user',
      'create',
      '--uid',
      uid,
      '--display-name',
      uid,
      '--access-key',
      accessKey,
      '--secret',
      secretKey,
    ]);
    dir = await mkdtemp(join(tmpdir(), 'store-interop-s3-'));
    const section = (name: 'main' | 'slashplus') => [
      `[${name}]`,
      `s3_store_host = ${env!.STORE_TEST_S3_ENDPOINT}`,
      `s3_store_access_key = ${users[name].access}`,
      `s3_store_secret_key = ${users[name].secret}`,
      `s3_store_bucket = ${bucketOf[name]}`,
      's3_store_create_bucket_on_put = true',
      // Multipart from 1 MiB in 5 MiB parts, for both implementations.
      's3_store_large_object_size = 1',
      's3_store_large_object_chunk_size = 5',
      's3_store_thread_pools = 4',
    ];
    // One config file, read by both glance_store and @store.
    ({ store, glance } = await sharedConfig(dir, [
      '[DEFAULT]',
      'enabled_backends = main:s3, slashplus:s3',
      '[glance_store]',
      'default_backend = main',
      ...section('main'),
      ...section('slashplus'),
    ]));
  });

  afterAll(async () => {
    for (const { location, backend } of cleanup)
      await store?.delete(location, { backend }).catch(() => undefined);
    await store?.close();
    for (const name of ['main', 'slashplus'] as const) {
      // Buckets are empty now; the peer has no bucket command, radosgw-admin does.
      await rgwAdmin(['bucket', 'rm', '--bucket', bucketOf[name], '--purge-objects']).catch(
        () => undefined,
      );
    }
    await rgwAdmin(['user', 'rm', '--uid', uid, '--purge-data']).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const backend of ['main', 'slashplus'] as const) {
    for (const [label, bytes] of [
      ['single PUT', 300_000],
      ['multipart', 6 * MiB + 5],
    ] as const) {
      it(`${backend}: a ${label} image added by glance_store is read, sized and deleted by @store`, async () => {
        const data = patternBytes(bytes, bytes % 13);
        const source = join(dir, `g-${backend}-${bytes}`);
        await writeFile(source, data);
        const imageId = `g-${randomUUID()}`;
        const added = await glance('add', backend, imageId, source);
        expect(added.error, added.message).toBeUndefined();
        // Keys unescaped in the location, exactly as @store writes them.
        const { access, secret } = users[backend];
        const host = env!.STORE_TEST_S3_ENDPOINT.replace(/^https?:\/\//, '');
        expect(added.location).toBe(
          `s3://${access}:${secret}@${host}/${bucketOf[backend]}/${imageId}`,
        );
        expect(store.canonicalLocation(added.location!)).toBe(added.location);
        const got = await store.get(added.location!, { backend });
        const read = await collect(got.stream);
        expect(digest('md5', read)).toBe(added.checksum);
        expect(digest('sha512', read)).toBe(added.multihash);
        expect(await store.getSize(added.location!, { backend })).toBe(bytes);
        const ranged = await collect(
          (await store.get(added.location!, { backend, offset: 100, chunkSize: 1000 })).stream,
        );
        expect(Buffer.compare(ranged, Buffer.from(data.subarray(100, 1100)))).toBe(0);
        await store.delete(added.location!, { backend });
        const after = await glance('get', added.location!, '--backend', backend);
        expect(after.error).toBe('NotFound');
      });

      it(`${backend}: a ${label} image added by @store is read, sized and deleted by glance_store`, async () => {
        const data = patternBytes(bytes, bytes % 17);
        const source = join(dir, `s-${backend}-${bytes}`);
        await writeFile(source, data);
        const imageId = `s-${randomUUID()}`;
        const added = await store.add(imageId, createReadStream(source), data.byteLength, {
          backend,
        });
        cleanup.push({ location: added.location, backend });
        const { access, secret } = users[backend];
        const host = env!.STORE_TEST_S3_ENDPOINT.replace(/^https?:\/\//, '');
        expect(added.location).toBe(
          `s3://${access}:${secret}@${host}/${bucketOf[backend]}/${imageId}`,
        );
        const read = await glance('get', added.location, '--backend', backend);
        expect(read.error, read.message).toBeUndefined();
        expect(read.checksum).toBe(added.checksum);
        expect(read.multihash).toBe(added.multihash);
        const sized = await glance('size', added.location, '--backend', backend);
        expect(sized.size).toBe(bytes);
        // glance_store refuses a second add of the same id, as @store does.
        const again = await glance('add', backend, imageId, source);
        expect(again.error).toBe('Duplicate');
        await expect(
          store.add(imageId, createReadStream(source), data.byteLength, { backend }),
        ).rejects.toMatchObject({ code: 'Duplicate' });
        const deleted = await glance('delete', added.location, '--backend', backend);
        expect(deleted.error).toBeUndefined();
        await expect(store.getSize(added.location, { backend })).rejects.toMatchObject({
          code: 'NotFound',
        });
        cleanup.pop();
      });
    }
  }

  it('neither shows the keys in a NotFound error', async () => {
    const location = `s3://${accessKey}:${secretKey}@${env!.STORE_TEST_S3_ENDPOINT.replace(/^https?:\/\//, '')}/${bucketOf.slashplus}/missing`;
    const err = await store.getSize(location, { backend: 'slashplus' }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toMatchObject({ code: 'NotFound' });
    expect(`${err!.message}\n${err!.stack}`).not.toContain(secretKey);
    expect(`${err!.message}\n${err!.stack}`).not.toContain(accessKey);
  });
});
