/**
 * What the file backend does when its write side cannot be configured (glance_store's
 * configure_add failing: adding is disabled, images are still read and deleted), and
 * filesystem_store_legacy_datadirs (read-and-delete-only directories).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultiStore, type StoreConfig } from '@store/core';
import { collect } from '@store/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fileDriver from '../src/index.js';

let root: string;
const stores: MultiStore[] = [];

async function open(config: StoreConfig) {
  const store = await MultiStore.create(config, { drivers: [fileDriver] });
  stores.push(store);
  return store;
}

async function text(store: MultiStore, uri: string): Promise<string> {
  return Buffer.from(await collect((await store.get(uri)).stream)).toString();
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'store-file-degraded-'));
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a file backend whose write side fails', () => {
  it('a bad metadata file disables adding; images are still read and deleted, the other backend works', async () => {
    const dir = join(root, 'meta');
    await mkdir(dir);
    await writeFile(join(dir, 'old'), 'kept');
    const metaFile = join(root, 'meta.json');
    await writeFile(metaFile, '{not json');
    const store = await open({
      enabledBackends: { ro: 'file', rw: 'file' },
      defaultBackend: 'ro',
      backends: {
        ro: { filesystem_store_datadir: dir, filesystem_store_metadata_file: metaFile },
        rw: { filesystem_store_datadir: join(root, 'meta-rw') },
      },
    });
    const [state] = store.backendStates;
    expect(state).toMatchObject({ id: 'ro', state: 'add-disabled' });
    expect(state!.reason).toContain(`metadata file ${metaFile} cannot be used`);
    expect(store.backend('ro').capabilityNames).not.toContain('WRITE_ACCESS');
    expect(await text(store, `file://${dir}/old`)).toBe('kept');
    await expect(store.add('new', Buffer.from('x'), 1)).rejects.toMatchObject({
      code: 'StoreAddDisabled',
      message: expect.stringContaining('metadata file'),
    });
    expect((await store.add('new', Buffer.from('x'), 1, { backend: 'rw' })).backend).toBe('rw');
    // Deleting needs WRITE_ACCESS in glance_store too: refused while adding is disabled.
    await expect(store.delete(`file://${dir}/old`)).rejects.toMatchObject({
      code: 'StoreDeleteNotSupported',
    });
  });

  it('a data directory that cannot be created disables adding, not the store', async () => {
    const blocker = join(root, 'a-file');
    await writeFile(blocker, '');
    const store = await open({
      enabledBackends: { gone: 'file', ok: 'file' },
      defaultBackend: 'ok',
      backends: {
        gone: { filesystem_store_datadir: join(blocker, 'images') },
        ok: { filesystem_store_datadir: join(root, 'ok') },
      },
    });
    expect(store.backendStates).toEqual([
      {
        id: 'gone',
        type: 'file',
        state: 'add-disabled',
        reason: expect.stringContaining('cannot write to data directory'),
      },
      { id: 'ok', type: 'file', state: 'enabled' },
    ]);
    await expect(
      store.getSize(`file://${blocker}/images/x`, { backend: 'gone' }),
    ).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('misconfigured directories disable the backend; alone, create fails', async () => {
    await expect(
      open({
        enabledBackends: { b: 'file' },
        backends: { b: { filesystem_store_datadirs: [`${root}/x:high`] } },
      }),
    ).rejects.toThrow(/^No backend is usable: 'b' \(.*invalid priority 'high'/);
  });

  // Mounting a read-only tmpfs needs root (as the fault suite's small filesystem).
  const mountable = process.getuid?.() === 0;

  it.skipIf(!mountable)(
    'a read-only filesystem: reads work, add is refused naming why',
    async () => {
      const dir = join(root, 'ro-mount');
      await mkdir(dir);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
      try {
        await writeFile(join(dir, 'img'), 'on a read-only disk');
        execFileSync('mount', ['-o', 'remount,ro', dir]);
        const store = await open({
          enabledBackends: { ro: 'file' },
          defaultBackend: 'ro',
          backends: { ro: { filesystem_store_datadir: dir } },
        });
        expect(store.backendStates[0]).toMatchObject({
          state: 'add-disabled',
          reason: expect.stringMatching(/cannot write to data directory .*EROFS/),
        });
        expect(await text(store, `file://${dir}/img`)).toBe('on a read-only disk');
        expect(await store.getSize(`file://${dir}/img`)).toBe(19);
        await expect(store.add('new', Buffer.from('x'), 1)).rejects.toMatchObject({
          code: 'StoreAddDisabled',
          message: expect.stringContaining('EROFS'),
        });
        await store.close();
      } finally {
        execFileSync('umount', [dir]);
      }
    },
  );
});

describe('filesystem_store_legacy_datadirs', () => {
  it('reads and deletes flat files in a directory no longer configured; adds go to the data directory', async () => {
    const old = join(root, 'legacy-old');
    const now = join(root, 'legacy-now');
    await mkdir(join(old, 'sub'), { recursive: true });
    await writeFile(join(old, 'img-1'), 'from the old days');
    await writeFile(join(old, 'sub', 'nested'), 'not flat');
    await writeFile(join(root, 'outside'), 'outside');
    await symlink(join(root, 'outside'), join(old, 'link'));
    const config = (legacy?: string[]): StoreConfig => ({
      enabledBackends: { f: 'file' },
      defaultBackend: 'f',
      backends: {
        f: {
          filesystem_store_datadir: now,
          ...(legacy ? { filesystem_store_legacy_datadirs: legacy } : {}),
        },
      },
    });
    // Without the option, the old location is NotFound and cannot be deleted (the safety stays).
    const before = await open(config());
    await expect(before.getSize(`file://${old}/img-1`)).rejects.toMatchObject({ code: 'NotFound' });
    await expect(before.delete(`file://${old}/img-1`)).rejects.toMatchObject({ code: 'NotFound' });

    const store = await open(config([old]));
    expect(await text(store, `file://${old}/img-1`)).toBe('from the old days');
    for (const notFlat of [`${old}/sub/nested`, `${old}/link`]) {
      await expect(store.getSize(`file://${notFlat}`), notFlat).rejects.toMatchObject({
        code: 'NotFound',
      });
    }
    const added = await store.add('img-2', Buffer.from('new'), 3);
    expect(added.location).toBe(`file://${now}/img-2`);
    await store.delete(`file://${old}/img-1`);
    await expect(store.getSize(`file://${old}/img-1`)).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('refuses a relative directory, naming the option', async () => {
    await expect(
      open({
        enabledBackends: { f: 'file' },
        backends: {
          f: {
            filesystem_store_datadir: join(root, 'rel'),
            filesystem_store_legacy_datadirs: ['images/old'],
          },
        },
      }),
    ).rejects.toThrow(/filesystem_store_legacy_datadirs' needs absolute directories/);
  });
});
