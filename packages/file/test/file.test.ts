import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultiStore, type StoreConfig } from '@store/core';
import { chunked, collect, digest, patternBytes } from '@store/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fileDriver, { parseFileLocation, TEMP_PREFIX } from '../src/index.js';

let root: string;
const stores: MultiStore[] = [];

async function open(config: StoreConfig, reservedStores?: Record<string, string>) {
  const store = await MultiStore.create(config, {
    drivers: [fileDriver],
    ...(reservedStores ? { reservedStores } : {}),
  });
  stores.push(store);
  return store;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'no error';
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'store-file-'));
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('locations', () => {
  it('parses file:// and filesystem:// as glance_store does, and refuses bad ones', () => {
    expect(parseFileLocation('file:///var/lib/glance/images/abc').path).toBe(
      '/var/lib/glance/images/abc',
    );
    expect(parseFileLocation('filesystem:///x/y').uri).toBe('file:///x/y');
    for (const bad of ['file://', 'file:///', 's3://x', 'file://relative/x', 'file:///a\0b']) {
      if (bad === 'file:///') continue;
      expect(() => parseFileLocation(bad)).toThrow(/location/i);
    }
  });
});

describe('multi-backend with fast:file, slow:file and a reserved store', () => {
  it('stores, reads (whole, offset, chunk), sizes and deletes in each backend', async () => {
    const fast = join(root, 'fast');
    const slow = join(root, 'slow');
    const staging = join(root, 'staging');
    const store = await open(
      {
        enabledBackends: { fast: 'file', slow: 'file' },
        defaultBackend: 'fast',
        backends: {
          fast: { filesystem_store_datadir: fast, store_description: 'Fast disks' },
          slow: { filesystem_store_datadir: slow },
          os_glance_staging_store: { filesystem_store_datadir: staging },
        },
      },
      { os_glance_staging_store: 'file' },
    );
    expect(store.backends.map((b) => [b.id, b.isDefault, b.reserved, b.capabilities])).toEqual([
      ['fast', true, false, 79],
      ['slow', false, false, 79],
      ['os_glance_staging_store', false, true, 79],
    ]);
    expect(store.backend('fast').description).toBe('Fast disks');
    store.verifyDefault();
    const data = patternBytes(2 * 1024 * 1024 + 3, 9);
    for (const backend of ['fast', 'slow', 'os_glance_staging_store', undefined]) {
      const imageId = `img-${backend ?? 'default'}`;
      const added = await store.add(
        imageId,
        chunked(data),
        data.byteLength,
        backend ? { backend } : {},
      );
      const dir =
        backend === 'slow' ? slow : backend === 'os_glance_staging_store' ? staging : fast;
      expect(added.location).toBe(`file://${dir}/${imageId}`);
      expect(added.metadata).toEqual({ store: backend ?? 'fast' });
      expect(added.multihash).toBe(digest('sha512', data));
      // Without naming the backend, the manager finds it by scheme across both file backends.
      expect(
        Buffer.compare(await collect((await store.get(added.location)).stream), Buffer.from(data)),
      ).toBe(0);
      const part = await store.get(added.location, { offset: 1000, chunkSize: 5000 });
      expect(part.size).toBe(5000);
      expect(
        Buffer.compare(await collect(part.stream), Buffer.from(data.subarray(1000, 6000))),
      ).toBe(0);
      const tail = await store.get(added.location, { offset: data.byteLength - 10 });
      expect((await collect(tail.stream)).byteLength).toBe(10);
      expect(await store.getSize(added.location)).toBe(data.byteLength);
      await store.delete(added.location);
      expect(await codeOf(store.getSize(added.location))).toBe('NotFound');
    }
    expect(await codeOf(store.get(`file://${slow}/img-slow`, { backend: 'fast' }))).toBe(
      'NotFound',
    );
    expect(await codeOf(store.add('x', new Uint8Array(1), 1, { backend: 'nope' }))).toBe(
      'UnknownScheme',
    );
    expect(await codeOf(store.get('s3://a:b@h/b/k'))).toBe('UnknownScheme');
  });

  it('gives a reserved file store the /var/lib/glance/<id> default', () => {
    const spec = fileDriver.options.find((o) => o.name === 'filesystem_store_datadir')!;
    expect(spec.reservedDefault!('os_glance_tasks_store')).toBe(
      '/var/lib/glance/os_glance_tasks_store',
    );
  });
});

