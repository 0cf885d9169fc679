/**
 * The swift driver against radosgw's Swift API, beyond the contract suite: the
 * DLO layout glance_store writes, delete taking the segments along, account
 * references, configuration refusals, and re-authentication after a 401.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Logger, MultiStore, type StoreError } from '@store/core';
import { chunked, collect, digest, patternBytes, serviceEnv } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import swiftDriver, { GLANCE_MB } from '../src/index.js';
import {
  dropContainer,
  env,
  headObject,
  listContainer,
  scratchContainer,
  swiftOptions,
} from './radosgw.js';

const ceph = serviceEnv('ceph (radosgw config)', ['STORE_TEST_CEPH_CONF'] as const);

async function open(options: Record<string, string>, logger?: Logger): Promise<MultiStore> {
  return MultiStore.create(
    {
      enabledBackends: { objects: 'swift' },
      defaultBackend: 'objects',
      backends: { objects: options },
    },
    { drivers: [swiftDriver], ...(logger ? { logger } : {}) },
  );
}

async function failure(work: Promise<unknown>): Promise<StoreError> {
  try {
    await work;
  } catch (err) {
    return err as StoreError;
  }
  throw new Error('expected a failure');
}

describe.skipIf(!env)('swift against radosgw', () => {
  const container = scratchContainer('store-swift');
  // Segments from 1 MB in 1 MB segments (glance_store's MB: 1024 × 1000 bytes).
  const segmented = () =>
    swiftOptions(container, {
      swift_store_large_object_size: '1',
      swift_store_large_object_chunk_size: '1',
    });
  let store: MultiStore;

  beforeAll(async () => {
    store = await open(segmented());
  });
  afterAll(async () => {
    await store?.close();
    await dropContainer(container);
  });

  for (const declared of ['known', 'unknown'] as const) {
    it(`writes an image of ${declared} size as glance_store does: <id>-00001… segments and a DLO manifest`, async () => {
      const imageId = crypto.randomUUID();
      const data = patternBytes(2 * GLANCE_MB + 12_345, 3);
      const { location, size } = await store.add(
        imageId,
        chunked(data, [64 * 1024]),
        declared === 'known' ? data.byteLength : 0,
      );
      expect(size).toBe(data.byteLength);
      expect(location).toMatch(
        /^swift\+http:\/\/store-test%3Aswift:[^@]+@127\.0\.0\.1:\d+\/auth\/1\.0\//,
      );
      expect(location.endsWith(`/${container}/${imageId}`)).toBe(true);
      const names = (await listContainer(container)).filter((n) => n.startsWith(imageId));
      expect(names).toEqual([imageId, `${imageId}-00001`, `${imageId}-00002`, `${imageId}-00003`]);
      expect((await headObject(container, imageId))!.get('x-object-manifest')).toBe(
        `${container}/${imageId}-`,
      );
      expect(Number((await headObject(container, `${imageId}-00001`))!.get('content-length'))).toBe(
        GLANCE_MB,
      );
      expect(Number((await headObject(container, `${imageId}-00003`))!.get('content-length'))).toBe(
        12_345,
      );
      const got = await store.get(location);
      expect(got.size).toBe(data.byteLength);
      expect(digest('md5', await collect(got.stream))).toBe(digest('md5', data));
      // A range across a segment boundary.
      const part = await store.get(location, { offset: GLANCE_MB - 10, chunkSize: 20 });
      expect(Buffer.from(await collect(part.stream))).toEqual(
        Buffer.from(data.subarray(GLANCE_MB - 10, GLANCE_MB + 10)),
      );
      await store.delete(location);
      expect((await listContainer(container)).filter((n) => n.startsWith(imageId))).toEqual([]);
    });
  }

  it('deletes the segments of a manifest whose segments it did not write itself', async () => {
    const imageId = crypto.randomUUID();
    const small = await open(swiftOptions(container));
    try {
      // One object below the threshold, then turned into a DLO by hand over two segments.
      const { location } = await small.add(imageId, patternBytes(10, 1), 10);
      const { storageUrl, token } = await (await import('./radosgw.js')).adminSession();
      const put = (name: string, body: string, headers: Record<string, string> = {}) =>
        fetch(`${storageUrl}/${container}/${name}`, {
          method: 'PUT',
          body,
          headers: { 'x-auth-token': token, ...headers },
        });
      await put(`${imageId}-a`, 'aa');
      await put(`${imageId}-b`, 'bbb');
      await put(imageId, '', { 'x-object-manifest': `${container}/${imageId}-` });
      expect(await small.getSize(location)).toBe(5);
      await small.delete(location);
      expect((await listContainer(container)).filter((n) => n.startsWith(imageId))).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('writes swift+config locations when a swift_store_config_file names the account', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'store-swift-'));
    try {
      const file = join(dir, 'swift.conf');
      await writeFile(
        file,
        [
          '[main]',
          `auth_address = ${env!.STORE_TEST_SWIFT_AUTH_URL}`,
          `user = "${env!.STORE_TEST_SWIFT_USER}"`,
          `key = ${env!.STORE_TEST_SWIFT_KEY}`,
          'auth_version = 1',
          '[broken]',
          'user = nobody',
          '',
        ].join('\n'),
      );
      const referenced = await open({
        swift_store_config_file: file,
        default_swift_reference: 'main',
        swift_store_container: container,
        swift_store_create_container_on_put: 'true',
      });
      try {
        const imageId = crypto.randomUUID();
        const { location } = await referenced.add(imageId, patternBytes(100, 2), 100);
        expect(location).toBe(`swift+config://main/${container}/${imageId}`);
        expect(await referenced.getSize(location)).toBe(100);
        const broken = await failure(
          referenced.getSize(`swift+config://broken/${container}/${imageId}`),
        );
        expect(broken.code).toBe('BadStoreUri');
        await referenced.delete(location);
      } finally {
        await referenced.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to add to a missing container unless swift_store_create_container_on_put', async () => {
    const missing = scratchContainer('store-missing');
    const strict = await open(
      swiftOptions(missing, { swift_store_create_container_on_put: 'false' }),
    );
    try {
      const err = await failure(strict.add(crypto.randomUUID(), patternBytes(10, 1), 10));
      expect(err.code).toBe('BackendException');
      expect(err.message).toContain('swift_store_create_container_on_put');
    } finally {
      await strict.close();
    }
  });

  it('refuses Keystone auth versions it does not speak, multi-tenant mode with a config file, and bad keys without showing them', async () => {
    await expect(
      open(swiftOptions(container, { swift_store_auth_version: '2' })),
    ).rejects.toMatchObject({
      code: 'BadStoreConfiguration',
      message: expect.stringContaining('no longer serves it'),
    });
    // As glance_store: multi-tenant locations name a storage URL, never an account reference.
    await expect(
      open(
        swiftOptions(container, {
          swift_store_multi_tenant: 'true',
          swift_store_config_file: '/nonexistent/glance-swift.conf',
        }),
      ),
    ).rejects.toMatchObject({
      code: 'BadStoreConfiguration',
      message: expect.stringContaining('mutually exclusive'),
    });
    const wrong = await open(swiftOptions(container, { swift_store_key: 'WrongKeyValue123' }));
    try {
      const err = await failure(wrong.add(crypto.randomUUID(), patternBytes(10, 1), 10));
      expect(err.code).toBe('Forbidden');
      expect(JSON.stringify({ m: err.message, c: String(err.cause) })).not.toContain(
        'WrongKeyValue123',
      );
    } finally {
      await wrong.close();
    }
  });
});

describe.skipIf(!env || !ceph)('swift token refresh against radosgw', () => {
  const container = scratchContainer('store-swift-token');
  const run = promisify(execFile);
  const rgwConfig = (...args: string[]) =>
    run('ceph', [
      '-c',
      ceph!.STORE_TEST_CEPH_CONF,
      'config',
      ...args,
      'client.rgw.a',
      'rgw_swift_token_expiration',
      ...(args[0] === 'set' ? ['2'] : []),
    ]);
  const refreshes: string[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: (message: string) => refreshes.push(message),
    warn: () => undefined,
    error: () => undefined,
  };
  let store: MultiStore;

  beforeAll(async () => {
    // radosgw's tokens live 2 s for the duration of this test (the setting is read live).
    await rgwConfig('set');
    store = await open(
      swiftOptions(container, {
        swift_store_large_object_size: '1',
        swift_store_large_object_chunk_size: '1',
      }),
      logger,
    );
    // The ceph CLI can take more than vitest's 10 s on a loaded machine; a setting applied
    // late would leave tokens long-lived, one removed late would leave 2 s tokens to everyone.
  }, 120_000);
  afterAll(async () => {
    await rgwConfig('rm');
    await store?.close();
    await dropContainer(container);
  }, 120_000);

  it('authenticates again when radosgw answers 401 for an expired token, for every call', async () => {
    const small = patternBytes(1000, 7);
    const { location } = await store.add(crypto.randomUUID(), small, small.byteLength);
    const expire = () => new Promise((resolve) => setTimeout(resolve, 3000));
    await expire();
    expect(await store.getSize(location)).toBe(1000);
    await expire();
    expect(digest('md5', await collect((await store.get(location)).stream))).toBe(
      digest('md5', small),
    );
    await expire();
    // A streamed single PUT and a segmented add, each starting on an expired token.
    const again = await store.add(crypto.randomUUID(), chunked(small, [100]), small.byteLength);
    await expire();
    const big = patternBytes(GLANCE_MB + 5, 8);
    const segmentedAdd = await store.add(crypto.randomUUID(), chunked(big, [65536]), 0);
    await expire();
    for (const l of [location, again.location, segmentedAdd.location]) await store.delete(l);
    expect(await listContainer(container)).toEqual([]);
    expect(
      refreshes.filter((m) => m.includes('authenticating again')).length,
    ).toBeGreaterThanOrEqual(5);
  }, 60_000);
});
