// glance_store (Debian's python3-rbd / python3-rados) and @store/rbd read one INI
// file and each other's images in the test cluster's rbd pool, both ways, with
// matching md5 and sha512, and delete each other's images (protected snapshot included).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MultiStore } from '@store/core';
import { chunked, collect, digest, patternBytes, serviceEnv } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SharedConfig, sharedConfig } from './peer.js';

const env = serviceEnv('ceph (rbd)', [
  'STORE_TEST_CEPH_CONF',
  'STORE_TEST_CEPH_USER',
  'STORE_TEST_RBD_POOL',
  'STORE_TEST_CEPH_FSID',
] as const);

const run = promisify(execFile);
const MiB = 1024 * 1024;

describe.skipIf(!env)('rbd: glance_store and @store read each other', () => {
  const prefix = `interop-${randomUUID().slice(0, 8)}-`;
  let dir: string;
  let glance: SharedConfig['glance'];
  let store: MultiStore;

  async function rbd(...args: string[]): Promise<string> {
    const base = ['--conf', env!.STORE_TEST_CEPH_CONF, '--id', env!.STORE_TEST_CEPH_USER];
    return (await run('rbd', [...base, ...args])).stdout;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-interop-rbd-'));
    // One config file, read by both glance_store and @store; 1 MiB objects so a few
    // MiB span several.
    ({ store, glance } = await sharedConfig(dir, [
      '[DEFAULT]',
      'enabled_backends = ceph:rbd',
      '[glance_store]',
      'default_backend = ceph',
      '[ceph]',
      `rbd_store_pool = ${env!.STORE_TEST_RBD_POOL}`,
      `rbd_store_user = ${env!.STORE_TEST_CEPH_USER}`,
      `rbd_store_ceph_conf = ${env!.STORE_TEST_CEPH_CONF}`,
      'rbd_store_chunk_size = 1',
    ]));
  });

  afterAll(async () => {
    await store?.close();
    // Whatever a failed test left behind (memstore keeps images in RAM).
    const names = JSON.parse(
      await rbd('ls', '--format', 'json', '-p', env!.STORE_TEST_RBD_POOL),
    ) as string[];
    for (const name of names.filter((n) => n.startsWith(prefix))) {
      const spec = `${env!.STORE_TEST_RBD_POOL}/${name}`;
      await rbd('snap', 'unprotect', `${spec}@snap`).catch(() => undefined);
      await rbd('snap', 'purge', '--no-progress', spec);
      await rbd('rm', '--no-progress', spec);
    }
    await rm(dir, { recursive: true, force: true });
  });

  for (const suffix of ['plain', 'with space', 'ünïcødé', 'per%cent']) {
    it(`an image added by glance_store (${suffix}) is read, sized and deleted by @store`, async () => {
      const data = patternBytes(3 * MiB + 11, suffix.length);
      const source = join(dir, `g-${suffix.length}`);
      await writeFile(source, data);
      const added = await glance('add', 'ceph', `${prefix}g-${suffix}`, source);
      expect(added.error).toBeUndefined();
      expect(added.location).toMatch(new RegExp(`^rbd://${env!.STORE_TEST_CEPH_FSID}/`));
      expect(store.canonicalLocation(added.location!)).toBe(added.location);
      const bytes = await collect((await store.get(added.location!)).stream);
      expect(digest('md5', bytes)).toBe(added.checksum);
      expect(digest('sha512', bytes)).toBe(added.multihash);
      expect(await store.getSize(added.location!)).toBe(data.byteLength);
      const part = await collect(
        (await store.get(added.location!, { offset: MiB - 5, chunkSize: 10 })).stream,
      );
      expect(Buffer.compare(part, Buffer.from(data.subarray(MiB - 5, MiB + 5)))).toBe(0);
      await store.delete(added.location!);
      const after = await glance('size', added.location!, '--backend', 'ceph');
      expect(after.error).toBe('NotFound');
    });

    it(`an image added by @store (${suffix}) is read, sized and deleted by glance_store`, async () => {
      const data = patternBytes(2 * MiB + 3, suffix.length + 7);
      const source = join(dir, `s-${suffix.length}`);
      await writeFile(source, data);
      const added = await store.add(
        `${prefix}s-${suffix}`,
        createReadStream(source),
        data.byteLength,
      );
      const read = await glance('get', added.location, '--backend', 'ceph');
      expect(read.error).toBeUndefined();
      expect(read.checksum).toBe(added.checksum);
      expect(read.multihash).toBe(added.multihash);
      const sized = await glance('size', added.location, '--backend', 'ceph');
      expect(sized.size).toBe(data.byteLength);
      // glance_store's delete unprotects and removes the snapshot @store made.
      const deleted = await glance('delete', added.location, '--backend', 'ceph');
      expect(deleted.error).toBeUndefined();
      await expect(store.getSize(added.location)).rejects.toMatchObject({ code: 'NotFound' });
    });
  }

  it('an image of unknown size added by @store reads back in glance_store with the same checksums', async () => {
    const data = patternBytes(5 * MiB + 1, 99);
    const added = await store.add(`${prefix}unknown`, chunked(data), 0);
    expect(added.size).toBe(data.byteLength);
    const read = await glance('get', added.location);
    expect(read.bytes).toBe(data.byteLength);
    expect(read.multihash).toBe(added.multihash);
    await store.delete(added.location);
  });

  it('both refuse an id that exists already with Duplicate', async () => {
    const source = join(dir, 'dup');
    await writeFile(source, patternBytes(1000, 5));
    const ours = await store.add(`${prefix}dup`, createReadStream(source), 1000);
    const theirs = await glance('add', 'ceph', `${prefix}dup`, source);
    expect(theirs.error).toBe('Duplicate');
    expect((await glance('get', ours.location)).checksum).toBe(ours.checksum);
    await store.delete(ours.location);
  });
});