describe('data directories', () => {
  it('writes to the highest-priority directory with room', async () => {
    const low = join(root, 'prio-low');
    const high = join(root, 'prio-high');
    const store = await open({
      enabledBackends: { multi: 'file' },
      backends: { multi: { filesystem_store_datadirs: [`${low}:10`, `${high}:200`] } },
    });
    const { location } = await store.add('p1', patternBytes(100, 1), 100, { backend: 'multi' });
    expect(location).toBe(`file://${high}/p1`);
  });

  it('skips a full directory for a lower-priority one, and raises StorageFull when none has room', async () => {
    const small = join(root, 'tmpfs-small');
    const big = join(root, 'big');
    await mkdir(small, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
    try {
      const store = await open({
        enabledBackends: { multi: 'file', tiny: 'file' },
        backends: {
          multi: { filesystem_store_datadirs: [`${small}:100`, `${big}:1`] },
          tiny: { filesystem_store_datadir: small },
        },
      });
      const image = patternBytes(3 * 1024 * 1024, 2);
      const placed = await store.add('big-image', image, image.byteLength, { backend: 'multi' });
      expect(placed.location).toBe(`file://${big}/big-image`);
      // Unknown size: the write itself hits ENOSPC, and nothing is left behind.
      expect(await codeOf(store.add('too-big', chunked(image), 0, { backend: 'tiny' }))).toBe(
        'StorageFull',
      );
      expect(await readdir(small)).toEqual([]);
    } finally {
      execFileSync('umount', [small]);
    }
  });

  it('refuses both datadir options at once, bad priorities and unwritable directories', async () => {
    const both = open({
      enabledBackends: { b: 'file' },
      backends: {
        b: { filesystem_store_datadir: root, filesystem_store_datadirs: [`${root}/x:1`] },
      },
    });
    await expect(both).rejects.toThrow(
      /either 'filesystem_store_datadir' or 'filesystem_store_datadirs'/,
    );
    const prio = open({
      enabledBackends: { b: 'file' },
      backends: { b: { filesystem_store_datadirs: [`${root}/x:high`] } },
    });
    await expect(prio).rejects.toMatchObject({
      code: 'BadStoreConfiguration',
      message: expect.stringContaining('priority'),
    });
    const chunk = open({
      enabledBackends: { b: 'file' },
      backends: { b: { filesystem_store_datadir: root, filesystem_store_chunk_size: '0' } },
    });
    await expect(chunk).rejects.toMatchObject({
      code: 'BadStoreConfiguration',
      message: "Backend 'b': option 'filesystem_store_chunk_size' must be >= 1, got 0",
    });
  });
});

describe('writes', () => {
  it('refuses image ids that would escape the data directory', async () => {
    const store = await open({
      enabledBackends: { l: 'file' },
      defaultBackend: 'l',
      backends: { l: { filesystem_store_datadir: join(root, 'esc') } },
    });
    for (const id of [
      '../x',
      '/etc/passwd',
      'a/b',
      '..',
      '.',
      'a\\b',
      `${TEMP_PREFIX}x`,
      'x'.repeat(256),
    ]) {
      expect(await codeOf(store.add(id, new Uint8Array(1), 1)), id).toBe('Invalid');
    }
    expect(await codeOf(store.add('nul\0id', new Uint8Array(1), 1))).toBe('Invalid');
    expect(await readdir(join(root, 'esc'))).toEqual([]);
  });

  it('never shows a half-written image under its final name', async () => {
    const dir = join(root, 'atomic');
    const store = await open({
      enabledBackends: { l: 'file' },
      defaultBackend: 'l',
      backends: { l: { filesystem_store_datadir: dir } },
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow() {
      yield patternBytes(100_000, 1);
      await gate;
      yield patternBytes(100_000, 2);
    }
    const adding = store.add('atomic-1', slow(), 200_000);
    await new Promise((r) => setTimeout(r, 50));
    const during = await readdir(dir);
    expect(during).not.toContain('atomic-1');
    expect(during.some((n) => n.startsWith(TEMP_PREFIX))).toBe(true);
    release();
    await adding;
    expect(await readdir(dir)).toEqual(['atomic-1']);
  });

  it('applies filesystem_store_file_perm and the metadata file', async () => {
    const dir = join(root, 'perm');
    const metaFile = join(root, 'meta.json');
    await writeFile(metaFile, JSON.stringify([{ id: 'share-1', mountpoint: dir }]));
    const store = await open({
      enabledBackends: { l: 'file' },
      defaultBackend: 'l',
      backends: {
        l: {
          filesystem_store_datadir: dir,
          filesystem_store_file_perm: '640',
          filesystem_store_metadata_file: metaFile,
        },
      },
    });
    const added = await store.add('perm-1', new Uint8Array(10), 10);
    expect((await stat(join(dir, 'perm-1'))).mode & 0o777).toBe(0o640);
    expect(added.metadata).toEqual({ id: 'share-1', mountpoint: dir, store: 'l' });
    await writeFile(metaFile, JSON.stringify([{ id: 1 }]));
    // As glance_store's configure_add: a bad metadata file disables adding only.
    const readOnly = await open({
      enabledBackends: { l: 'file' },
      defaultBackend: 'l',
      backends: {
        l: { filesystem_store_datadir: dir, filesystem_store_metadata_file: metaFile },
      },
    });
    expect(readOnly.backend('l').addDisabledReason).toContain('needs string "id" and "mountpoint"');
    expect(await readOnly.getSize(added.location)).toBe(10);
  });

  it('leaves all-zero chunks as holes with thin provisioning', async () => {
    const dir = join(root, 'thin');
    const store = await open({
      enabledBackends: { l: 'file' },
      defaultBackend: 'l',
      backends: {
        l: {
          filesystem_store_datadir: dir,
          filesystem_thin_provisioning: true,
          filesystem_store_chunk_size: 65536,
        },
      },
    });
    const image = new Uint8Array(8 * 1024 * 1024);
    image.set(patternBytes(65536, 4), 1024 * 1024);
    const added = await store.add('sparse', chunked(image, [1_000_000]), 0);
    const info = await stat(join(dir, 'sparse'));
    expect(info.size).toBe(image.byteLength);
    expect(info.blocks * 512).toBeLessThan(image.byteLength / 4);
    expect(added.multihash).toBe(digest('sha512', image));
    expect(digest('sha512', await collect((await store.get(added.location)).stream))).toBe(
      added.multihash,
    );
  });
});
