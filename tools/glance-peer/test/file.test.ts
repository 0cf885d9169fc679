import { createReadStream } from 'node:fs';
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
  dir = await mkdtemp(join(tmpdir(), 'store-interop-file-'));
  // One config file, read by both glance_store and @store.
  ({ store, glance } = await sharedConfig(dir, [
    '[DEFAULT]',
    'enabled_backends = fast:file, slow:file',
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

const unusualIds = ['plain-id', 'with space', 'ünïcødé-id', 'per%25cent', 'plus+at@colon:x'];

describe('file: glance_store and @store read each other', () => {
  for (const backend of ['fast', 'slow']) {
    for (const imageId of unusualIds) {
      it(`${backend}: an image added by glance_store (${imageId}) is read, sized and deleted by @store`, async () => {
        const data = patternBytes(300_000, imageId.length);
        const source = join(dir, `src-${backend}-${imageId.length}`);
        await writeFile(source, data);
        const added = await glance('add', backend, `g-${imageId}`, source);
        expect(added.error).toBeUndefined();
        expect(added.metadata).toEqual({ store: backend });
        const got = await store.get(added.location!);
        const bytes = await collect(got.stream);
        expect(digest('md5', bytes)).toBe(added.checksum);
        expect(digest('sha512', bytes)).toBe(added.multihash);
        expect(await store.getSize(added.location!)).toBe(data.byteLength);
        expect(store.canonicalLocation(added.location!)).toBe(added.location);
        await store.delete(added.location!);
        const after = await glance('get', added.location!, '--backend', backend);
        expect(after.error).toBe('NotFound');
      });

      it(`${backend}: an image added by @store (${imageId}) is read and sized by glance_store`, async () => {
        const data = patternBytes(200_001, imageId.length + 7);
        const source = join(dir, `src2-${backend}-${imageId.length}`);
        await writeFile(source, data);
        const added = await store.add(`s-${imageId}`, createReadStream(source), data.byteLength, {
          backend,
        });
        const read = await glance('get', added.location, '--backend', backend);
        expect(read.error).toBeUndefined();
        expect(read.checksum).toBe(added.checksum);
        expect(read.multihash).toBe(added.multihash);
        const sized = await glance('size', added.location, '--backend', backend);
        expect(sized.size).toBe(data.byteLength);
        // glance_store also finds it without a backend, by scheme.
        expect((await glance('get', added.location)).multihash).toBe(added.multihash);
        const partial = await glance(
          'get',
          added.location,
          '--backend',
          backend,
          '--offset',
          '100',
          '--chunk-size',
          '1000',
        );
        const ours = await collect(
          (await store.get(added.location, { offset: 100, chunkSize: 1000 })).stream,
        );
        expect(partial.multihash).toBe(digest('sha512', ours));
      });
    }
  }

  it('both place an image in the same highest-priority directory of a multi-directory backend', async () => {
    const source = join(dir, 'prio-src');
    await writeFile(source, patternBytes(1000, 1));
    const theirs = await glance('add', 'slow', 'prio-g', source);
    const ours = await store.add('prio-s', createReadStream(source), 1000, { backend: 'slow' });
    expect(theirs.location).toBe(`file://${join(dir, 'slow-b')}/prio-g`);
    expect(ours.location).toBe(`file://${join(dir, 'slow-b')}/prio-s`);
  });
});
