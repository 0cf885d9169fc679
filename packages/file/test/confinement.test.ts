/**
 * Images are flat files directly inside a data directory, judged by real paths:
 * locations reaching through a symlink, into a subdirectory, or at something
 * that is not a regular file (a symlink, a FIFO) are NotFound and left alone.
 * Everything here is real: symlinks, directories and FIFOs on the filesystem.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import {
  access,
  mkdir,
  mkdtemp,
  readFile,
  realpath,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultiStore } from '@store/core';
import { collect } from '@store/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fileDriver from '../src/index.js';

let root: string;
let datadir: string;
let outside: string;
let store: MultiStore;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'no error';
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'store-file-confine-')));
  datadir = join(root, 'images');
  outside = join(root, 'outside');
  await mkdir(join(outside, 'deep'), { recursive: true });
  await mkdir(datadir);
  await writeFile(join(outside, 'victim'), 'not an image');
  // Directory symlinks inside the data directory pointing out of it.
  await symlink(outside, join(datadir, 'link'));
  await symlink(join(outside, 'deep'), join(datadir, 'deeplink'));
  // A file symlink inside the data directory.
  await symlink(join(outside, 'victim'), join(datadir, 'alias'));
  // A real subdirectory (as lost+found on a mount root).
  await mkdir(join(datadir, 'lost+found'));
  await writeFile(join(datadir, 'lost+found', 'recovered'), 'fsck found this');
  store = await MultiStore.create(
    {
      enabledBackends: { l: 'file' },
      defaultBackend: 'l',
      backends: { l: { filesystem_store_datadir: datadir } },
    },
    { drivers: [fileDriver] },
  );
});
afterAll(async () => {
  await store?.close();
  await rm(root, { recursive: true, force: true });
});

describe('locations are judged by real paths', () => {
  it('refuses a file reached through a directory symlink, with or without ..', async () => {
    for (const uri of [
      `file://${datadir}/link/victim`,
      `file://${datadir}/deeplink/../victim`,
      `filesystem://${datadir}/link/./victim`,
    ]) {
      expect(await codeOf(store.get(uri)), `get ${uri}`).toBe('NotFound');
      expect(await codeOf(store.getSize(uri)), `getSize ${uri}`).toBe('NotFound');
      expect(await codeOf(store.delete(uri)), `delete ${uri}`).toBe('NotFound');
    }
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('not an image');
  });

  it('refuses files in a subdirectory of the data directory', async () => {
    const uri = `file://${datadir}/lost+found/recovered`;
    expect(await codeOf(store.get(uri))).toBe('NotFound');
    expect(await codeOf(store.getSize(uri))).toBe('NotFound');
    expect(await codeOf(store.delete(uri))).toBe('NotFound');
    expect(await exists(join(datadir, 'lost+found', 'recovered'))).toBe(true);
  });

  it('refuses a symlink named like an image, and the data directory itself', async () => {
    for (const uri of [
      `file://${datadir}/alias`,
      `file://${datadir}/link`,
      `file://${datadir}/lost+found`,
      `file://${datadir}/`,
      `file://${datadir}`,
      `file://${datadir}/.`,
    ]) {
      expect(await codeOf(store.get(uri)), `get ${uri}`).toBe('NotFound');
      expect(await codeOf(store.getSize(uri)), `getSize ${uri}`).toBe('NotFound');
      expect(await codeOf(store.delete(uri)), `delete ${uri}`).toBe('NotFound');
    }
    expect(await exists(join(datadir, 'alias'))).toBe(true);
    expect(await exists(join(datadir, 'link'))).toBe(true);
    expect(await exists(join(outside, 'victim'))).toBe(true);
  });

  it('still serves images by their location, and by the real path of the directory', async () => {
    const added = await store.add('flat-image', new TextEncoder().encode('bytes'), 5);
    expect(added.location).toBe(`file://${datadir}/flat-image`);
    expect(Buffer.from(await collect((await store.get(added.location)).stream)).toString()).toBe(
      'bytes',
    );
    // A ".." that stays inside the data directory names the same flat file.
    expect(await store.getSize(`file://${datadir}/lost+found/../flat-image`)).toBe(5);
    await store.delete(added.location);
    expect(await exists(join(datadir, 'flat-image'))).toBe(false);
  });

  it('works when the configured data directory is itself a symlink', async () => {
    const real = join(root, 'real-images');
    const linked = join(root, 'linked-images');
    await mkdir(real);
    await symlink(real, linked);
    const viaLink = await MultiStore.create(
      {
        enabledBackends: { l: 'file' },
        defaultBackend: 'l',
        backends: { l: { filesystem_store_datadir: linked } },
      },
      { drivers: [fileDriver] },
    );
    try {
      const added = await viaLink.add('img', new Uint8Array(3), 3);
      expect(added.location).toBe(`file://${linked}/img`);
      expect(await viaLink.getSize(added.location)).toBe(3);
      expect(await viaLink.getSize(`file://${real}/img`)).toBe(3);
      await viaLink.delete(added.location);
      expect(await exists(join(real, 'img'))).toBe(false);
    } finally {
      await viaLink.close();
    }
  });
});

describe('only regular files are images', () => {
  it('answers a get on FIFOs at once with NotFound and holds no libuv thread', async () => {
    // Four FIFOs: as many as libuv's default thread pool. A get that opened one
    // for reading without O_NONBLOCK would block a pool thread until a writer came.
    const fifos = [0, 1, 2, 3].map((i) => join(datadir, `fifo-${i}`));
    execFileSync('mkfifo', fifos);
    try {
      const outcomes = await Promise.race([
        Promise.all(fifos.map((f) => codeOf(store.get(`file://${f}`)))),
        new Promise<string[]>((resolve) => setTimeout(() => resolve(['timed out']), 3000)),
      ]);
      // NotFound from the file's type, not 'timed out' from a get blocked opening it.
      expect(outcomes).toEqual(['NotFound', 'NotFound', 'NotFound', 'NotFound']);
      // Every pool thread is free: an ordinary fs call completes.
      const fsCall = await Promise.race([
        readFile(join(outside, 'victim'), 'utf8'),
        new Promise<string>((resolve) => setTimeout(() => resolve('fs call hung'), 3000)),
      ]);
      expect(fsCall).toBe('not an image');
      for (const f of fifos) {
        expect(await codeOf(store.getSize(`file://${f}`))).toBe('NotFound');
        expect(await codeOf(store.delete(`file://${f}`))).toBe('NotFound');
        expect(await exists(f)).toBe(true);
      }
    } finally {
      // Release any reader stuck in open() (only without the fix), so the worker can exit.
      for (const f of fifos) {
        try {
          closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
        } catch {
          // ENXIO: no reader waiting, which is the expected case.
        }
      }
      await Promise.all(fifos.map((f) => rm(f, { force: true })));
    }
  });
});
