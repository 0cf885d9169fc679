/**
 * filesystem_store_file_perm as glance_store 4.1.0 reads it (filesystem.py):
 * ≤ 0 leaves files as created, the digits are octal (680 is an error), the owner
 * must keep read access, and setgid/sticky bits are kept. The same inputs are run
 * through glance_store itself in tools/glance-peer/test/file-perm.test.ts.
 */
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultiStore } from '@store/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fileDriver from '../src/index.js';
import { fileModeOf } from '../src/options.js';

describe('fileModeOf', () => {
  it.each([
    [0, undefined],
    [-1, undefined],
    [-640, undefined],
    [640, 0o640],
    [400, 0o400],
    [2750, 0o2750],
    [1644, 0o1644],
    [7777, 0o7777],
    [10640, 0o640], // chmod keeps the permission bits only, as the kernel does for glance_store
  ])('%d -> %s', (perm, mode) => {
    expect(fileModeOf('b', perm)).toBe(mode);
  });

  it.each([
    [680, /not octal/],
    [9, /not octal/],
    [200, /owner no read/],
    [1000, /owner no read/],
    [77777777777, /larger than any file mode/],
  ])('%d is refused', (perm, why) => {
    expect(() => fileModeOf('b', perm)).toThrow(
      expect.objectContaining({
        code: 'BadStoreConfiguration',
        message: expect.stringMatching(why),
      }),
    );
  });
});

describe('the file driver applies it', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'store-file-perm-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  async function addWith(perm: string, name: string): Promise<{ file: number; dir: number }> {
    const dir = join(root, name);
    // A private directory, so the execute bits granted for group/other show.
    await mkdir(dir, { mode: 0o700 });
    const store = await MultiStore.create(
      {
        enabledBackends: { f: 'file' },
        defaultBackend: 'f',
        backends: { f: { filesystem_store_datadir: dir, filesystem_store_file_perm: perm } },
      },
      { drivers: [fileDriver] },
    );
    try {
      await store.add('img', new Uint8Array(3), 3);
      return {
        file: (await stat(join(dir, 'img'))).mode & 0o7777,
        dir: (await stat(dir)).mode & 0o7777,
      };
    } finally {
      await store.close();
    }
  }

  it('-1 and 0 leave the file as created', async () => {
    const created = await addWith('0', 'zero');
    expect(await addWith('-1', 'minus-one')).toEqual(created);
    expect(created.dir).toBe(0o700);
  });

  it('2750 keeps setgid and grants the group execute on the directory', async () => {
    expect(await addWith('2750', 'setgid')).toEqual({ file: 0o2750, dir: 0o710 });
  });

  it('644 grants group and other execute on the directory', async () => {
    expect(await addWith('644', 'world')).toEqual({ file: 0o644, dir: 0o711 });
  });

  it('680 and 200 disable adding at start-up (as glance_store), naming the option', async () => {
    for (const perm of ['680', '200']) {
      await expect(addWith(perm, `bad-${perm}`)).rejects.toMatchObject({
        code: 'StoreAddDisabled',
        message: expect.stringContaining('filesystem_store_file_perm'),
      });
    }
  });
});
