/**
 * filesystem_store_file_perm through glance_store itself and through @store, on
 * the same inputs: the same accept or refuse, the same file mode, the same execute
 * bits granted on the data directory.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, MultiStore } from '@store/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISCOVERY, peer } from './peer.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'store-interop-perm-'));
  await writeFile(join(root, 'src'), 'abc');
});
afterAll(() => rm(root, { recursive: true, force: true }));

interface Outcome {
  /** 'added', or why not: 'refused' when the backend cannot add with this value. */
  result: 'added' | 'refused';
  file?: number;
  dir?: number;
}

/** A config with one file backend in a new private directory (0700). */
async function configFor(side: string, perm: string): Promise<{ path: string; dir: string }> {
  const dir = join(root, `${side}-${perm}`);
  await mkdir(dir, { mode: 0o700 });
  const path = join(root, `${side}-${perm}.conf`);
  await writeFile(
    path,
    [
      '[DEFAULT]',
      'enabled_backends = f:file',
      '[glance_store]',
      'default_backend = f',
      '[f]',
      `filesystem_store_datadir = ${dir}`,
      `filesystem_store_file_perm = ${perm}`,
      '',
    ].join('\n'),
  );
  return { path, dir };
}

async function modes(dir: string): Promise<{ file: number; dir: number }> {
  return {
    file: (await stat(join(dir, 'img'))).mode & 0o7777,
    dir: (await stat(dir)).mode & 0o7777,
  };
}

async function glanceStore(perm: string): Promise<Outcome & { error?: string }> {
  const { path, dir } = await configFor('glance', perm);
  const added = await peer(['--config', path, 'add', 'f', 'img', join(root, 'src')]);
  // ValueError: create_multi_stores fails; StoreAddDisabled: configure_add refused it.
  if (added.error) return { result: 'refused', error: added.error };
  return { result: 'added', ...(await modes(dir)) };
}

async function ours(perm: string): Promise<Outcome & { error?: string }> {
  const { path, dir } = await configFor('store', perm);
  let store: MultiStore;
  try {
    store = await MultiStore.create(await loadConfig(path), { discovery: DISCOVERY });
  } catch (err) {
    return { result: 'refused', error: (err as { code?: string }).code ?? String(err) };
  }
  try {
    await store.add('img', new Uint8Array([97, 98, 99]), 3);
    return { result: 'added', ...(await modes(dir)) };
  } catch (err) {
    return { result: 'refused', error: (err as { code?: string }).code ?? String(err) };
  } finally {
    await store.close();
  }
}

describe('filesystem_store_file_perm: glance_store and @store agree', () => {
  for (const perm of [
    '0',
    '-1',
    '-640',
    '640',
    '0640',
    '400',
    '644',
    '2750',
    '1644',
    '7777',
    '10640',
    '680',
    '9',
    '200',
    '1000',
  ]) {
    it(`${perm}: same accept/refuse and the same file and directory modes`, async () => {
      const [theirs, mine] = await Promise.all([glanceStore(perm), ours(perm)]);
      expect({ result: mine.result, file: mine.file, dir: mine.dir }).toEqual({
        result: theirs.result,
        file: theirs.file,
        dir: theirs.dir,
      });
      if (mine.result === 'refused')
        expect(['BadStoreConfiguration', 'StoreAddDisabled']).toContain(mine.error);
    });
  }

  it('a value too large for chmod: glance_store accepts it and fails at add after writing; @store disables adding at start-up', async () => {
    const perm = '77777777777';
    const [theirs, mine] = await Promise.all([glanceStore(perm), ours(perm)]);
    expect(theirs).toMatchObject({ result: 'refused', error: 'OverflowError' });
    // The write side's setup refuses it, so the backend still reads but adds nothing.
    expect(mine).toMatchObject({ result: 'refused', error: 'StoreAddDisabled' });
  });
});
